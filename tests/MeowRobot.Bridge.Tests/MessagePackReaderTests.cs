using System.Buffers;
using MeowRobot.Bridge.MessagePack;

namespace MeowRobot.Bridge.Tests;

/// <summary>Typed reads, typed errors and the defences, on hand-written encodings.</summary>
public sealed class MessagePackReaderTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static MsgPackException Fails(string hex, Action<byte[]> read)
    {
        var bytes = Hex(hex);
        return Assert.Throws<MsgPackException>(() => read(bytes));
    }

    [Fact]
    public void TryRead_of_another_type_returns_false_and_consumes_nothing()
    {
        var r = new MsgPackReader(Hex("a3 61 62 63 2a"));
        Assert.False(r.TryReadInt64(out _));
        Assert.False(r.TryReadBinary(out _));
        Assert.False(r.TryReadNil());
        Assert.False(r.TryReadTimestamp(out _));
        Assert.Equal(0, r.Position);
        Assert.Equal(MsgPackType.String, r.PeekType());
        Assert.True("abc"u8.SequenceEqual(r.ReadStringSpan()));
        Assert.Equal(42, r.ReadInt32());
        Assert.True(r.End);
    }

    [Fact]
    public void Read_of_another_type_throws_TypeMismatch_at_the_value()
    {
        var e = Fails("c0 c3", b => { var r = new MsgPackReader(b); r.ReadNil(); r.ReadString(); });
        Assert.Equal(MsgPackErrorKind.TypeMismatch, e.Kind);
        Assert.Equal(1, e.Offset);
    }

    [Theory]
    [InlineData("c1")]
    [InlineData("92 01 c1")]
    public void The_never_used_byte_is_rejected(string hex)
    {
        var e = Fails(hex, b => MsgPackReader.ValidateSingleValue(b));
        Assert.Equal(MsgPackErrorKind.InvalidCode, e.Kind);
        Assert.Equal(hex.Length / 3, e.Offset);
    }

    [Theory]
    [InlineData("a2 c3 28")]        // invalid continuation
    [InlineData("a2 c0 80")]        // overlong
    [InlineData("a3 ed a0 80")]     // encoded surrogate
    [InlineData("a1 ff")]
    public void Invalid_utf8_is_rejected_when_decoding_to_string_and_by_validation(string hex)
    {
        Assert.Equal(MsgPackErrorKind.InvalidUtf8, Fails(hex, b => new MsgPackReader(b).ReadString()).Kind);
        Assert.Equal(MsgPackErrorKind.InvalidUtf8, Fails(hex, b => MsgPackReader.ValidateSingleValue(b)).Kind);
        var r = new MsgPackReader(Hex(hex));
        Assert.Equal(Hex(hex).Length - 1, r.ReadStringSpan().Length); // the raw span is available to those who want it
    }

    [Theory]
    [InlineData("cf 80 00 00 00 00 00 00 00", "Int64")]
    [InlineData("ff", "UInt64")]
    [InlineData("ce 80 00 00 00", "Int32")]
    [InlineData("d3 ff ff ff ff 7f ff ff ff", "Int32")]
    public void Integers_that_do_not_fit_throw_IntegerOverflow(string hex, string target)
    {
        var e = Fails(hex, b =>
        {
            var r = new MsgPackReader(b);
            _ = target switch { "Int64" => r.ReadInt64(), "UInt64" => (long)r.ReadUInt64(), _ => r.ReadInt32() };
        });
        Assert.Equal(MsgPackErrorKind.IntegerOverflow, e.Kind);
    }

    [Theory]
    [InlineData("cd 01")]
    [InlineData("cb 00 00 00")]
    [InlineData("d9")]
    [InlineData("d6 ff 00")]
    [InlineData("c7 04")]
    public void Truncated_values_are_rejected(string hex)
    {
        var e = Fails(hex, b => new MsgPackReader(b).Skip());
        Assert.True(e.Kind is MsgPackErrorKind.EndOfData or MsgPackErrorKind.LengthExceedsInput, e.Message);
        Assert.Equal(0, e.Offset);
    }

    [Theory]
    [InlineData("d6 ff 00 00 00 01", 1L, 0u)]
    [InlineData("d7 ff 00 00 00 04 00 00 00 01", 1L, 1u)]
    [InlineData("c7 0c ff 00 00 00 01 ff ff ff ff ff ff ff ff", -1L, 1u)]
    public void Timestamps_decode_in_all_three_forms(string hex, long seconds, uint nanos)
    {
        var r = new MsgPackReader(Hex(hex));
        Assert.Equal(new MsgPackTimestamp(seconds, nanos), r.ReadTimestamp());
    }

    [Theory]
    [InlineData("d7 ff ff ff ff fc 00 00 00 00")]        // 64-bit form, nanoseconds 2^30-1
    [InlineData("c7 0c ff 3b 9a ca 00 00 00 00 00 00 00 00 00")] // 96-bit form, nanoseconds 10^9
    [InlineData("d5 ff 00 00")]                          // 2-byte payload
    public void Malformed_timestamps_are_rejected(string hex)
    {
        Assert.Equal(MsgPackErrorKind.InvalidTimestamp, Fails(hex, b => new MsgPackReader(b).ReadTimestamp()).Kind);
        Assert.Equal(MsgPackErrorKind.InvalidTimestamp, Fails(hex, b => MsgPackReader.ValidateSingleValue(b)).Kind);
    }

    [Fact]
    public void Timestamps_convert_from_DateTimeOffset_with_floor_seconds()
    {
        // 1969-12-31T23:59:59.5Z is one half second before the epoch: seconds -1, nanoseconds 500000000
        var t = MsgPackTimestamp.FromDateTimeOffset(new DateTimeOffset(1969, 12, 31, 23, 59, 59, 500, TimeSpan.Zero));
        Assert.Equal(new MsgPackTimestamp(-1, 500_000_000), t);
        Assert.Equal(new DateTimeOffset(1969, 12, 31, 23, 59, 59, 500, TimeSpan.Zero), t.ToDateTimeOffset());
    }

    [Fact]
    public void Trailing_bytes_fail_validation()
    {
        var e = Fails("90 c0", b => MsgPackReader.ValidateSingleValue(b));
        Assert.Equal(MsgPackErrorKind.TrailingBytes, e.Kind);
        Assert.Equal(1, e.Offset);
    }

    [Fact]
    public void Duplicate_map_keys_are_detected_by_the_key_set()
    {
        // {"a":1,"b":2,"a":3}: the third key (at offset 7) repeats the first
        var e = Fails("83 a1 61 01 a1 62 02 a1 61 03", ReadThirdKey);
        Assert.Equal(MsgPackErrorKind.DuplicateKey, e.Kind);
        Assert.Equal(7, e.Offset);
        ReadThirdKey(Hex("83 a1 61 01 a1 62 02 a2 61 61 03")); // "a", "b", "aa": distinct
    }

    private static void ReadThirdKey(byte[] bytes)
    {
        var r = new MsgPackReader(bytes);
        var seen = new MsgPackKeySet();
        r.ReadMapHeader();
        for (var i = 0; i < 3; i++) { r.ReadUniqueKey(ref seen); r.Skip(); }
    }

    [Fact]
    public void The_key_set_stays_exact_beyond_its_inline_capacity()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MsgPackWriter(buffer);
        const int n = MsgPackKeySet.InlineCapacity + 10;
        w.WriteMapHeader(n + 1);
        for (var i = 0; i < n; i++) { w.Write("k" + i); w.Write(i); }
        w.Write("k3"); w.Write(0); // duplicate of an early (inline) key after spilling
        var bytes = buffer.WrittenSpan.ToArray();
        var e = Assert.Throws<MsgPackException>(() =>
        {
            var r = new MsgPackReader(bytes);
            var seen = new MsgPackKeySet();
            for (var c = r.ReadMapHeader(); c > 0; c--) { r.ReadUniqueKey(ref seen); r.Skip(); }
        });
        Assert.Equal(MsgPackErrorKind.DuplicateKey, e.Kind);
    }

    [Fact]
    public void Float32_arrays_travel_as_little_endian_bin()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MsgPackWriter(buffer);
        w.WriteBinary([1f, -2f]);
        Assert.Equal(Hex("c4 08 00 00 80 3f 00 00 00 c0"), buffer.WrittenSpan.ToArray());

        var into = new float[3];
        var r = new MsgPackReader(buffer.WrittenSpan);
        Assert.Equal(2, r.ReadBinary(into.AsSpan()));
        Assert.Equal([1f, -2f, 0f], into);

        var small = new float[1];
        Assert.Equal(MsgPackErrorKind.InvalidPackedLength,
            Assert.Throws<MsgPackException>(() => new MsgPackReader(buffer.WrittenSpan.ToArray()).ReadBinary(small.AsSpan())).Kind);
        Assert.Equal(MsgPackErrorKind.InvalidPackedLength,
            Fails("c4 03 00 00 80", b => new MsgPackReader(b).ReadBinary(new float[4].AsSpan())).Kind);
    }

    [Fact]
    public void Lone_surrogates_are_refused_by_the_writer()
    {
        var buffer = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentException>(() => { var w = new MsgPackWriter(buffer); w.Write("a\ud800b"); });
    }

    [Fact]
    public void Numbers_read_as_double_or_single_from_any_numeric_form()
    {
        var r = new MsgPackReader(Hex("ca 3f c0 00 00 cb 3f f8 00 00 00 00 00 00 d0 fe cf ff ff ff ff ff ff ff ff"));
        Assert.Equal(1.5, r.ReadDouble());
        Assert.Equal(1.5f, r.ReadSingle());
        Assert.Equal(-2.0, r.ReadDouble());
        Assert.Equal(18446744073709551615.0, r.ReadDouble());
    }
}
