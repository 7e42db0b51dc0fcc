using System.Buffers;
using System.Text;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Serial;

namespace MeowRobot.Control.Tests;

/// <summary>CRC-32C bit by bit from its definition, COBS from its definition (zero-split segments, runs of 254), and
/// frames assembled by hand from docs/protocol.md: the independent peer for the codec tests.</summary>
internal static class ReferenceFraming
{
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }

    public static byte[] Cobs(byte[] data)
    {
        var output = new List<byte>();
        var segments = new List<byte[]>();
        var start = 0;
        for (var i = 0; i <= data.Length; i++)
        {
            if (i == data.Length || data[i] == 0)
            {
                segments.Add(data[start..i]);
                start = i + 1;
            }
        }
        for (var s = 0; s < segments.Count; s++)
        {
            var rest = segments[s];
            var last = s == segments.Count - 1;
            while (rest.Length >= 254)
            {
                output.Add(0xFF);
                output.AddRange(rest[..254]);
                rest = rest[254..];
                if (rest.Length == 0 && last)
                    return [.. output];
            }
            output.Add((byte)(rest.Length + 1));
            output.AddRange(rest);
        }
        return [.. output];
    }

    /// <summary>00 | COBS(type, sequence, payload, CRC-32C LE) | 00.</summary>
    public static byte[] Frame(byte type, byte sequence, byte[] payload)
    {
        byte[] body = [type, sequence, .. payload];
        var crc = Crc32C(body);
        return [0x00, .. Cobs([.. body, (byte)crc, (byte)(crc >> 8), (byte)(crc >> 16), (byte)(crc >> 24)]), 0x00];
    }
}

public class SerialFrameTests
{
    [Theory]
    // Published check value, and the CRC-32C examples of RFC 3720 (iSCSI) appendix B.4.
    [InlineData("123456789", 0xE3069283u)]
    [InlineData("zeros32", 0x8A9136AAu)]
    [InlineData("ones32", 0x62A8AB43u)]
    [InlineData("inc32", 0x46DD794Eu)]
    [InlineData("dec32", 0x113FDB5Cu)]
    public void Crc32C_matches_published_check_values(string input, uint expected)
    {
        byte[] data = input switch
        {
            "zeros32" => new byte[32],
            "ones32" => Enumerable.Repeat((byte)0xFF, 32).ToArray(),
            "inc32" => Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(),
            "dec32" => Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray(),
            _ => Encoding.ASCII.GetBytes(input),
        };
        Assert.Equal(expected, Crc32C.Compute(data));
        Assert.Equal(expected, ReferenceFraming.Crc32C(data));
    }

    [Fact]
    public void Crc32C_agrees_with_the_bitwise_definition_on_every_length_up_to_a_frame()
    {
        var data = new byte[SerialFrame.MaxFrameSize];
        new Random(7).NextBytes(data);
        for (var n = 0; n <= data.Length; n++)
            Assert.Equal(ReferenceFraming.Crc32C(data.AsSpan(0, n)), Crc32C.Compute(data.AsSpan(0, n)));
    }

    public static TheoryData<string, string> CobsExamples => new()
    {
        // The worked examples of the COBS literature (Cheshire & Baker; Wikipedia's table).
        { "00", "0101" },
        { "0000", "010101" },
        { "001100", "01021101" },
        { "11220033", "0311220233" },
        { "11223344", "0511223344" },
        { "11000000", "0211010101" },
        { Hex(Enumerable.Range(1, 254)), "FF" + Hex(Enumerable.Range(1, 254)) },
        { Hex(Enumerable.Range(0, 255)), "01FF" + Hex(Enumerable.Range(1, 254)) },
        { Hex(Enumerable.Range(1, 255)), "FF" + Hex(Enumerable.Range(1, 254)) + "02FF" },
        { Hex(Enumerable.Range(2, 254).Append(0)), "FF" + Hex(Enumerable.Range(2, 254)) + "0101" },
        { Hex(Enumerable.Range(3, 253).Concat([0, 1])), "FE" + Hex(Enumerable.Range(3, 253)) + "0201" },
    };

    private static string Hex(IEnumerable<int> bytes) => Convert.ToHexString(bytes.Select(b => (byte)b).ToArray());

    [Theory]
    [MemberData(nameof(CobsExamples))]
    public void Cobs_encodes_and_decodes_the_published_examples(string raw, string encoded)
    {
        var data = Convert.FromHexString(raw);
        var expected = Convert.FromHexString(encoded);
        Assert.Equal(expected, ReferenceFraming.Cobs(data));
        var buffer = new byte[data.Length + data.Length / 254 + 2];
        var n = Cobs.Encode(data, buffer);
        Assert.Equal(expected, buffer[..n]);
        var back = new byte[data.Length + 10];
        Assert.Equal(data, back[..Cobs.Decode(expected, back)]);
    }

    [Fact]
    public void Cobs_rejects_a_block_whose_code_overruns_it()
    {
        var back = new byte[16];
        Assert.Equal(-1, Cobs.Decode([0x05, 0x11, 0x22], back));
        Assert.Equal(-1, Cobs.Decode([0x02, 0x11, 0x04], back));
    }

