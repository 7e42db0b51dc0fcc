using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;

namespace MeowRobot.Bridge.MessagePack;

/// <summary>
/// Reads MessagePack from a span, in the manner of Utf8JsonReader: the caller pulls one value or container header at a
/// time. <c>TryReadX</c> returns false, consuming nothing, when the next value is of another type; <c>ReadX</c> throws
/// <see cref="MsgPackException"/> (<see cref="MsgPackErrorKind.TypeMismatch"/>) instead. Malformed input always throws
/// <see cref="MsgPackException"/> with the offset of the offending value, never anything else, and nothing is allocated
/// except the strings <see cref="ReadString"/> returns: str/bin/ext payloads come back as slices of the input.
/// <para>Defences: every length prefix is checked against the bytes that remain before it is used (an array of n values
/// needs at least n bytes, a map 2n); <see cref="Skip"/> and <see cref="ValidateSingleValue"/> walk without recursion
/// and reject nesting deeper than <see cref="MsgPackReaderOptions.MaxDepth"/>; a recursive consumer brackets each
/// container with <see cref="EnterContainer"/>/<see cref="ExitContainer"/> so the same limit holds for it.</para>
/// <para>Duplicate map keys are not the reader's business (it does not know which maps are keyed by what): protocol
/// decoders must reject them, using <see cref="ReadUniqueKey"/> with a <see cref="MsgPackKeySet"/>.</para>
/// </summary>
public ref struct MsgPackReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _buffer;
    private readonly int _maxDepth;
    private int _position;
    private int _depth;

    public MsgPackReader(ReadOnlySpan<byte> buffer, MsgPackReaderOptions options = default)
    {
        _buffer = buffer;
        _maxDepth = options.MaxDepth;
        _position = 0;
        _depth = 0;
    }

    /// <summary>Offset of the next value from the start of the buffer.</summary>
    public readonly int Position => _position;

    /// <summary>Bytes not yet read.</summary>
    public readonly int Remaining => _buffer.Length - _position;

    public readonly bool End => _position >= _buffer.Length;

    /// <summary>The whole buffer the reader was created over (offsets in exceptions and <see cref="Position"/> index it).</summary>
    public readonly ReadOnlySpan<byte> Buffer => _buffer;

    /// <summary>Containers currently entered with <see cref="EnterContainer"/>.</summary>
    public readonly int Depth => _depth;

    /// <summary>The type of the next value, without consuming it.</summary>
    /// <exception cref="MsgPackException">at the end of the input, or on 0xc1</exception>
    public readonly MsgPackType PeekType() => TypeOf(PeekCode());

    // ---- scalars -------------------------------------------------------------------------------------------------

    public bool TryReadNil()
    {
        if (PeekCode() != MsgPackCode.Nil) return false;
        _position++;
        return true;
    }

    public void ReadNil()
    {
        if (!TryReadNil()) throw Mismatch("nil");
    }

    public bool TryReadBoolean(out bool value)
    {
        var code = PeekCode();
        value = code == MsgPackCode.True;
        if (code != MsgPackCode.True && code != MsgPackCode.False) return false;
        _position++;
        return true;
    }

    public bool ReadBoolean() => TryReadBoolean(out var v) ? v : throw Mismatch("bool");

    /// <summary>Any integer form. A uint 64 above <see cref="long.MaxValue"/> throws <see cref="MsgPackErrorKind.IntegerOverflow"/>.</summary>
    public bool TryReadInt64(out long value)
    {
        var start = _position;
        if (!TryReadIntegerCore(out value, out var isUnsignedHigh)) return false;
        if (isUnsignedHigh) { _position = start; throw Error(MsgPackErrorKind.IntegerOverflow, start, "integer above Int64.MaxValue"); }
        return true;
    }

    public long ReadInt64() => TryReadInt64(out var v) ? v : throw Mismatch("integer");

    /// <summary>Any integer form; a negative value throws <see cref="MsgPackErrorKind.IntegerOverflow"/>.</summary>
    public bool TryReadUInt64(out ulong value)
    {
        var start = _position;
        if (!TryReadIntegerCore(out var raw, out var isUnsignedHigh)) { value = 0; return false; }
        if (!isUnsignedHigh && raw < 0) { _position = start; throw Error(MsgPackErrorKind.IntegerOverflow, start, "negative integer where unsigned expected"); }
        value = unchecked((ulong)raw);
        return true;
    }

    public ulong ReadUInt64() => TryReadUInt64(out var v) ? v : throw Mismatch("integer");

    public bool TryReadInt32(out int value)
    {
        var start = _position;
        if (!TryReadInt64(out var wide)) { value = 0; return false; }
        if (wide is < int.MinValue or > int.MaxValue) { _position = start; throw Error(MsgPackErrorKind.IntegerOverflow, start, $"{wide} does not fit Int32"); }
        value = (int)wide;
        return true;
    }

    public int ReadInt32() => TryReadInt32(out var v) ? v : throw Mismatch("integer");

    /// <summary>float 64, float 32 (widened exactly) or an integer (converted, rounding above 2^53).</summary>
    public bool TryReadDouble(out double value)
    {
        var code = PeekCode();
        switch (code)
        {
            case MsgPackCode.Float64: value = BinaryPrimitives.ReadDoubleBigEndian(Take(9)[1..]); return true;
            case MsgPackCode.Float32: value = BinaryPrimitives.ReadSingleBigEndian(Take(5)[1..]); return true;
        }
        if (TypeOf(code) != MsgPackType.Integer) { value = 0; return false; }
        TryReadIntegerCore(out var raw, out var isUnsignedHigh);
        value = isUnsignedHigh ? unchecked((ulong)raw) : raw;
        return true;
    }

    public double ReadDouble() => TryReadDouble(out var v) ? v : throw Mismatch("number");

    /// <summary>float 32, float 64 (rounded to nearest) or an integer (converted).</summary>
    public bool TryReadSingle(out float value)
    {
        if (PeekCode() == MsgPackCode.Float32) { value = BinaryPrimitives.ReadSingleBigEndian(Take(5)[1..]); return true; }
        var ok = TryReadDouble(out var d);
        value = (float)d;
        return ok;
    }

    public float ReadSingle() => TryReadSingle(out var v) ? v : throw Mismatch("number");

    // ---- str / bin -----------------------------------------------------------------------------------------------

    /// <summary>A str as its raw UTF-8 bytes (a slice of the input; not validated: compare it, or decode it with
    /// <see cref="ReadString"/> which does).</summary>
    public bool TryReadStringSpan(out ReadOnlySpan<byte> utf8)
    {
        var h = PeekHeader();
        if (h.Type != MsgPackType.String) { utf8 = default; return false; }
        utf8 = TakePayload(h);
        return true;
    }

    public ReadOnlySpan<byte> ReadStringSpan() => TryReadStringSpan(out var s) ? s : throw Mismatch("str");

    /// <summary>A str decoded to a string; invalid UTF-8 throws <see cref="MsgPackErrorKind.InvalidUtf8"/>.</summary>
    public bool TryReadString(out string value)
    {
        var start = _position;
        if (!TryReadStringSpan(out var utf8)) { value = ""; return false; }
        try
        {
            value = StrictUtf8.GetString(utf8);
        }
        catch (DecoderFallbackException)
        {
            _position = start;
            throw Error(MsgPackErrorKind.InvalidUtf8, start, "str is not valid UTF-8");
        }
        return true;
    }

    public string ReadString() => TryReadString(out var s) ? s : throw Mismatch("str");

    /// <summary>A bin payload (a slice of the input).</summary>
    public bool TryReadBinary(out ReadOnlySpan<byte> value)
    {
        var h = PeekHeader();
        if (h.Type != MsgPackType.Binary) { value = default; return false; }
        value = TakePayload(h);
        return true;
    }

    public ReadOnlySpan<byte> ReadBinary() => TryReadBinary(out var b) ? b : throw Mismatch("bin");

    /// <summary>A bin of little-endian float 32 values (the protocol's array encoding) copied into
    /// <paramref name="destination"/>; returns how many. A length that is not a multiple of 4 or exceeds the destination
    /// throws <see cref="MsgPackErrorKind.InvalidPackedLength"/>.</summary>
    public int ReadBinary(Span<float> destination)
    {
        var start = _position;
        var bytes = ReadBinary();
        if (bytes.Length % sizeof(float) != 0 || bytes.Length / sizeof(float) > destination.Length)
        {
            _position = start;
            throw Error(MsgPackErrorKind.InvalidPackedLength, start,
                $"bin of {bytes.Length} bytes is not a float32 array of at most {destination.Length} elements");
        }
        var count = bytes.Length / sizeof(float);
        if (BitConverter.IsLittleEndian)
            bytes.CopyTo(MemoryMarshal.AsBytes(destination));
        else
            for (var i = 0; i < count; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
        return count;
    }

    // ---- containers ----------------------------------------------------------------------------------------------

    /// <summary>An array header: the number of values that follow (checked: at most one per remaining byte).</summary>
    public bool TryReadArrayHeader(out int count)
    {
        var h = PeekHeader();
        if (h.Type != MsgPackType.Array) { count = 0; return false; }
        _position += h.HeaderSize;
        count = (int)h.Length;
        return true;
    }

    public int ReadArrayHeader() => TryReadArrayHeader(out var n) ? n : throw Mismatch("array");

    /// <summary>A map header: the number of key/value pairs that follow (checked: two bytes at least per pair).</summary>
    public bool TryReadMapHeader(out int count)
    {
        var h = PeekHeader();
        if (h.Type != MsgPackType.Map) { count = 0; return false; }
        _position += h.HeaderSize;
        count = (int)h.Length;
        return true;
    }

    public int ReadMapHeader() => TryReadMapHeader(out var n) ? n : throw Mismatch("map");

    /// <summary>Reads a map key that must be a str and must not repeat a key already in <paramref name="seen"/> (one set
    /// per map). Duplicates throw <see cref="MsgPackErrorKind.DuplicateKey"/>.</summary>
    public ReadOnlySpan<byte> ReadUniqueKey(ref MsgPackKeySet seen)
    {
        var start = _position;
        var key = ReadStringSpan();
        if (!seen.TryAdd(_buffer, _position - key.Length, key.Length))
        {
            _position = start;
            throw Error(MsgPackErrorKind.DuplicateKey, start, $"duplicate map key \"{Encoding.UTF8.GetString(key)}\"");
        }
        return key;
    }

    /// <summary>For recursive consumers: call on entering each array/map; throws <see cref="MsgPackErrorKind.DepthExceeded"/>
    /// beyond <see cref="MsgPackReaderOptions.MaxDepth"/>. Pair with <see cref="ExitContainer"/>.</summary>
    public void EnterContainer()
    {
        if (_depth >= _maxDepth) throw Error(MsgPackErrorKind.DepthExceeded, _position, $"nesting deeper than {_maxDepth}");
        _depth++;
    }

    public void ExitContainer()
    {
        if (_depth == 0) throw new InvalidOperationException("ExitContainer without EnterContainer");
        _depth--;
    }

    // ---- ext -----------------------------------------------------------------------------------------------------

    /// <summary>Any ext or fixext (the timestamp included): its type and payload (a slice of the input).</summary>
    public bool TryReadExtension(out sbyte type, out ReadOnlySpan<byte> data)
    {
        var h = PeekHeader();
        if (h.Type != MsgPackType.Extension) { type = 0; data = default; return false; }
        type = h.ExtType;
        data = TakePayload(h);
        return true;
    }

    public ReadOnlySpan<byte> ReadExtension(out sbyte type) => TryReadExtension(out type, out var d) ? d : throw Mismatch("ext");

    /// <summary>An ext -1 timestamp in any of its three forms. Other values (other ext types included) return false.
    /// A malformed timestamp throws <see cref="MsgPackErrorKind.InvalidTimestamp"/>.</summary>
    public bool TryReadTimestamp(out MsgPackTimestamp value)
    {
        var h = PeekHeader();
        if (h.Type != MsgPackType.Extension || h.ExtType != MsgPackTimestamp.ExtensionType) { value = default; return false; }
        var start = _position;
        var data = TakePayload(h);
        if (!TryDecodeTimestamp(data, out value))
        {
            _position = start;
            throw Error(MsgPackErrorKind.InvalidTimestamp, start, $"timestamp of {data.Length} bytes or nanoseconds above 999999999");
        }
        return true;
    }

    public MsgPackTimestamp ReadTimestamp() => TryReadTimestamp(out var t) ? t : throw Mismatch("timestamp");

    // ---- whole values --------------------------------------------------------------------------------------------

    /// <summary>Skips the next value, containers included, without recursion; enforces the depth limit.</summary>
    public void Skip() => Walk(validate: false);

    /// <summary>Reads the next value as its encoded bytes (a slice of the input), e.g. to forward it unchanged.</summary>
    public ReadOnlySpan<byte> ReadRaw()
    {
        var start = _position;
        Skip();
        return _buffer[start.._position];
    }

    /// <summary>Throws <see cref="MsgPackException"/> unless <paramref name="buffer"/> is exactly one well-formed value:
    /// depth within the limit, every str valid UTF-8, every timestamp valid, no trailing bytes. Allocates nothing on
    /// success.</summary>
    public static void ValidateSingleValue(ReadOnlySpan<byte> buffer, MsgPackReaderOptions options = default)
    {
        var reader = new MsgPackReader(buffer, options);
        reader.Walk(validate: true);
        if (!reader.End)
            throw Error(MsgPackErrorKind.TrailingBytes, reader._position, $"{reader.Remaining} bytes after the value");
    }

    /// <summary><see cref="ValidateSingleValue"/> as a test.</summary>
    public static bool IsSingleValue(ReadOnlySpan<byte> buffer, MsgPackReaderOptions options = default)
    {
        try
        {
            ValidateSingleValue(buffer, options);
            return true;
        }
        catch (MsgPackException)
        {
            return false;
        }
    }

    private void Walk(bool validate)
    {
        // unread[i]: values of the i-th open container not yet started. Their sum never exceeds the remaining bytes
        // (each value takes at least one), which bounds the walk by the input size whatever the headers claim.
        Span<uint> unread = stackalloc uint[_maxDepth];
        var open = 0;
        long unreadTotal = 0;
        while (true)
        {
            if (open > 0) { unread[open - 1]--; unreadTotal--; }
            var start = _position;
            var h = PeekHeader();
            if (h.Type is MsgPackType.Array or MsgPackType.Map)
            {
                if (_depth + open >= _maxDepth) throw Error(MsgPackErrorKind.DepthExceeded, start, $"nesting deeper than {_maxDepth}");
                _position += h.HeaderSize;
                var values = h.Type == MsgPackType.Map ? h.Length * 2 : h.Length;
                if (values > 0)
                {
                    unreadTotal += values;
                    if (unreadTotal > Remaining)
                        throw Error(MsgPackErrorKind.LengthExceedsInput, start, $"{unreadTotal} values announced, {Remaining} bytes remain");
                    unread[open++] = values;
                    continue;
                }
            }
            else
            {
                var payload = TakePayload(h);
                if (validate) Validate(h, payload, start);
            }
            while (open > 0 && unread[open - 1] == 0) open--; // close the containers this value completed
            if (open == 0) return;
        }
    }

    private static void Validate(in Header h, ReadOnlySpan<byte> payload, int start)
    {
        if (h.Type == MsgPackType.String && !Utf8.IsValid(payload))
            throw Error(MsgPackErrorKind.InvalidUtf8, start, "str is not valid UTF-8");
        if (h.Type == MsgPackType.Extension && h.ExtType == MsgPackTimestamp.ExtensionType && !TryDecodeTimestamp(payload, out _))
            throw Error(MsgPackErrorKind.InvalidTimestamp, start, $"timestamp of {payload.Length} bytes or nanoseconds above 999999999");
    }

    private static bool TryDecodeTimestamp(ReadOnlySpan<byte> data, out MsgPackTimestamp value)
    {
        value = default;
        long seconds;
        uint nanos;
        switch (data.Length)
        {
            case 4:
                seconds = BinaryPrimitives.ReadUInt32BigEndian(data);
                nanos = 0;
                break;
            case 8:
                var packed = BinaryPrimitives.ReadUInt64BigEndian(data);
                nanos = (uint)(packed >> 34);
                seconds = (long)(packed & 0x3_FFFF_FFFFUL);
                break;
            case 12:
                nanos = BinaryPrimitives.ReadUInt32BigEndian(data);
                seconds = BinaryPrimitives.ReadInt64BigEndian(data[4..]);
                break;
            default:
                return false;
        }
        if (nanos > MsgPackTimestamp.MaxNanoseconds) return false;
        value = new MsgPackTimestamp(seconds, nanos);
        return true;
    }

    // ---- format table --------------------------------------------------------------------------------------------

    private readonly struct Header(MsgPackType type, int headerSize, uint length, sbyte extType = 0)
    {
        public readonly MsgPackType Type = type;
        /// <summary>Bytes before the payload (type byte, length, ext type).</summary>
        public readonly int HeaderSize = headerSize;
        /// <summary>Payload bytes (scalars, str, bin, ext) or element count (array: values, map: pairs).</summary>
        public readonly uint Length = length;
        public readonly sbyte ExtType = extType;
    }

    private readonly byte PeekCode()
    {
        if (_position >= _buffer.Length) throw Error(MsgPackErrorKind.EndOfData, _position, "expected a value");
        var code = _buffer[_position];
        if (code == MsgPackCode.NeverUsed) throw Error(MsgPackErrorKind.InvalidCode, _position, "0xc1 is never used");
        return code;
    }

    private static MsgPackType TypeOf(byte code) => code switch
    {
        <= MsgPackCode.MaxPositiveFixInt => MsgPackType.Integer,
        <= 0x8f => MsgPackType.Map,
        <= 0x9f => MsgPackType.Array,
        <= 0xbf => MsgPackType.String,
        MsgPackCode.Nil => MsgPackType.Nil,
        MsgPackCode.False or MsgPackCode.True => MsgPackType.Boolean,
        >= MsgPackCode.Bin8 and <= MsgPackCode.Bin32 => MsgPackType.Binary,
        >= MsgPackCode.Ext8 and <= MsgPackCode.Ext32 => MsgPackType.Extension,
        MsgPackCode.Float32 or MsgPackCode.Float64 => MsgPackType.Float,
        >= MsgPackCode.UInt8 and <= MsgPackCode.Int64 => MsgPackType.Integer,
        >= MsgPackCode.FixExt1 and <= MsgPackCode.FixExt16 => MsgPackType.Extension,
        >= MsgPackCode.Str8 and <= MsgPackCode.Str32 => MsgPackType.String,
        >= MsgPackCode.Array16 and <= MsgPackCode.Array32 => MsgPackType.Array,
        >= MsgPackCode.Map16 and <= MsgPackCode.Map32 => MsgPackType.Map,
        _ => MsgPackType.Integer, // negative fixint (0xc1 is rejected before this)
    };

    /// <summary>Decodes the header at the current position and checks that the header, and for str/bin/ext the
    /// payload, and for array/map the minimal size of the elements, fit in what remains.</summary>
    private readonly Header PeekHeader()
    {
        var code = PeekCode();
        var h = code switch
        {
            <= MsgPackCode.MaxPositiveFixInt or >= MsgPackCode.MinNegativeFixInt => new Header(MsgPackType.Integer, 1, 0),
            <= 0x8f => new Header(MsgPackType.Map, 1, (uint)(code & 0x0f)),
            <= 0x9f => new Header(MsgPackType.Array, 1, (uint)(code & 0x0f)),
            <= 0xbf => new Header(MsgPackType.String, 1, (uint)(code & 0x1f)),
            MsgPackCode.Nil => new Header(MsgPackType.Nil, 1, 0),
            MsgPackCode.False or MsgPackCode.True => new Header(MsgPackType.Boolean, 1, 0),
            MsgPackCode.Bin8 => new Header(MsgPackType.Binary, 2, LengthAt(1)),
            MsgPackCode.Bin16 => new Header(MsgPackType.Binary, 3, LengthAt(2)),
            MsgPackCode.Bin32 => new Header(MsgPackType.Binary, 5, LengthAt(4)),
            MsgPackCode.Ext8 => new Header(MsgPackType.Extension, 3, LengthAt(1), ExtTypeAt(2)),
            MsgPackCode.Ext16 => new Header(MsgPackType.Extension, 4, LengthAt(2), ExtTypeAt(3)),
            MsgPackCode.Ext32 => new Header(MsgPackType.Extension, 6, LengthAt(4), ExtTypeAt(5)),
            MsgPackCode.Float32 => new Header(MsgPackType.Float, 1, 4),
            MsgPackCode.Float64 => new Header(MsgPackType.Float, 1, 8),
            MsgPackCode.UInt8 or MsgPackCode.Int8 => new Header(MsgPackType.Integer, 1, 1),
            MsgPackCode.UInt16 or MsgPackCode.Int16 => new Header(MsgPackType.Integer, 1, 2),
            MsgPackCode.UInt32 or MsgPackCode.Int32 => new Header(MsgPackType.Integer, 1, 4),
            MsgPackCode.UInt64 or MsgPackCode.Int64 => new Header(MsgPackType.Integer, 1, 8),
            MsgPackCode.FixExt1 => new Header(MsgPackType.Extension, 2, 1, ExtTypeAt(1)),
            MsgPackCode.FixExt2 => new Header(MsgPackType.Extension, 2, 2, ExtTypeAt(1)),
            MsgPackCode.FixExt4 => new Header(MsgPackType.Extension, 2, 4, ExtTypeAt(1)),
            MsgPackCode.FixExt8 => new Header(MsgPackType.Extension, 2, 8, ExtTypeAt(1)),
            MsgPackCode.FixExt16 => new Header(MsgPackType.Extension, 2, 16, ExtTypeAt(1)),
            MsgPackCode.Str8 => new Header(MsgPackType.String, 2, LengthAt(1)),
            MsgPackCode.Str16 => new Header(MsgPackType.String, 3, LengthAt(2)),
            MsgPackCode.Str32 => new Header(MsgPackType.String, 5, LengthAt(4)),
            MsgPackCode.Array16 => new Header(MsgPackType.Array, 3, LengthAt(2)),
            MsgPackCode.Array32 => new Header(MsgPackType.Array, 5, LengthAt(4)),
            MsgPackCode.Map16 => new Header(MsgPackType.Map, 3, LengthAt(2)),
            _ /* Map32 */ => new Header(MsgPackType.Map, 5, LengthAt(4)),
        };
        var after = (ulong)(Remaining - h.HeaderSize);
        var needed = h.Type switch
        {
            MsgPackType.Array => h.Length,
            MsgPackType.Map => 2UL * h.Length,
            _ => h.Length,
        };
        if (needed > after)
        {
            var kind = h.Type is MsgPackType.Integer or MsgPackType.Float ? MsgPackErrorKind.EndOfData : MsgPackErrorKind.LengthExceedsInput;
            throw Error(kind, _position, $"{h.Type} needs {needed} more bytes, {after} remain");
        }
        return h;
    }

    /// <summary>Big-endian length of <paramref name="size"/> bytes right after the type byte.</summary>
    private readonly uint LengthAt(int size)
    {
        var field = Field(1, size);
        return size switch
        {
            1 => field[0],
            2 => BinaryPrimitives.ReadUInt16BigEndian(field),
            _ => BinaryPrimitives.ReadUInt32BigEndian(field),
        };
    }

    private readonly sbyte ExtTypeAt(int offset) => unchecked((sbyte)Field(offset, 1)[0]);

    private readonly ReadOnlySpan<byte> Field(int offset, int size)
    {
        if (Remaining < offset + size) throw Error(MsgPackErrorKind.EndOfData, _position, "header cut short");
        return _buffer.Slice(_position + offset, size);
    }

    private ReadOnlySpan<byte> TakePayload(Header h)
    {
        var payload = _buffer.Slice(_position + h.HeaderSize, (int)h.Length);
        _position += h.HeaderSize + (int)h.Length;
        return payload;
    }

    private ReadOnlySpan<byte> Take(int size)
    {
        if (Remaining < size) throw Error(MsgPackErrorKind.EndOfData, _position, "value cut short");
        var s = _buffer.Slice(_position, size);
        _position += size;
        return s;
    }

    /// <summary>Reads any integer; <paramref name="isUnsignedHigh"/> marks a uint 64 above Int64.MaxValue, whose bits
    /// are returned in <paramref name="value"/>.</summary>
    private bool TryReadIntegerCore(out long value, out bool isUnsignedHigh)
    {
        var code = PeekCode();
        isUnsignedHigh = false;
        switch (code)
        {
            case <= MsgPackCode.MaxPositiveFixInt: value = code; _position++; return true;
            case >= MsgPackCode.MinNegativeFixInt: value = unchecked((sbyte)code); _position++; return true;
            case MsgPackCode.UInt8: value = Take(2)[1]; return true;
            case MsgPackCode.UInt16: value = BinaryPrimitives.ReadUInt16BigEndian(Take(3)[1..]); return true;
            case MsgPackCode.UInt32: value = BinaryPrimitives.ReadUInt32BigEndian(Take(5)[1..]); return true;
            case MsgPackCode.UInt64:
                var u = BinaryPrimitives.ReadUInt64BigEndian(Take(9)[1..]);
                value = unchecked((long)u);
                isUnsignedHigh = u > long.MaxValue;
                return true;
            case MsgPackCode.Int8: value = unchecked((sbyte)Take(2)[1]); return true;
            case MsgPackCode.Int16: value = BinaryPrimitives.ReadInt16BigEndian(Take(3)[1..]); return true;
            case MsgPackCode.Int32: value = BinaryPrimitives.ReadInt32BigEndian(Take(5)[1..]); return true;
            case MsgPackCode.Int64: value = BinaryPrimitives.ReadInt64BigEndian(Take(9)[1..]); return true;
            default: value = 0; return false;
        }
    }

    private readonly MsgPackException Mismatch(string expected) =>
        Error(MsgPackErrorKind.TypeMismatch, _position, $"expected {expected}, found {PeekType()}");

    private static MsgPackException Error(MsgPackErrorKind kind, int offset, string detail) => new(kind, offset, detail);
}
