using System.Buffers.Binary;
using System.Text;

namespace MeowRobot.Trainer.Reporting.TensorBoard;

/// <summary>
/// Writes protobuf wire format into a span, in the manner of the MessagePack writer: one call per field, no message
/// objects. Only what event files need: varints, fixed 32/64, length-delimited bytes and strings, and nested messages
/// (<see cref="BeginMessage"/> reserves the longest length prefix, <see cref="EndMessage"/> writes the real one and moves
/// the body back, so the output is the canonical encoding). A write past the span's end sets <see cref="Overflowed"/>
/// and writes nothing more: the caller retries with a larger span.
/// </summary>
public ref struct ProtoWriter(Span<byte> buffer)
{
    private const int MaxLengthPrefix = 5;
    private readonly Span<byte> _buffer = buffer;

    public int Written { get; private set; }

    public bool Overflowed { get; private set; }

    public readonly ReadOnlySpan<byte> WrittenSpan => _buffer[..Written];

    public void Varint(int field, ulong value)
    {
        Tag(field, WireType.Varint);
        Varint(value);
    }

    /// <summary>int32/int64 fields: negative values take ten bytes, as in every protobuf implementation.</summary>
    public void Int64(int field, long value) => Varint(field, unchecked((ulong)value));

    public void Bool(int field, bool value) => Varint(field, value ? 1UL : 0UL);

    public void Double(int field, double value)
    {
        Tag(field, WireType.Fixed64);
        if (Reserve(8) is { } at) BinaryPrimitives.WriteDoubleLittleEndian(_buffer.Slice(at, 8), value);
    }

    public void Float(int field, float value)
    {
        Tag(field, WireType.Fixed32);
        if (Reserve(4) is { } at) BinaryPrimitives.WriteSingleLittleEndian(_buffer.Slice(at, 4), value);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, WireType.Length);
        Varint((ulong)value.Length);
        if (Reserve(value.Length) is { } at) value.CopyTo(_buffer[at..]);
    }

    /// <summary>A string field (UTF-8; lone surrogates become U+FFFD, as protobuf requires valid UTF-8).</summary>
    public void String(int field, ReadOnlySpan<char> value)
    {
        Tag(field, WireType.Length);
        var length = Encoding.UTF8.GetByteCount(value);
        Varint((ulong)length);
        if (Reserve(length) is { } at) Encoding.UTF8.GetBytes(value, _buffer.Slice(at, length));
    }

    /// <summary>Packed repeated float (one length-delimited field).</summary>
    public void PackedFloats(int field, ReadOnlySpan<float> values)
    {
        Tag(field, WireType.Length);
        Varint((ulong)(values.Length * 4));
        if (Reserve(values.Length * 4) is not { } at) return;
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(_buffer.Slice(at + 4 * i, 4), values[i]);
    }

    /// <summary>Starts a nested message field; returns the mark to pass to <see cref="EndMessage"/>.</summary>
    public int BeginMessage(int field)
    {
        Tag(field, WireType.Length);
        var mark = Written;
        Reserve(MaxLengthPrefix);
        return mark;
    }

    public void EndMessage(int mark)
    {
        if (Overflowed) return;
        var bodyStart = mark + MaxLengthPrefix;
        var length = Written - bodyStart;
        Span<byte> prefix = stackalloc byte[MaxLengthPrefix];
        var n = EncodeVarint(prefix, (ulong)length);
        // Span.CopyTo is a memmove: the overlapping move back is safe.
        _buffer.Slice(bodyStart, length).CopyTo(_buffer[(mark + n)..]);
        prefix[..n].CopyTo(_buffer[mark..]);
        Written = mark + n + length;
    }

    private void Tag(int field, WireType type) => Varint(((ulong)(uint)field << 3) | (ulong)type);

    private void Varint(ulong value)
    {
        Span<byte> bytes = stackalloc byte[10];
        var n = EncodeVarint(bytes, value);
        if (Reserve(n) is { } at) bytes[..n].CopyTo(_buffer[at..]);
    }

    private static int EncodeVarint(Span<byte> into, ulong value)
    {
        var n = 0;
        while (value >= 0x80)
        {
            into[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        into[n++] = (byte)value;
        return n;
    }

    private int? Reserve(int count)
    {
        if (Overflowed || _buffer.Length - Written < count)
        {
            Overflowed = true;
            return null;
        }
        var at = Written;
        Written += count;
        return at;
    }

    private enum WireType
    {
        Varint = 0,
        Fixed64 = 1,
        Length = 2,
        Fixed32 = 5,
    }
}
