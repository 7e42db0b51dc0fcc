using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Serial;
using MeowRobot.Testing;
using Xunit.Abstractions;

namespace MeowRobot.Control.Tests;

/// <summary>
/// Properties of the frame parser against frames built by the independent reference encoder: whatever surrounds them
/// (garbage, bit flips, truncated frames) and however the line chops the bytes, every intact frame comes out, in order,
/// and nothing else does (a false accept needs a 32-bit CRC collision, about 2^-32 per rejected block).
/// </summary>
public class SerialFrameFuzzTests(ITestOutputHelper output)
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300);

    private sealed record WireFrame(byte Type, byte Sequence, byte[] Payload)
    {
        public byte[] Bytes => ReferenceFraming.Frame(Type, Sequence, Payload);
        public override string ToString() => $"({Type:X2} #{Sequence} [{Payload.Length}])";
    }

    private static readonly Gen<byte> AnyByte = Gen.Choose(0, 255).Select(i => (byte)i);

    /// <summary>Line noise that often looks like the start of a frame.</summary>
    private static readonly Gen<byte> NoiseByte = Gen.Frequency(
        (4, AnyByte), (1, Gen.Elements<byte>(0x00, 0x01, 0x02, 0xFF, 0xFE)));

    private static Gen<byte[]> BytesOf(Gen<byte> element, int max) =>
        from n in Gen.Choose(0, max)
        from a in Gen.ArrayOf(element, n)
        select a;

    private static readonly Gen<WireFrame> Frames =
        from type in AnyByte
        from sequence in AnyByte
        from length in Gen.Frequency((4, Gen.Choose(0, 16)), (1, Gen.Choose(0, SerialFrame.MaxPayload)))
        from payload in Gen.ArrayOf(AnyByte, length)
        select new WireFrame(type, sequence, payload);

    private static readonly Gen<int> Seeds = Gen.Choose(0, int.MaxValue);

    /// <summary>Feeds <paramref name="stream"/> in random chunks, checking the parser's invariants on every call.</summary>
    private static List<WireFrame> Feed(SerialFrameParser parser, byte[] all, int seed)
    {
        var random = new Random(seed);
        var got = new List<WireFrame>();
        long acceptedBytes = 0;
        var at = 0;
        while (at < all.Length)
        {
            var n = random.Next(3) == 0 ? all.Length - at : Math.Min(all.Length - at, random.Next(1, 40));
            ReadOnlySpan<byte> chunk = all.AsSpan(at, n);
            at += n;
            while (parser.TryRead(ref chunk, out var frame))
            {
                got.Add(new WireFrame((byte)frame.Type, frame.Sequence, frame.Payload.ToArray()));
                acceptedBytes += ReferenceFraming.Frame((byte)frame.Type, frame.Sequence, frame.Payload.ToArray()).Length - 2;
            }
            Assert.True(chunk.IsEmpty);
            Assert.InRange(parser.Buffered, 0, SerialFrame.MaxEncodedSize);
        }
        // Every byte but the delimiters is in an accepted frame, counted as garbage, or still held.
        Assert.Equal(acceptedBytes, parser.AcceptedBytes);
        Assert.Equal(all.Count(b => b != 0), acceptedBytes + parser.Errors.GarbageBytes + parser.Buffered);
        return got;
    }

    private static bool SameFrames(IReadOnlyList<WireFrame> expected, IReadOnlyList<WireFrame> actual) =>
        expected.Count == actual.Count && expected.Zip(actual).All(p =>
            p.First.Type == p.Second.Type && p.First.Sequence == p.Second.Sequence && p.First.Payload.AsSpan().SequenceEqual(p.Second.Payload));

    [Fact]
    public void Random_bytes_never_yield_a_frame_and_never_grow_the_parser()
    {
        var cases = from bytes in BytesOf(NoiseByte, 4096) from seed in Seeds select (bytes, seed);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c => Feed(new SerialFrameParser(), c.bytes, c.seed).Count == 0));
    }

    [Fact]
    public void Every_frame_between_garbage_is_recovered_in_order()
    {
        var cases =
            from items in Gen.ListOf(Gen.Zip(BytesOf(NoiseByte, 300), Frames))
            from seed in Seeds
            select (items, seed);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var stream = c.items.SelectMany(i => i.Item1.Concat(i.Item2.Bytes)).ToArray();
            var got = Feed(new SerialFrameParser(), stream, c.seed);
            return SameFrames(c.items.Select(i => i.Item2).ToList(), got);
        }));
    }

    [Fact]
    public void Bit_flips_lose_only_the_frames_they_hit()
    {
        var cases =
            from frames in Gen.NonEmptyListOf(Frames)
            from flips in Gen.ListOf(Gen.Zip(Gen.Choose(0, int.MaxValue), Gen.Choose(0, 7)))
            from seed in Seeds
            select (frames, flips, seed);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var wire = c.frames.Select(f => f.Bytes).ToList();
            var stream = wire.SelectMany(b => b).ToArray();
            foreach (var (position, bit) in c.flips.Take(8))
                stream[position % stream.Length] ^= (byte)(1 << bit);
            var got = Feed(new SerialFrameParser(), stream, c.seed);
            // Frames whose bytes are back to the original (untouched, or the same bit flipped twice) come out; nothing corrupted does.
            var intact = new List<WireFrame>();
            for (int i = 0, start = 0; i < wire.Count; start += wire[i].Length, i++)
            {
                if (wire[i].AsSpan().SequenceEqual(stream.AsSpan(start, wire[i].Length)))
                    intact.Add(c.frames[i]);
            }
            return SameFrames(intact, got);
        }));
    }

    [Fact]
    public void Truncated_frames_are_dropped_and_the_rest_recovered()
    {
        // A cut keeps a prefix (at least the closing delimiter and one body byte lost) or a suffix (at least the opening
        // delimiter and one body byte lost): the frame's content is incomplete either way.
        var cases =
            from items in Gen.NonEmptyListOf(Gen.Zip(Frames, Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(1, 1000)), (1, Gen.Choose(-1000, -1)))))
            from seed in Seeds
            select (items, seed);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var stream = new List<byte>();
            foreach (var (frame, cut) in c.items)
            {
                var bytes = frame.Bytes;
                var lost = 2 + Math.Abs(cut) % (bytes.Length - 2);
                if (cut == 0)
                    stream.AddRange(bytes);
                else if (cut > 0)
                    stream.AddRange(bytes[..^lost]);
                else
                    stream.AddRange(bytes[lost..]);
            }
            // Every intact frame comes out. Rarely a cut frame's leftover supplies exactly the bytes another cut frame lost
            // (equal-length frames share their COBS code byte): what comes out is then byte for byte a frame that was sent,
            // so the check is "intact ⊆ accepted ⊆ sent, in order".
            var got = Feed(new SerialFrameParser(), [.. stream], c.seed);
            var next = 0;
            foreach (var (frame, cut) in c.items)
            {
                if (next < got.Count && SameFrames([frame], [got[next]]))
                    next++;
                else if (cut == 0)
                    return false;
            }
            return next == got.Count;
        }));
    }

    [Fact]
    public void Message_readers_never_throw_and_accept_only_valid_content()
    {
        var cases =
            from type in Gen.Elements(Enum.GetValues<SerialMessageType>())
            from payload in BytesOf(Gen.Frequency((3, AnyByte), (1, Gen.Elements<byte>(0x00, 0x3F, 0x80, 0xBF, 0x7F, 0xFF))), 80)
            select (type, payload);
        Check.One(Runs, Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var frame = new SerialFrame(c.type, 0, c.payload);
            var axes = new float[TeleopInput.MaxAxes];
            var axesOk = SerialMessages.ReadAxes(frame, axes, out var count) == SerialMessageError.None;
            var sensor = new float[3];
            var sensorOk = SerialMessages.ReadSensor(frame, out _, sensor) == SerialMessageError.None;
            var buttonsOk = SerialMessages.ReadButtons(frame, out var buttons) == SerialMessageError.None;
            var heartbeatOk = SerialMessages.ReadHeartbeat(frame, out _) == SerialMessageError.None;
            var actuatorOk = SerialMessages.ReadActuator(frame, new float[2]) == SerialMessageError.None;
            return (!axesOk || (c.type == SerialMessageType.Axes && count * 4 == c.payload.Length && axes[..count].All(a => a >= -1 && a <= 1)))
                && (!sensorOk || (c.type == SerialMessageType.Sensor && c.payload.Length == 16 && sensor.All(float.IsFinite)))
                && (!buttonsOk || (c.type == SerialMessageType.Buttons && (byte)buttons < 64))
                && (!heartbeatOk || (c.type == SerialMessageType.Heartbeat && c.payload.Length == 4))
                && (!actuatorOk || (c.type == SerialMessageType.Actuator && c.payload.Length == 8));
        }));
    }

    /// <summary>A line's worth of each message the robot and the teleop link read, back to back.</summary>
    private static byte[][] LineSeeds()
    {
        var frame = new byte[SerialFrame.MaxFrameSize];
        byte[] One(Func<byte[], int> write) => frame.AsSpan(0, write(frame)).ToArray();
        var sensor = One(f => SerialMessages.WriteSensor(f, 1, 123_456, [0.5f, -0.25f, 3f]));
        var actuator = One(f => SerialMessages.WriteActuator(f, 2, [0.1f]));
        var heartbeat = One(f => SerialMessages.WriteHeartbeat(f, 3, 42));
        var axes = One(f => SerialMessages.WriteAxes(f, 4, [0.5f, -1f]));
        var buttons = One(f => SerialMessages.WriteButtons(f, 5, TeleopButtons.Override));
        return [[.. sensor, .. sensor, .. actuator], [.. heartbeat, .. axes, .. buttons], [.. sensor, .. heartbeat, .. axes, .. sensor]];
    }

    private static readonly SerialFrameParser Parser = new();
    private static readonly float[] Floats = new float[SerialMessages.MaxFloats];

    /// <summary>Every frame the parser finds is read by the message decoders; true when any frame came out. Allocation-free.</summary>
    private static bool ParsesLine(byte[] line)
    {
        Parser.Reset();
        ReadOnlySpan<byte> rest = line;
        var frames = 0;
        while (Parser.TryRead(ref rest, out var frame))
        {
            frames++;
            Assert.True(frame.Payload.Length <= SerialFrame.MaxPayload);
            _ = SerialMessages.ReadSensor(frame, out _, Floats.AsSpan(0, 3));
            _ = SerialMessages.ReadActuator(frame, Floats.AsSpan(0, 1));
            _ = SerialMessages.ReadHeartbeat(frame, out _);
            _ = SerialMessages.ReadAxes(frame, Floats, out _);
            _ = SerialMessages.ReadButtons(frame, out _);
        }
        return frames > 0;
    }

    /// <summary>
    /// Mutated lines of valid frames through the parser and every message decoder: no exception, nothing allocated, no
    /// input slower than the bound. The suite runs 50,000; MEOW_FUZZ_INPUTS=1000000 is the benchmark (docs/benchmarks.md).
    /// </summary>
    [Fact]
    public void Mutated_lines_are_parsed_without_exceptions_allocations_or_hangs()
    {
        var result = MutationFuzz.Run(LineSeeds(), MutationFuzz.Inputs(50_000), seed: 18, ParsesLine, _ => 1024, TimeSpan.FromSeconds(1));
        output.WriteLine("serial lines: " + result);
        Assert.True(result.Accepted > 0 && result.Rejected > 0, "the mutations reach both outcomes");
    }
}