    [Fact]
    public void Heartbeat_frame_is_the_documented_example()
    {
        var frame = new byte[SerialFrame.MaxFrameSize];
        var n = SerialMessages.WriteHeartbeat(frame, sequence: 7, senderMillis: 0x01020304);
        Assert.Equal(ReferenceFraming.Frame(0x01, 7, [0x04, 0x03, 0x02, 0x01]), frame[..n]);
        // The worked example of docs/protocol.md (computed with a separate Python script).
        Assert.Equal(Convert.FromHexString("000B010704030201BA5B4E5400"), frame[..n]);
    }

    [Fact]
    public void Sensor_actuator_and_button_frames_have_the_documented_layouts()
    {
        var frame = new byte[SerialFrame.MaxFrameSize];
        var n = SerialMessages.WriteSensor(frame, 200, 0xAABBCCDD, [1.0f, -2.0f]);
        // 1.0f = 0x3F800000, -2.0f = 0xC0000000, all little-endian
        Assert.Equal(ReferenceFraming.Frame(0x10, 200, [0xDD, 0xCC, 0xBB, 0xAA, 0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]), frame[..n]);
        n = SerialMessages.WriteActuator(frame, 0, [0.5f]);
        Assert.Equal(Convert.FromHexString("00021101010106 3F3852E61600".Replace(" ", "")), frame[..n]);
        n = SerialMessages.WriteButtons(frame, 9, TeleopButtons.Override | TeleopButtons.EStop);
        Assert.Equal(Convert.FromHexString("0008030905DA2C0D3100"), frame[..n]);
    }

    [Fact]
    public void Longest_payloads_fit_the_declared_maximum_frame()
    {
        var frame = new byte[SerialFrame.MaxFrameSize];
        foreach (var fill in new byte[] { 0x00, 0x01, 0xFF })
        {
            var payload = Enumerable.Repeat(fill, SerialFrame.MaxPayload).ToArray();
            var n = SerialFrame.Write(frame, SerialMessageType.Axes, 0xFF, payload);
            Assert.Equal(ReferenceFraming.Frame(0x02, 0xFF, payload), frame[..n]);
        }
    }

