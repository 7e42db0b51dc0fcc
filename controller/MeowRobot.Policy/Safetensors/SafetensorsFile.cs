using System.Runtime.InteropServices;

namespace MeowRobot.Policy.Safetensors;

/// <summary>A whole safetensors file in memory with its validated header.</summary>
public sealed class SafetensorsFile
{
    private SafetensorsFile(ReadOnlyMemory<byte> bytes, SafetensorsHeader header)
    {
        Bytes = bytes;
        Header = header;
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    public SafetensorsHeader Header { get; }

    /// <exception cref="SafetensorsException">The bytes are not a valid safetensors file.</exception>
    public static SafetensorsFile Parse(ReadOnlyMemory<byte> bytes) => new(bytes, SafetensorsHeader.Parse(bytes.Span));

    /// <summary>Reads and validates a file, refusing (before reading) one larger than <paramref name="maxBytes"/>.</summary>
    /// <exception cref="SafetensorsException">Too large or invalid.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static SafetensorsFile Read(string path, long maxBytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        if (stream.Length > maxBytes)
            throw new SafetensorsException(SafetensorsError.FileTooLarge, $"{path} is {stream.Length} bytes, over the {maxBytes}-byte cap");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return Parse(bytes);
    }

    /// <summary>The raw little-endian bytes of a tensor.</summary>
    public ReadOnlySpan<byte> Data(SafetensorsTensorInfo tensor) =>
        Bytes.Span.Slice(checked((int)(Header.DataStart + tensor.Begin)), checked((int)tensor.ByteLength));

    /// <summary>A copy of an F32 tensor's values (row-major).</summary>
    /// <exception cref="SafetensorsException">No such tensor, or it is not F32.</exception>
    public float[] ReadF32(string name)
    {
        var t = Header[name];
        if (t.Dtype != SafetensorsDtype.F32)
            throw new SafetensorsException(SafetensorsError.WrongDtype, $"tensor '{name}' is {t.Dtype}, not F32");
        var bytes = Data(t);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
