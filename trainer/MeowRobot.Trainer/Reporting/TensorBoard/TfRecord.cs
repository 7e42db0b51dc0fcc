using System.Buffers.Binary;
using MeowRobot.Control.Serial;

namespace MeowRobot.Trainer.Reporting.TensorBoard;

/// <summary>
/// TFRecord framing, as TensorFlow writes event files: uint64 little-endian length, uint32 masked CRC-32C of those 8
/// bytes, the data, uint32 masked CRC-32C of the data. The mask (rotate right by 15, add 0xa282ead8) keeps a CRC of
/// data that itself holds CRCs from being degenerate.
/// </summary>
public static class TfRecord
{
    public const int HeaderBytes = 12;
    public const int FooterBytes = 4;

    public static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        var crc = Crc32C.Compute(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
    }

    public static void Write(Stream stream, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc(header[..8]));
        Span<byte> footer = stackalloc byte[FooterBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc(data));
        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
    }
}
