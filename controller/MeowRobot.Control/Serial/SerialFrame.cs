using System.Buffers;
using System.Buffers.Binary;

namespace MeowRobot.Control.Serial;

/// <summary>
/// One frame on a serial link (teleop transmitter or robot microcontroller), as laid out in docs/protocol.md:
/// <c>00 | COBS(type | sequence | payload | CRC-32C LE of type..payload) | 00</c>. COBS removes every zero byte from the
/// frame body, so a zero always marks a frame boundary: a receiver resynchronises at the next zero whatever came before
/// (garbage, a truncated frame), and no damaged frame can swallow the one after it. A frame is a view over bytes owned
/// by whoever produced it (the parser's buffer), valid until that owner moves on.
/// </summary>
public readonly ref struct SerialFrame
{
    public const byte Delimiter = 0x00;
    public const int MaxPayload = 255;
    /// <summary>Type + sequence before the payload.</summary>
    public const int HeaderSize = 2;
    public const int CrcSize = 4;
    /// <summary>Longest frame body before COBS (type, sequence, payload, CRC).</summary>
    public const int MaxBodySize = HeaderSize + MaxPayload + CrcSize;
    /// <summary>Longest COBS-encoded body: one code byte per started run of 254 bytes.</summary>
    public const int MaxEncodedSize = MaxBodySize + (MaxBodySize + 253) / 254;
    /// <summary>Longest frame on the wire, delimiters included.</summary>
    public const int MaxFrameSize = MaxEncodedSize + 2;

    /// <summary>Where <see cref="PayloadArea"/> starts inside a frame buffer (past the room the header needs).</summary>
    private const int PayloadOffset = 8;

    public SerialFrame(SerialMessageType type, byte sequence, ReadOnlySpan<byte> payload)
    {
        Type = type;
        Sequence = sequence;
        Payload = payload;
    }

    public SerialMessageType Type { get; }
    public byte Sequence { get; }
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>
    /// Where to put the payload before <see cref="Seal"/>, so a message encodes straight into the frame buffer
    /// (which must hold <see cref="MaxFrameSize"/> bytes).
    /// </summary>
    public static Span<byte> PayloadArea(Span<byte> frame) => frame.Slice(PayloadOffset, MaxPayload);

    /// <summary>Turns a payload already placed at <see cref="PayloadArea"/> into a whole frame at the start of
    /// <paramref name="frame"/>; returns the frame length.</summary>
    public static int Seal(Span<byte> frame, SerialMessageType type, byte sequence, int payloadLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadLength, MaxPayload);
        if (frame.Length < MaxFrameSize)
            throw new ArgumentException($"a frame buffer must hold {MaxFrameSize} bytes, this one holds {frame.Length}", nameof(frame));
        Span<byte> body = stackalloc byte[MaxBodySize];
        body[0] = (byte)type;
        body[1] = sequence;
        frame.Slice(PayloadOffset, payloadLength).CopyTo(body[HeaderSize..]);
        var length = HeaderSize + payloadLength;
        BinaryPrimitives.WriteUInt32LittleEndian(body[length..], Crc32C.Compute(body[..length]));
        length += CrcSize;
        frame[0] = Delimiter;
        var encoded = Cobs.Encode(body[..length], frame[1..]);
        frame[1 + encoded] = Delimiter;
        return encoded + 2;
    }

    /// <summary>Writes a whole frame into <paramref name="frame"/> (at least <see cref="MaxFrameSize"/> bytes); returns its length.</summary>
    public static int Write(Span<byte> frame, SerialMessageType type, byte sequence, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload)
            throw new ArgumentException($"payload of {payload.Length} bytes exceeds {MaxPayload}", nameof(payload));
        if (frame.Length < MaxFrameSize)
            throw new ArgumentException($"a frame buffer must hold {MaxFrameSize} bytes, this one holds {frame.Length}", nameof(frame));
        payload.CopyTo(PayloadArea(frame));
        return Seal(frame, type, sequence, payload.Length);
    }

    /// <summary>Appends a whole frame to <paramref name="writer"/>.</summary>
    public static void Write(IBufferWriter<byte> writer, SerialMessageType type, byte sequence, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Advance(Write(writer.GetSpan(MaxFrameSize), type, sequence, payload));
    }
}

/// <summary>Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999): a zero-free encoding of any byte string.</summary>
internal static class Cobs
{
    /// <summary>Encodes <paramref name="source"/> into <paramref name="destination"/>; returns the encoded length
    /// (at most <c>n + ⌈n/254⌉ + 1</c>).</summary>
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var o = 0;
        while (true)
        {
            // One zero-terminated segment (the last one ends with the input) at a time, copied in bulk.
            var run = source.IndexOf((byte)0);
            var last = run < 0;
            if (last)
                run = source.Length;
            while (run >= 254)
            {
                destination[o++] = 0xFF;
                source[..254].CopyTo(destination[o..]);
                o += 254;
                source = source[254..];
                run -= 254;
                if (last && run == 0)
                    return o;       // a full block at the very end needs no empty block after it
            }
            destination[o++] = (byte)(run + 1);
            source[..run].CopyTo(destination[o..]);
            o += run;
            if (last)
                return o;
            source = source[(run + 1)..];
        }
    }

    /// <summary>Decodes a zero-free block into <paramref name="destination"/>; returns the decoded length, or -1 when a code
    /// byte points past the end (the block was cut or corrupted).</summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var i = 0;
        var o = 0;
        while (i < source.Length)
        {
            var code = source[i++];
            var run = code - 1;
            if (code == 0 || i + run > source.Length || o + run > destination.Length)
                return -1;
            source.Slice(i, run).CopyTo(destination[o..]);
            i += run;
            o += run;
            if (code != 0xFF && i < source.Length)
            {
                if (o >= destination.Length)
                    return -1;
                destination[o++] = 0;
            }
        }
        return o;
    }
}