    [Fact]
    public void Buffer_writer_and_span_writer_produce_the_same_bytes()
    {
        var writer = new ArrayBufferWriter<byte>();
        SerialFrame.Write(writer, SerialMessageType.Axes, 3, [1, 2, 3, 4]);
        SerialFrame.Write(writer, SerialMessageType.Heartbeat, 4, []);
        Assert.Equal([.. ReferenceFraming.Frame(0x02, 3, [1, 2, 3, 4]), .. ReferenceFraming.Frame(0x01, 4, [])], writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Writer_refuses_payloads_and_buffers_that_do_not_fit()
    {
        var frame = new byte[SerialFrame.MaxFrameSize];
        Assert.Throws<ArgumentException>(() => SerialFrame.Write(frame, SerialMessageType.Axes, 0, new byte[256]));
        Assert.Throws<ArgumentException>(() => SerialFrame.Write(new byte[40], SerialMessageType.Axes, 0, new byte[16]));
        Assert.Throws<ArgumentException>(() => SerialMessages.WriteAxes(frame, 0, new float[TeleopInput.MaxAxes + 1]));
    }

    private static List<string> ParseAll(SerialFrameParser parser, byte[] stream, int chunk)
    {
        var got = new List<string>();
        for (var at = 0; at < stream.Length; at += chunk)
        {
            ReadOnlySpan<byte> input = stream.AsSpan(at, Math.Min(chunk, stream.Length - at));
            while (parser.TryRead(ref input, out var frame))
                got.Add($"{frame.Type} {frame.Sequence} {Convert.ToHexString(frame.Payload)}");
        }
        return got;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public void Parser_finds_frames_behind_garbage_however_the_bytes_are_split(int chunk)
    {
        var a = ReferenceFraming.Frame(0x01, 1, [9, 9, 9, 9]);
        var b = ReferenceFraming.Frame(0x03, 2, [0x04]);
        byte[] stream = [0x13, 0xFF, 0x04, .. a, 0x02, 0x55, 0x00, 0x07, 1, 2, 3, 4, 5, 6, .. b, 0x42];
        var parser = new SerialFrameParser();
        Assert.Equal(["Heartbeat 1 09090909", "Buttons 2 04"], ParseAll(parser, stream, chunk));
        Assert.Equal(new SerialFrameErrors(GarbageBytes: 12, EncodingErrors: 1, CrcMismatches: 1, LengthErrors: 1), parser.Errors);
        Assert.Equal(1, parser.Buffered);   // the trailing 0x42 waits for a delimiter
    }

    [Fact]
    public void Parser_rejects_a_corrupted_frame_and_recovers_the_next()
    {
        var bad = ReferenceFraming.Frame(0x02, 1, [1, 1, 1, 1]);
        bad[5] ^= 0x10;
        var good = ReferenceFraming.Frame(0x02, 2, [0, 0, 0x80, 0x3F]);
        var parser = new SerialFrameParser();
        Assert.Equal(["Axes 2 0000803F"], ParseAll(parser, [.. bad, .. good], 1000));
        Assert.Equal(new SerialFrameErrors(bad.Length - 2, 0, 1, 0), parser.Errors);
        Assert.Equal(1, parser.Frames);
    }

    [Fact]
    public void A_truncated_frame_never_takes_the_next_one_with_it()
    {
        var cut = ReferenceFraming.Frame(0x01, 1, [1, 2, 3, 4]);
        var next = ReferenceFraming.Frame(0x01, 2, [5, 6, 7, 8]);
        for (var keep = 1; keep < cut.Length - 1; keep++)
        {
            var parser = new SerialFrameParser();
            Assert.Equal(["Heartbeat 2 05060708"], ParseAll(parser, [.. cut[..keep], .. next], 1000));
        }
    }

    [Fact]
    public void Parser_with_a_lower_payload_limit_drops_longer_blocks_without_holding_them()
    {
        var parser = new SerialFrameParser(maxPayload: 8);
        var longFrame = ReferenceFraming.Frame(0x02, 1, Enumerable.Repeat((byte)7, 40).ToArray());
        var shortFrame = ReferenceFraming.Frame(0x02, 2, new byte[8]);
        Assert.Equal(["Axes 2 0000000000000000"], ParseAll(parser, [.. longFrame, .. shortFrame], 5));
        Assert.Equal(1, parser.Errors.LengthErrors);
        Assert.Equal(longFrame.Length - 2, parser.Errors.GarbageBytes);
    }

    [Fact]
    public void Parser_holds_a_partial_frame_until_the_rest_arrives_and_reset_discards_it()
    {
        var f = ReferenceFraming.Frame(0x01, 5, [1, 2, 3, 4]);
        var parser = new SerialFrameParser();
        Assert.Empty(ParseAll(parser, f[..8], 1000));
        Assert.Equal(7, parser.Buffered);
        Assert.Equal(["Heartbeat 5 01020304"], ParseAll(parser, f[8..], 1000));
        Assert.Empty(ParseAll(parser, f[..8], 1000));
        parser.Reset();
        Assert.Equal(0, parser.Buffered);
        Assert.Empty(ParseAll(parser, f[8..], 1000));
        Assert.Equal(f.Length - 2, parser.Errors.GarbageBytes);
    }

    [Fact]
    public void Message_readers_reject_bad_content_with_typed_errors()
    {
        var axes = new float[TeleopInput.MaxAxes];
        Assert.Equal(SerialMessageError.OutOfRange, ReadAxes(SerialMessageType.Axes, BitConverter.GetBytes(1.5f), axes));
        Assert.Equal(SerialMessageError.NonFinite, ReadAxes(SerialMessageType.Axes, BitConverter.GetBytes(float.NaN), axes));
        Assert.Equal(SerialMessageError.BadLength, ReadAxes(SerialMessageType.Axes, [1, 2, 3], axes));
        Assert.Equal(SerialMessageError.BadLength, ReadAxes(SerialMessageType.Axes, new byte[4 * (TeleopInput.MaxAxes + 1)], axes));
        Assert.Equal(SerialMessageError.UnexpectedType, ReadAxes(SerialMessageType.Buttons, [0], axes));
        Assert.Equal(SerialMessageError.ReservedBits, SerialMessages.ReadButtons(new SerialFrame(SerialMessageType.Buttons, 0, [0x40]), out _));
        Assert.Equal(SerialMessageError.BadLength, SerialMessages.ReadButtons(new SerialFrame(SerialMessageType.Buttons, 0, [0, 0]), out _));
        Assert.Equal(SerialMessageError.BadLength, SerialMessages.ReadSensor(new SerialFrame(SerialMessageType.Sensor, 0, new byte[4 + 8]), out _, new float[3]));
        Assert.Equal(SerialMessageError.NonFinite, SerialMessages.ReadSensor(
            new SerialFrame(SerialMessageType.Sensor, 0, [0, 0, 0, 0, .. BitConverter.GetBytes(float.PositiveInfinity)]), out _, new float[1]));
        Assert.Equal(SerialMessageError.BadLength, SerialMessages.ReadHeartbeat(new SerialFrame(SerialMessageType.Heartbeat, 0, [1, 2]), out _));
        Assert.Equal(SerialMessageError.BadLength, SerialMessages.ReadActuator(new SerialFrame(SerialMessageType.Actuator, 0, new byte[8]), new float[1]));

        var buf = new byte[SerialFrame.MaxFrameSize];
        var n = SerialMessages.WriteAxes(buf, 1, [-1f, 0.25f, 1f]);
        ReadOnlySpan<byte> input = buf.AsSpan(0, n);
        Assert.True(new SerialFrameParser().TryRead(ref input, out var frame));
        Assert.Equal(SerialMessageError.None, SerialMessages.ReadAxes(frame, axes, out var count));
        Assert.Equal([-1f, 0.25f, 1f], axes[..count]);
    }

    private static SerialMessageError ReadAxes(SerialMessageType type, byte[] payload, float[] axes) =>
        SerialMessages.ReadAxes(new SerialFrame(type, 0, payload), axes, out _);
}
