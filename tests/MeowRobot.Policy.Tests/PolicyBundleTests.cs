using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Safetensors;
using MeowRobot.Testing;

namespace MeowRobot.Policy.Tests;

public class PolicyBundleTests
{
    private static readonly DateTimeOffset Made = new(2026, 11, 21, 6, 0, 0, TimeSpan.Zero);

    private static (PolicyFile Policy, PolicyIdentity Robot, GoldenCase Golden) Hopper()
    {
        var golden = GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0]));
        return (PolicyFile.Load(golden.Weights), new PolicyIdentity("hopper", golden.ObsDim, golden.ActDim, "hopper-07"), golden);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void A_good_bundle_round_trips_through_MessagePack_and_is_accepted_with_a_working_runtime()
    {
        var (policy, robot, golden) = Hopper();
        var bundle = PolicyBundle.Create(7, policy, "hopper", Made);
        var decoded = PolicyBundle.Decode(bundle.ToMessagePack());
        Assert.Equal((7UL, robot with { Robot = "*" }, Made), (decoded.Version, decoded.Identity, decoded.CreatedAt));
        Assert.Equal(File.ReadAllBytes(golden.Weights), decoded.PolicyBytes.ToArray());
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(golden.Weights)), decoded.Sha256.ToArray());

        var result = decoded.Verify(robot, currentVersion: 6);
        Assert.Equal(BundleVerdict.Accepted, result.Verdict);
        var action = new float[golden.ActDim];
        result.Runtime!.Act(golden.Obs[0], action);
        Assert.All(action.Zip(golden.DeterministicAction[0]), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5f));
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void The_wire_form_is_a_plain_MessagePack_map_with_the_documented_keys()
    {
        var (policy, _, _) = Hopper();
        var bytes = PolicyBundle.Create(3, policy, "hopper", Made).ToMessagePack();
        var r = new MsgPackReader(bytes);
        var keys = new List<string>();
        for (var n = r.ReadMapHeader(); n > 0; n--)
        {
            keys.Add(r.ReadString());
            r.Skip();
        }
        Assert.Equal(["format", "version", "task", "robot", "obs_dim", "act_dim", "created", "sha256", "policy", "algorithm"], keys);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void A_format_1_bundle_without_an_algorithm_is_a_meow_one()
    {
        var (policy, robot, _) = Hopper();
        var bundle = PolicyBundle.Create(5, robot, policy.ToBytes(), Made);
        var output = new ArrayBufferWriter<byte>();
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(9);
        w.Write("format"); w.Write(1);
        w.Write("version"); w.Write(bundle.Version);
        w.Write("task"); w.Write(robot.Task);
        w.Write("robot"); w.Write(robot.Robot);
        w.Write("obs_dim"); w.Write(robot.ObsDim);
        w.Write("act_dim"); w.Write(robot.ActDim);
        w.Write("created"); w.Write(Made);
        w.Write("sha256"); w.WriteBinary(bundle.Sha256.Span);
        w.Write("policy"); w.WriteBinary(bundle.PolicyBytes.Span);
        var verdict = PolicyBundle.DecodeAndVerify(output.WrittenSpan, robot, 0);
        Assert.Equal(BundleVerdict.Accepted, verdict.Verdict);
        Assert.Equal("meow", verdict.Bundle!.Algorithm);
        // Format 2 without its algorithm, or format 1 with one, is malformed.
        Assert.Equal(BundleVerdict.MalformedBundle, PolicyBundle.DecodeAndVerify(WithFormat(output.WrittenSpan.ToArray(), 1, 2), robot, 0).Verdict);
        Assert.Equal(BundleVerdict.MalformedBundle, PolicyBundle.DecodeAndVerify(WithFormat(bundle.ToMessagePack(), 2, 1), robot, 0).Verdict);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Each_check_rejects_with_its_own_verdict()
    {
        var (policy, robot, _) = Hopper();
        var bytes = policy.ToBytes();
        var good = PolicyBundle.Create(10, robot with { Robot = "*" }, bytes, Made);
        Assert.Equal(BundleVerdict.Accepted, good.Verify(robot, 9).Verdict);
        Assert.Equal(BundleVerdict.Accepted, (good with { Identity = robot }).Verify(robot, 9).Verdict);

        var tampered = (byte[])bytes.Clone();
        tampered[^5] ^= 1;
        Assert.Equal(BundleVerdict.HashMismatch, (good with { PolicyBytes = tampered }).Verify(robot, 9).Verdict);
        Assert.Equal(BundleVerdict.HashMismatch, (good with { Sha256 = new byte[16] }).Verify(robot, 9).Verdict);

        Assert.Equal(BundleVerdict.WrongIdentity, good.Verify(robot with { Task = "walker" }, 9).Verdict);
        Assert.Equal(BundleVerdict.WrongIdentity, (good with { Identity = robot with { Robot = "hopper-08" } }).Verify(robot, 9).Verdict);
        Assert.Equal(BundleVerdict.WrongDimensions, good.Verify(robot with { ActDim = robot.ActDim + 1 }, 9).Verdict);

        Assert.Equal(BundleVerdict.NotNewer, good.Verify(robot, 10).Verdict);
        Assert.Equal(BundleVerdict.NotNewer, good.Verify(robot, 11).Verdict);

        Assert.Equal(BundleVerdict.MalformedFile, PolicyBundle.Create(10, robot, bytes[..^4], Made).Verify(robot, 9).Verdict);
        Assert.Equal(BundleVerdict.MalformedFile, PolicyBundle.Create(10, robot, "garbage"u8.ToArray(), Made).Verify(robot, 9).Verdict);

        var nan = SafetensorsWriter.ToArray(policy.Tensors.Select(t => SafetensorsTensor.F32(t.Name, t.Shape.Select(d => (long)d).ToArray(),
            t.Name == "flows.3.t.net.0.weight" ? t.Values.Select((v, i) => i == 5 ? float.NaN : v).ToArray() : t.Values)).ToArray(), policy.Metadata.ToEntries());
        var nanResult = PolicyBundle.Create(10, robot, nan, Made).Verify(robot, 9);
        Assert.Equal(BundleVerdict.NonFiniteWeights, nanResult.Verdict);
        Assert.Contains("flows.3.t.net.0.weight", nanResult.Reason, StringComparison.Ordinal);
        Assert.Null(nanResult.Runtime);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void A_file_whose_metadata_disagrees_with_the_bundle_is_rejected()
    {
        var (policy, robot, _) = Hopper();
        var lying = PolicyBundle.Create(2, robot with { ObsDim = robot.ObsDim + 1 }, policy.ToBytes(), Made);
        Assert.Equal(BundleVerdict.WrongDimensions, lying.Verify(robot with { ObsDim = robot.ObsDim + 1 }, 1).Verdict);

        var forOther = new PolicyFile(policy.Metadata with { Robot = "hopper-99" }, policy.Tensors).ToBytes();
        Assert.Equal(BundleVerdict.WrongIdentity, PolicyBundle.Create(2, robot with { Robot = "*" }, forOther, Made).Verify(robot, 1).Verdict);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Malformed_messages_are_MalformedBundle()
    {
        var (policy, robot, _) = Hopper();
        var message = PolicyBundle.Create(5, robot, policy.ToBytes(), Made).ToMessagePack();
        Assert.Equal(BundleVerdict.Accepted, PolicyBundle.DecodeAndVerify(message, robot, 0).Verdict);

        Assert.Equal(BundleVerdict.MalformedBundle, PolicyBundle.DecodeAndVerify(message[..^1], robot, 0).Verdict);
        Assert.Equal(BundleVerdict.MalformedBundle, PolicyBundle.DecodeAndVerify([.. message, 0xc0], robot, 0).Verdict);
        Assert.Equal(BundleVerdict.MalformedBundle, PolicyBundle.DecodeAndVerify([], robot, 0).Verdict);
        Assert.Equal(BundleVerdict.MalformedBundle, PolicyBundle.DecodeAndVerify(Map(w => { w.Write("format"); w.Write(1); }), robot, 0).Verdict);
        Assert.Equal(BundleVerdict.MalformedBundle, PolicyBundle.DecodeAndVerify(Map(w => { w.Write("format"); w.Write(1); w.Write("format"); w.Write(1); }), robot, 0).Verdict);
        Assert.Equal(BundleVerdict.MalformedBundle, PolicyBundle.DecodeAndVerify(Map(w => { w.Write("surprise"); w.Write(1); }), robot, 0).Verdict);
        Assert.Contains("format 3", PolicyBundle.DecodeAndVerify(WithFormat(message, 2, 3), robot, 0).Reason, StringComparison.Ordinal);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Mutated_bundle_messages_never_throw()
    {
        var (policy, robot, _) = Hopper();
        var message = PolicyBundle.Create(5, robot, policy.ToBytes(), Made).ToMessagePack();
        var headerArea = 160; // the map, keys and small fields come first; the policy bin is last
        var gen = Gen.OneOf(
            from at in Gen.Choose(0, headerArea) from bit in Gen.Choose(0, 7) select Flip(message, at, bit),
            from at in Gen.Choose(0, message.Length - 1) from bit in Gen.Choose(0, 7) select Flip(message, at, bit),
            from length in Gen.Choose(0, headerArea) select message[..length]);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), Prop.ForAll(gen.ToArbitrary(), bytes =>
        {
            var result = PolicyBundle.DecodeAndVerify(bytes, robot, 0);
            Assert.True(result.Verdict != BundleVerdict.Accepted || bytes.AsSpan().SequenceEqual(message) || result.Bundle!.Version != 5 || result.Bundle.CreatedAt != Made,
                "a mutation of a field that matters was accepted");
        }));
    }

    private static byte[] Map(Action<MsgPackWriterBox> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var box = new MsgPackWriterBox(buffer);
        body(box);
        var output = new ArrayBufferWriter<byte>();
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(box.Pairs);
        w.WriteRaw(buffer.WrittenSpan);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>MsgPackWriter is a ref struct; this records key/value writes for building test maps in lambdas.</summary>
    private sealed class MsgPackWriterBox(ArrayBufferWriter<byte> buffer)
    {
        private int _values;
        public int Pairs => _values / 2;
        public void Write(string s) { var w = new MsgPackWriter(buffer); w.Write(s); _values++; }
        public void Write(int v) { var w = new MsgPackWriter(buffer); w.Write(v); _values++; }
    }

    private static byte[] WithFormat(byte[] message, int from, int to)
    {
        var copy = (byte[])message.Clone();
        // "format" is the first key: fixmap, fixstr(6) "format", then a positive fixint.
        Assert.Equal(from, copy[8]);
        copy[8] = (byte)to;
        return copy;
    }

    private static byte[] Flip(byte[] message, int at, int bit)
    {
        var copy = (byte[])message.Clone();
        copy[at] ^= (byte)(1 << bit);
        return copy;
    }
}
