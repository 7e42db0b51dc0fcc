namespace MeowRobot.Bridge.Zmq;

/// <summary>Z85 (ZeroMQ RFC 32): 4 bytes as 5 printable characters, the text form of CURVE keys.</summary>
public static class Z85
{
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

    private static readonly sbyte[] Values = BuildValues();

    private static sbyte[] BuildValues()
    {
        var values = new sbyte[128];
        Array.Fill(values, (sbyte)-1);
        for (var i = 0; i < Alphabet.Length; i++) values[Alphabet[i]] = (sbyte)i;
        return values;
    }

    /// <summary>Encodes <paramref name="data"/>, whose length must be a multiple of 4.</summary>
    public static string Encode(ReadOnlySpan<byte> data)
    {
        if (data.Length % 4 != 0) throw new ArgumentException("Z85 encodes a multiple of 4 bytes", nameof(data));
        Span<char> text = data.Length <= 256 ? stackalloc char[data.Length / 4 * 5] : new char[data.Length / 4 * 5];
        for (int i = 0, o = 0; i < data.Length; i += 4, o += 5)
        {
            var value = (uint)(data[i] << 24 | data[i + 1] << 16 | data[i + 2] << 8 | data[i + 3]);
            for (var k = 4; k >= 0; k--)
            {
                text[o + k] = Alphabet[(int)(value % 85)];
                value /= 85;
            }
        }
        return new string(text);
    }

    /// <summary>Decodes Z85 text (length a multiple of 5) into <paramref name="destination"/>; false on a bad length,
    /// character, or a group above 2^32-1.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        if (text.Length % 5 != 0 || destination.Length < text.Length / 5 * 4) return false;
        for (int i = 0, o = 0; i < text.Length; i += 5, o += 4)
        {
            ulong value = 0;
            for (var k = 0; k < 5; k++)
            {
                var c = text[i + k];
                var v = c < 128 ? Values[c] : -1;
                if (v < 0) return false;
                value = value * 85 + (ulong)v;
            }
            if (value > uint.MaxValue) return false;
            destination[o] = (byte)(value >> 24);
            destination[o + 1] = (byte)(value >> 16);
            destination[o + 2] = (byte)(value >> 8);
            destination[o + 3] = (byte)value;
        }
        written = text.Length / 5 * 4;
        return true;
    }

    /// <summary>Decodes Z85 text; <see cref="FormatException"/> when it is not valid Z85.</summary>
    public static byte[] Decode(ReadOnlySpan<char> text)
    {
        var bytes = new byte[text.Length / 5 * 4];
        return TryDecode(text, bytes, out _) ? bytes : throw new FormatException("not valid Z85 text (length a multiple of 5, characters from the Z85 alphabet)");
    }
}
