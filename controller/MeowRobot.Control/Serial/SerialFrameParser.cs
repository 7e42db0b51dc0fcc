using System.Buffers.Binary;

namespace MeowRobot.Control.Serial;

/// <summary>What a <see cref="SerialFrameParser"/> has thrown away, by kind.</summary>
/// <param name="GarbageBytes">Non-delimiter bytes that did not end up in an accepted frame.</param>
/// <param name="EncodingErrors">Blocks that are not valid COBS (a cut or corrupted frame).</param>
/// <param name="CrcMismatches">Blocks that decode but fail the CRC-32C.</param>
/// <param name="LengthErrors">Blocks too short for a frame or longer than the longest allowed.</param>
public readonly record struct SerialFrameErrors(long GarbageBytes, long EncodingErrors, long CrcMismatches, long LengthErrors)
{
    /// <summary>Rejected blocks (garbage bytes not included).</summary>
    public long Total => EncodingErrors + CrcMismatches + LengthErrors;
}

/// <summary>
/// Streaming frame parser, fed with whatever byte spans the line delivers. Bytes collect until a zero delimiter; the block
/// is then COBS-decoded, length-checked and CRC-checked. It never allocates after construction, never throws on input,
/// and holds at most one encoded frame: a block that outgrows the longest frame is discarded up to the next delimiter.
/// Because a zero can only be a delimiter, whatever precedes a valid frame (garbage, a truncated frame) cannot hide it.
/// </summary>
public sealed class SerialFrameParser
{
    private readonly byte[] _encoded = new byte[SerialFrame.MaxEncodedSize];
    private readonly byte[] _decoded = new byte[SerialFrame.MaxBodySize];
    private readonly int _maxPayload;
    private readonly int _maxEncoded;
    private int _count;          // encoded bytes of the current block
    private bool _overflow;      // the current block outgrew _maxEncoded: skip to the next delimiter
    private long _garbage, _encoding, _crc, _length, _frames, _acceptedBytes;

    /// <param name="maxPayload">Longest payload accepted (≤ 255); a longer block is rejected as soon as it outgrows it.</param>
    public SerialFrameParser(int maxPayload = SerialFrame.MaxPayload)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPayload);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxPayload, SerialFrame.MaxPayload);
        _maxPayload = maxPayload;
        var body = SerialFrame.HeaderSize + maxPayload + SerialFrame.CrcSize;
        _maxEncoded = body + (body + 253) / 254;
    }

    public long Frames => _frames;

    /// <summary>Encoded bytes of accepted frames (delimiters not included).</summary>
    public long AcceptedBytes => _acceptedBytes;

    public SerialFrameErrors Errors => new(_garbage, _encoding, _crc, _length);

    /// <summary>Bytes held while waiting for a delimiter.</summary>
    public int Buffered => _count;

    /// <summary>
    /// Consumes bytes from <paramref name="input"/> up to and including the delimiter that completes a valid frame (true;
    /// the frame lives in this parser and stays valid until the next call) or until the input runs out (false; a partial
    /// block is kept).
    /// </summary>
    public bool TryRead(ref ReadOnlySpan<byte> input, out SerialFrame frame)
    {
        while (!input.IsEmpty)
        {
            var end = input.IndexOf(SerialFrame.Delimiter);
            var chunk = end < 0 ? input : input[..end];
            Collect(chunk);
            if (end < 0)
            {
                input = default;
                break;
            }
            input = input[(end + 1)..];
            if (Complete(out frame))
                return true;
        }
        frame = default;
        return false;
    }

    /// <summary>Forgets a partial block (the line went down: what follows is unrelated).</summary>
    public void Reset()
    {
        _garbage += _count;
        _count = 0;
        _overflow = false;
    }

    private void Collect(ReadOnlySpan<byte> chunk)
    {
        if (_overflow)
        {
            _garbage += chunk.Length;
            return;
        }
        if (_count + chunk.Length > _maxEncoded)
        {
            _overflow = true;
            _length++;
            _garbage += _count + chunk.Length;
            _count = 0;
            return;
        }
        chunk.CopyTo(_encoded.AsSpan(_count));
        _count += chunk.Length;
    }

    /// <summary>A delimiter arrived: judge the block collected before it.</summary>
    private bool Complete(out SerialFrame frame)
    {
        frame = default;
        var count = _count;
        _count = 0;
        if (_overflow)
        {
            _overflow = false;
            return false;
        }
        if (count == 0)
            return false;      // back-to-back delimiters (the closing zero of one frame, the opening zero of the next)
        var decoded = Cobs.Decode(_encoded.AsSpan(0, count), _decoded);
        if (decoded < 0)
        {
            _encoding++;
            _garbage += count;
            return false;
        }
        if (decoded < SerialFrame.HeaderSize + SerialFrame.CrcSize || decoded > SerialFrame.HeaderSize + _maxPayload + SerialFrame.CrcSize)
        {
            _length++;
            _garbage += count;
            return false;
        }
        var content = decoded - SerialFrame.CrcSize;
        if (Crc32C.Compute(_decoded.AsSpan(0, content)) != BinaryPrimitives.ReadUInt32LittleEndian(_decoded.AsSpan(content)))
        {
            _crc++;
            _garbage += count;
            return false;
        }
        _frames++;
        _acceptedBytes += count;
        frame = new SerialFrame((SerialMessageType)_decoded[0], _decoded[1], _decoded.AsSpan(SerialFrame.HeaderSize, content - SerialFrame.HeaderSize));
        return true;
    }
}
