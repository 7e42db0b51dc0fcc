using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Safetensors;
using MeowRobot.Testing;
using Xunit.Abstractions;

namespace MeowRobot.Policy.Tests;

/// <summary>Malformed input only ever yields the typed exception: no other exception, no hang, no outsized allocation.</summary>
public class SafetensorsFuzzTests(ITestOutputHelper output)
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(400);

    /// <summary>Parses, accepting success or a typed rejection, and bounds what the attempt allocated.</summary>
    private static bool ParsesOrRejects(byte[] file)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            SafetensorsHeader.Parse(file);
        }
        catch (SafetensorsException)
        {
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 64L * file.Length + (1 << 20), $"parsing {file.Length} bytes allocated {allocated}");
        return true;
    }

    private static readonly string[] Fragments =
    [
        "{", "}", "[", "]", ":", ",", " ", "\"", "\"a\"", "\"b\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"",
        "\"F32\"", "\"U8\"", "\"F4\"", "\"BF16\"", "\"x\"", "0", "1", "4", "8", "12", "-1", "1.5", "1e3", "null", "true",
        "18446744073709551615", "4294967296", "\\u0000", "\\ud800", "\u00e9",
    ];

    [Fact]
    public void Random_headers_built_from_JSON_fragments_are_parsed_or_rejected_with_the_typed_error()
    {
        var gen =
            from parts in Gen.ArrayOf(Gen.Elements(Fragments))
            from data in Gen.Choose(0, 24)
            from lie in Gen.Frequency((6, Gen.Constant(0)), (1, Gen.Choose(-3, 3)))
            select Build(string.Concat(parts), data, lie);
        Check.One(Quick, Prop.ForAll(gen.ToArbitrary(), ParsesOrRejects));
    }

    [Fact]
    public void Random_bytes_are_parsed_or_rejected_with_the_typed_error()
    {
        Check.One(Quick, Prop.ForAll<byte[]>(ParsesOrRejects));
        var prefixed = from n in Gen.Choose(0, 64) from rest in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>()) select Prefix((ulong)n, rest);
        Check.One(Quick, Prop.ForAll(prefixed.ToArbitrary(), ParsesOrRejects));
    }

    [Fact]
    public void Valid_files_round_trip_through_the_writer_and_reader()
    {
        var dtypes = new[] { SafetensorsDtype.F32, SafetensorsDtype.U8, SafetensorsDtype.F64, SafetensorsDtype.I16, SafetensorsDtype.BOOL };
        var tensor =
            from dtype in Gen.Elements(dtypes)
            from rank in Gen.Choose(0, 3)
            from shape in Gen.ArrayOf(Gen.Choose(0, 4), rank)
            select (dtype, shape: shape.Select(d => (long)d).ToArray());
        var gen =
            from count in Gen.Choose(0, 6)
            from specs in Gen.ArrayOf(tensor, count)
            from keys in Gen.Choose(0, 3)
            from meta in Gen.ArrayOf(Gen.Elements("k", "meow.x", "é", "\"q\"", "a b"), keys)
            select (specs, meta);
        Check.One(Quick, Prop.ForAll(gen.ToArbitrary(), input =>
        {
            var tensors = input.specs.Select((s, i) =>
            {
                var bytes = s.shape.Aggregate(s.dtype.BitSize() / 8L, (a, d) => a * d);
                return new SafetensorsTensor($"t{i}", s.dtype, s.shape, Enumerable.Range(0, (int)bytes).Select(b => (byte)(b * 31 + i)).ToArray());
            }).ToArray();
            var metadata = input.meta.Distinct().Select(k => new KeyValuePair<string, string>(k, k + "!")).ToArray();
            var file = SafetensorsFile.Parse(SafetensorsWriter.ToArray(tensors, metadata));
            Assert.Equal(tensors.Select(t => t.Name), file.Header.Tensors.Select(t => t.Name));
            foreach (var t in tensors)
            {
                Assert.Equal(t.Shape, file.Header[t.Name].Shape);
                Assert.Equal(t.Dtype, file.Header[t.Name].Dtype);
                Assert.Equal(t.Data.ToArray(), file.Data(file.Header[t.Name]).ToArray());
            }
            Assert.Equal(metadata, file.Header.MetadataEntries);
        }));
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Mutated_golden_files_are_parsed_or_rejected_with_the_typed_error()
    {
        foreach (var path in GoldenCase.AllWeightFiles().Where(p => p.EndsWith("weights.safetensors", StringComparison.Ordinal)))
        {
            var original = File.ReadAllBytes(path);
            var headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
            var mutation = Gen.OneOf(
                // bit flips, mostly in the length prefix and header where the structure is
                from at in Gen.Frequency((8, Gen.Choose(0, headerEnd - 1)), (1, Gen.Choose(0, original.Length - 1)))
                from bit in Gen.Choose(0, 7)
                select Mutate(original, f => f[at] ^= (byte)(1 << bit)),
                // truncations
                from length in Gen.Frequency((3, Gen.Choose(0, headerEnd + 16)), (1, Gen.Choose(0, original.Length - 1)))
                select original[..length],
                // header edits: replace a byte with a JSON-significant one, delete or duplicate a byte (re-declaring the length)
                from at in Gen.Choose(8, headerEnd - 1)
                from c in Gen.Elements("{}[]:,\"0123456789-e. ".Select(ch => (byte)ch).ToArray())
                from kind in Gen.Choose(0, 2)
                select HeaderEdit(original, headerEnd, at, c, kind),
                // a wrong declared length
                from n in Gen.Choose(0, headerEnd + 64)
                select Mutate(original, f => BinaryPrimitives.WriteUInt64LittleEndian(f, (ulong)n)));
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), Prop.ForAll(mutation.ToArbitrary(), bytes =>
            {
                ParsesOrRejects(bytes);
                try
                {
                    PolicyFile.Parse(bytes);
                }
                catch (PolicyFileException)
                {
                }
            }));
        }
    }

    private static byte[] Build(string header, int data, int lie)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + data];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)Math.Max(0, h.Length + lie));
        h.CopyTo(file, 8);
        return file;
    }

    private static byte[] Prefix(ulong n, byte[] rest)
    {
        var file = new byte[8 + rest.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, n);
        rest.CopyTo(file, 8);
        return file;
    }

    private static byte[] Mutate(byte[] original, Action<byte[]> edit)
    {
        var copy = (byte[])original.Clone();
        edit(copy);
        return copy;
    }

    private static byte[] HeaderEdit(byte[] original, int headerEnd, int at, byte c, int kind)
    {
        var header = original[8..headerEnd].ToList();
        var i = at - 8;
        switch (kind)
        {
            case 0: header[i] = c; break;
            case 1: header.RemoveAt(i); break;
            default: header.Insert(i, c); break;
        }
        var file = new byte[8 + header.Count + original.Length - headerEnd];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Count);
        header.CopyTo(file, 8);
        original.AsSpan(headerEnd).CopyTo(file.AsSpan(8 + header.Count));
        return file;
    }

    private static readonly PolicyIdentity Robot = new("pendulum", 3, 1, "robot-1");

    /// <summary>Small networks (every tensor kind of a real one, a few KB): the parsers' cost is per byte, and small seeds let the
    /// mutations reach every field often.</summary>
    private static byte[][] PolicySeeds() =>
    [
        PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum", Version = 1, Hidden = 8, ShiftHidden = 8 }, seed: 1).ToBytes(),
        PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum", Hidden = 4, HiddenLayers = 1, FlowLayers = 1, ShiftHidden = 4, LayerNorm = false }, seed: 2).ToBytes(),
    ];

    /// <summary>What the robot does with a bundle off the wire: decode (typed refusal: <see cref="PolicyBundleException"/>), then verify (never throws).</summary>
    private static bool DecodesAndVerifies(byte[] message)
    {
        PolicyBundle bundle;
        try
        {
            bundle = PolicyBundle.Decode(message);
        }
        catch (PolicyBundleException)
        {
            return false;
        }
        return bundle.Verify(Robot, 0).Accepted;
    }

    /// <summary>
    /// Mutated bundle messages (MessagePack framing and fields), and mutated policy files inside correctly hashed bundles
    /// (which reach the safetensors reader, the metadata and the runtime's checks): each is accepted or refused with a
    /// verdict, nothing else. The suite runs 20,000 of each; MEOW_FUZZ_INPUTS=1000000 is the benchmark (docs/benchmarks.md).
    /// </summary>
    [Fact]
    public void Mutated_bundles_and_the_policy_files_inside_them_are_accepted_or_refused_with_a_verdict()
    {
        var inputs = MutationFuzz.Inputs(20_000);
        var messages = PolicySeeds().Select(p => PolicyBundle.Create(1, new PolicyIdentity("pendulum", 3, 1), p, DateTimeOffset.UnixEpoch).ToMessagePack()).ToArray();
        var framing = MutationFuzz.Run(messages, inputs, seed: 18, DecodesAndVerifies, n => 64L * n + (1 << 20));
        output.WriteLine("bundle messages: " + framing);
        var files = MutationFuzz.Run(PolicySeeds(), inputs, seed: 19,
            policy => PolicyBundle.Create(1, new PolicyIdentity("pendulum", 3, 1), policy, DateTimeOffset.UnixEpoch).Verify(Robot, 0).Accepted,
            n => 64L * n + (1 << 20));
        output.WriteLine("policy files in bundles: " + files);
        Assert.True(framing.Rejected > 0 && files.Rejected > 0 && files.Accepted > 0, "the mutations reach both verdicts");
    }
}
