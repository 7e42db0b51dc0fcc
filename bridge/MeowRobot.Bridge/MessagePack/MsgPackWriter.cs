using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace MeowRobot.Bridge.MessagePack;

/// <summary>
/// Writes MessagePack into an <see cref="IBufferWriter{T}"/>, in the manner of Utf8JsonWriter: one call per value or
/// container header, no intermediate objects, always the shortest encoding (integers by value, not by C# type; str 8 for
/// 32..255-byte strings, as msgpack-python with use_bin_type does). Floats keep their width: <see cref="Write(float)"/>
/// emits float 32, <see cref="Write(double)"/> float 64. The writer does not check that a container receives the
/// number of values its header announced; the reader of the result will.
/// </summary>
public ref struct MsgPackWriter
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly IBufferWriter<byte> _output;

    public MsgPackWriter(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        BytesWritten = 0;
    }

    /// <summary>Bytes this writer has committed to the output.</summary>
    public long BytesWritten { get; private set; }

    public void WriteNil() => WriteByte(MsgPackCode.Nil);

    public void Write(bool value) => WriteByte(value ? MsgPackCode.True : MsgPackCode.False);

    public void Write(int value) => Write((long)value);

    public void Write(uint value) => Write((ulong)value);

    public void Write(long value)
    {
        if (value >= 0)
        {
            Write((ulong)value);
            return;
        }
        if (value >= -32) { WriteByte(unchecked((byte)(sbyte)value)); return; }
        if (value >= sbyte.MinValue) { var s = Reserve(2); s[0] = MsgPackCode.Int8; s[1] = unchecked((byte)(sbyte)value); Commit(2); return; }
        if (value >= short.MinValue) { var s = Reserve(3); s[0] = MsgPackCode.Int16; BinaryPrimitives.WriteInt16BigEndian(s[1..], (short)value); Commit(3); return; }
        if (value >= int.MinValue) { var s = Reserve(5); s[0] = MsgPackCode.Int32; BinaryPrimitives.WriteInt32BigEndian(s[1..], (int)value); Commit(5); return; }
        var l = Reserve(9); l[0] = MsgPackCode.Int64; BinaryPrimitives.WriteInt64BigEndian(l[1..], value); Commit(9);
    }

    public void Write(ulong value)
    {
        if (value <= MsgPackCode.MaxPositiveFixInt) { WriteByte((byte)value); return; }
        if (value <= byte.MaxValue) { var s = Reserve(2); s[0] = MsgPackCode.UInt8; s[1] = (byte)value; Commit(2); return; }
        if (value <= ushort.MaxValue) { var s = Reserve(3); s[0] = MsgPackCode.UInt16; BinaryPrimitives.WriteUInt16BigEndian(s[1..], (ushort)value); Commit(3); return; }
        if (value <= uint.MaxValue) { var s = Reserve(5); s[0] = MsgPackCode.UInt32; BinaryPrimitives.WriteUInt32BigEndian(s[1..], (uint)value); Commit(5); return; }
        var l = Reserve(9); l[0] = MsgPackCode.UInt64; BinaryPrimitives.WriteUInt64BigEndian(l[1..], value); Commit(9);
    }

    /// <summary>float 32.</summary>
    public void Write(float value)
    {
        var s = Reserve(5);
        s[0] = MsgPackCode.Float32;
        BinaryPrimitives.WriteSingleBigEndian(s[1..], value);
        Commit(5);
    }

    /// <summary>float 64.</summary>
    public void Write(double value)
    {
        var s = Reserve(9);
        s[0] = MsgPackCode.Float64;
        BinaryPrimitives.WriteDoubleBigEndian(s[1..], value);
        Commit(9);
    }

    /// <summary>A str from UTF-16 text. Lone surrogates throw <see cref="ArgumentException"/> rather than being replaced.</summary>
    public void Write(ReadOnlySpan<char> value)
    {
        int length;
        try { length = StrictUtf8.GetByteCount(value); }
        catch (EncoderFallbackException e) { throw new ArgumentException("string is not valid UTF-16 (lone surrogate)", nameof(value), e); }
        WriteStringHeader(length);
        var s = Reserve(length);
        StrictUtf8.GetBytes(value, s);
        Commit(length);
    }

    /// <summary>A str from text already encoded as UTF-8 (not re-validated: the caller vouches for it).</summary>
    public void WriteStringUtf8(ReadOnlySpan<byte> utf8)
    {
        WriteStringHeader(utf8.Length);
        WriteRaw(utf8);
    }

    /// <summary>A str header; the caller then writes exactly <paramref name="byteLength"/> UTF-8 bytes with <see cref="WriteRaw"/>.</summary>
    public void WriteStringHeader(int byteLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byteLength);
        if (byteLength <= 31) WriteByte((byte)(MsgPackCode.FixStr | byteLength));
        else WriteLengthHeader(MsgPackCode.Str8, (uint)byteLength, allow8: true);
    }

    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        WriteBinaryHeader(value.Length);
        WriteRaw(value);
    }

    /// <summary>A bin of little-endian float 32 values, the protocol's array encoding (no per-element headers).</summary>
    public void WriteBinary(ReadOnlySpan<float> values)
    {
        var length = checked(values.Length * sizeof(float));
        WriteBinaryHeader(length);
        var s = Reserve(length);
        if (BitConverter.IsLittleEndian)
            MemoryMarshal.AsBytes(values).CopyTo(s);
        else
            for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(s[(i * 4)..], values[i]);
        Commit(length);
    }

    /// <summary>A bin header; the caller then writes exactly <paramref name="length"/> bytes with <see cref="WriteRaw"/>.</summary>
    public void WriteBinaryHeader(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        WriteLengthHeader(MsgPackCode.Bin8, (uint)length, allow8: true);
    }

    public void WriteArrayHeader(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count <= 15) WriteByte((byte)(MsgPackCode.FixArray | count));
        else WriteLengthHeader(MsgPackCode.Array16 - 1, (uint)count, allow8: false);
    }

    public void WriteMapHeader(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count <= 15) WriteByte((byte)(MsgPackCode.FixMap | count));
        else WriteLengthHeader(MsgPackCode.Map16 - 1, (uint)count, allow8: false);
    }

    /// <summary>An ext value; fixext forms for 1, 2, 4, 8 and 16 bytes.</summary>
    public void WriteExtension(sbyte type, ReadOnlySpan<byte> data)
    {
        WriteExtensionHeader(type, data.Length);
        WriteRaw(data);
    }

    /// <summary>An ext header; the caller then writes exactly <paramref name="length"/> bytes with <see cref="WriteRaw"/>.</summary>
    public void WriteExtensionHeader(sbyte type, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        byte fix = length switch
        {
            1 => MsgPackCode.FixExt1,
            2 => MsgPackCode.FixExt2,
            4 => MsgPackCode.FixExt4,
            8 => MsgPackCode.FixExt8,
            16 => MsgPackCode.FixExt16,
            _ => 0,
        };
        if (fix != 0)
        {
            var s = Reserve(2); s[0] = fix; s[1] = unchecked((byte)type); Commit(2);
            return;
        }
        WriteLengthHeader(MsgPackCode.Ext8, (uint)length, allow8: true);
        WriteByte(unchecked((byte)type));
    }

    /// <summary>A timestamp (ext -1) in its shortest form: 32-bit when nanoseconds are 0 and seconds fit u32, 64-bit when
    /// seconds fit 34 bits, else 96-bit.</summary>
    public void Write(MsgPackTimestamp value)
    {
        var seconds = value.Seconds;
        var nanos = value.Nanoseconds;
        if ((ulong)seconds >> 34 == 0)
        {
            if (nanos == 0 && (ulong)seconds <= uint.MaxValue)
            {
                var s4 = Reserve(6); s4[0] = MsgPackCode.FixExt4; s4[1] = 0xff;
                BinaryPrimitives.WriteUInt32BigEndian(s4[2..], (uint)seconds); Commit(6);
                return;
            }
            var s8 = Reserve(10); s8[0] = MsgPackCode.FixExt8; s8[1] = 0xff;
            BinaryPrimitives.WriteUInt64BigEndian(s8[2..], ((ulong)nanos << 34) | (ulong)seconds); Commit(10);
            return;
        }
        var s = Reserve(15); s[0] = MsgPackCode.Ext8; s[1] = 12; s[2] = 0xff;
        BinaryPrimitives.WriteUInt32BigEndian(s[3..], nanos);
        BinaryPrimitives.WriteInt64BigEndian(s[7..], seconds);
        Commit(15);
    }

    public void Write(DateTimeOffset value) => Write(MsgPackTimestamp.FromDateTimeOffset(value));

    /// <summary>Bytes copied as they are: the payload after a str/bin/ext header, or an already encoded value.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        bytes.CopyTo(Reserve(bytes.Length));
        Commit(bytes.Length);
    }

    // code8 is the 8-bit form's type byte; the 16- and 32-bit forms follow it (bin, str, ext, and array/map from code8+1).
    private void WriteLengthHeader(int code8, uint length, bool allow8)
    {
        if (allow8 && length <= byte.MaxValue)
        {
            var s = Reserve(2); s[0] = (byte)code8; s[1] = (byte)length; Commit(2);
        }
        else if (length <= ushort.MaxValue)
        {
            var s = Reserve(3); s[0] = (byte)(code8 + 1); BinaryPrimitives.WriteUInt16BigEndian(s[1..], (ushort)length); Commit(3);
        }
        else
        {
            var s = Reserve(5); s[0] = (byte)(code8 + 2); BinaryPrimitives.WriteUInt32BigEndian(s[1..], length); Commit(5);
        }
    }

    private void WriteByte(byte b)
    {
        Reserve(1)[0] = b;
        Commit(1);
    }

    private readonly Span<byte> Reserve(int length) => _output.GetSpan(length)[..length];

    private void Commit(int length)
    {
        _output.Advance(length);
        BytesWritten += length;
    }
}
