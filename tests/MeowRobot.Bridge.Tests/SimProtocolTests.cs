using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Sim.Protocol;

namespace MeowRobot.Bridge.Tests;

/// <summary>
/// Sim protocol v1 at the message level: a <see cref="SimService"/> over <see cref="CountingTask"/> envs, whose every
/// output can be worked out by hand. Requests are hand-encoded bytes or written with the MessagePack writer.
/// </summary>
public class SimProtocolTests
{
    private static SimService NewService(int envs = 2) => new(new LocalVectorEnv(() => new CountingTask(), envs, baseSeed: 100), session: 77);

    private static byte[] Message(Action<MsgPackWriterBox> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(new MsgPackWriterBox(buffer));
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static (SimOp? Op, byte[] Reply) Send(SimService s, ReadOnlySpan<byte> request)
    {
        var reply = new ArrayBufferWriter<byte>();
        var op = s.Handle(request, reply);
        return (op, reply.WrittenSpan.ToArray());
    }

    private static string ErrorCode(byte[] reply) =>
        Assert.Throws<SimWorkerErrorException>(() => SimMessages.ReadOkReply(reply)).Code;

    private static byte[] Request(SimOp op)
    {
        var b = new ArrayBufferWriter<byte>();
        SimMessages.WriteRequest(b, op);
        return b.WrittenSpan.ToArray();
    }

    private static byte[] StepRequest(params float[] act)
    {
        var b = new ArrayBufferWriter<byte>();
        SimMessages.WriteStep(b, act);
        return b.WrittenSpan.ToArray();
    }

    private static byte[] ResetRequest(int[]? seeds = null, Dictionary<string, double>? parameters = null)
    {
        var b = new ArrayBufferWriter<byte>();
        SimMessages.WriteReset(b, seeds ?? [], seeds is not null, parameters);
        return b.WrittenSpan.ToArray();
    }

    [Fact]
    public void Requests_encode_to_the_documented_bytes()
    {
        // {"v": 1, "op": "hello"}: fixmap 2, fixstr "v", 1, fixstr "op", fixstr "hello"
        Assert.Equal(Hex("82 a1 76 01 a2 6f 70 a5 68 65 6c 6c 6f"), Request(SimOp.Hello));
        // {"v": 1, "op": "step", "act": bin8(8) = float32 LE 1.0, -2.0}
        Assert.Equal(Hex("83 a1 76 01 a2 6f 70 a4 73 74 65 70 a3 61 63 74 c4 08 0000803f 000000c0"), StepRequest(1f, -2f));
        // {"v": 1, "op": "reset", "seeds": [3, -1]}
        Assert.Equal(Hex("83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a5 73 65 65 64 73 92 03 ff"), ResetRequest([3, -1]));
    }

    [Fact]
    public void Hello_describes_task_envs_and_parameters()
    {
        using var s = NewService();
        var (op, reply) = Send(s, Hex("82 a1 76 01 a2 6f 70 a5 68 65 6c 6c 6f"));
        Assert.Equal(SimOp.Hello, op);
        var hello = SimMessages.ReadHelloReply(reply);
        Assert.Equal(("counting", 2, 2, 1, 3), (hello.Spec.Name, hello.NumEnvs, hello.Spec.ObsDim, hello.Spec.ActDim, hello.Spec.MaxEpisodeSteps));
        Assert.Equal([-1f], hello.Spec.ActLow);
        Assert.Equal([1f], hello.Spec.ActHigh);
        Assert.Equal(new Dictionary<string, double> { ["scale"] = 1, ["lag"] = 0 }, hello.Params);
        Assert.Equal((0.0, 10.0), hello.ParamRanges["scale"]);
        Assert.Equal(77UL, hello.Session);
    }

    [Fact]
    public void Reset_uses_seeds_or_the_base_seed_and_applies_parameters()
    {
        using var s = NewService();
        var obs = new float[4];
        SimMessages.ReadResetReply(Send(s, ResetRequest()).Reply, obs);
        Assert.Equal([0f, 100f, 0f, 101f], obs); // [steps, seed] per env: base seed 100 + env index
        SimMessages.ReadResetReply(Send(s, ResetRequest([7, -3], new() { ["scale"] = 2.5 })).Reply, obs);
        Assert.Equal([0f, 7f, 0f, -3f], obs);
        Assert.Equal(2.5, SimMessages.ReadHelloReply(Send(s, Request(SimOp.Hello)).Reply).Params["scale"]);
    }

    [Fact]
    public void Step_returns_rewards_flags_and_auto_resets_ended_episodes()
    {
        using var s = NewService();
        Send(s, ResetRequest([5, 6], new() { ["scale"] = 2 }));
        var obs = new float[4];
        var final = new float[4];
        var reward = new float[2];
        var term = new byte[2];
        var trunc = new byte[2];
        // env 0: action 0.25 → reward 2·0.25; env 1: action 3 → clipped to 1 → terminal, reward 2
        SimMessages.ReadStepReply(Send(s, StepRequest(0.25f, 3f)).Reply, obs, reward, term, trunc, final);
        Assert.Equal([0.5f, 2f], reward);
        Assert.Equal([0, 1], term);
        Assert.Equal([0, 0], trunc);
        Assert.Equal(1f, obs[0]); // env 0 one step in
        Assert.Equal([0f, -1f], obs[2..]); // env 1 reset, unseeded (seed shown as -1)
        Assert.Equal([1f, 6f], final[2..]); // env 1's last observation
        // Two more steps: env 0 reaches the 3-step limit: truncated, not terminated.
        SimMessages.ReadStepReply(Send(s, StepRequest(0f, 0f)).Reply, obs, reward, term, trunc, final);
        SimMessages.ReadStepReply(Send(s, StepRequest(0f, 0f)).Reply, obs, reward, term, trunc, final);
        Assert.Equal([0, 0], term);
        Assert.Equal([1, 0], trunc);
        Assert.Equal([3f, 5f], final[..2]);
        Assert.Equal([0f, -1f], obs[..2]);
    }

    private static byte[] RandomiseRequest(int[]? seeds, params ParameterDistribution[] randomise)
    {
        var b = new ArrayBufferWriter<byte>();
        SimMessages.WriteReset(b, seeds ?? [], seeds is not null, null, randomise);
        return b.WrittenSpan.ToArray();
    }

    [Fact]
    public void A_reset_may_set_a_randomisation_checked_all_or_nothing_and_replies_report_each_envs_draws()
    {
        using var s = NewService();
        var scale = new ParameterDistribution("scale", DistributionKind.Uniform, 2, 4);
        var lag = new ParameterDistribution("lag", DistributionKind.Uniform, 0, 3);
        // Refused, and nothing changes: an unknown name (even beside a good one), bounds the parameter does not accept,
        // and a distribution that is not one.
        Assert.Equal(SimErrorCode.UnknownParam, ErrorCode(Send(s, RandomiseRequest(null, scale, new("colour", DistributionKind.Uniform, 0, 1))).Reply));
        Assert.Equal(SimErrorCode.OutOfRange, ErrorCode(Send(s, RandomiseRequest(null, new ParameterDistribution("scale", DistributionKind.Uniform, -1, 2))).Reply));
        Assert.Equal(SimErrorCode.OutOfRange, ErrorCode(Send(s, RandomiseRequest(null, new ParameterDistribution("lag", DistributionKind.Uniform, 0.5, 2))).Reply));
        Assert.Equal(SimErrorCode.BadValue, ErrorCode(Send(s, RandomiseRequest(null, new ParameterDistribution("scale", DistributionKind.Uniform, 4, 2))).Reply));
        Assert.Equal(SimErrorCode.BadValue, ErrorCode(Send(s, RandomiseRequest(null, new ParameterDistribution("scale", DistributionKind.LogUniform, 0, 2))).Reply));
        Assert.Equal([], SimMessages.ReadHelloReply(Send(s, Request(SimOp.Hello)).Reply).Randomisation!);

        var obs = new float[4];
        var draws = new double[4];
        byte[][] names = ["lag"u8.ToArray(), "scale"u8.ToArray()];
        SimMessages.ReadResetReply(Send(s, RandomiseRequest([5, 5], lag, scale)).Reply, obs, new EpisodeParamsTarget(names, draws));
        Assert.Equal(draws[..2], draws[2..]); // same seed, same draws
        Assert.Equal(Math.Round(draws[0]), draws[0]); // lag is a whole-number parameter
        Assert.InRange(draws[1], 2, 4);
        Assert.Equal([lag, scale], SimMessages.ReadHelloReply(Send(s, Request(SimOp.Hello)).Reply).Randomisation!);
        // Step replies carry them too; a client expecting other names is told so.
        var reply = Send(s, StepRequest(0.25f, 0.25f)).Reply;
        var reward = new float[2];
        SimMessages.ReadStepReply(reply, obs, reward, new byte[2], new byte[2], new float[4], new EpisodeParamsTarget(names, draws));
        Assert.Equal(0.25f * (float)draws[1], reward[0]); // the reward is scale · action: the draw is in force
        Assert.Equal(SimErrorCode.BadValue, Assert.Throws<SimProtocolException>(() => SimMessages.ReadStepReply(reply, obs, reward, new byte[2],
            new byte[2], new float[4], new EpisodeParamsTarget(["scale"u8.ToArray(), "lag"u8.ToArray()], draws))).Code);
        // A reply without them, to a client that randomises, is a protocol error (the worker did not do as asked).
        var plain = Send(NewService(), ResetRequest()).Reply;
        Assert.Equal(SimErrorCode.MissingKey, Assert.Throws<SimProtocolException>(() => SimMessages.ReadResetReply(plain, obs, new EpisodeParamsTarget(names, draws))).Code);
        // An empty randomisation ends it.
        SimMessages.ReadResetReply(Send(s, RandomiseRequest(null)).Reply, obs);
        Assert.Equal([], SimMessages.ReadHelloReply(Send(s, Request(SimOp.Hello)).Reply).Randomisation!);
    }

    [Fact]
    public void Close_answers_ok_and_requires_a_new_reset()
    {
        using var s = NewService();
        Send(s, ResetRequest());
        var (op, reply) = Send(s, Request(SimOp.Close));
        Assert.Equal(SimOp.Close, op);
        Assert.Null(SimMessages.ReadOkReply(reply));
        Assert.Equal(SimErrorCode.NotReset, ErrorCode(Send(s, StepRequest(0f, 0f)).Reply));
    }

    [Fact]
    public void Ping_answers_with_the_session()
    {
        using var s = NewService();
        Assert.Equal(77UL, SimMessages.ReadOkReply(Send(s, Hex("82 a1 76 01 a2 6f 70 a4 70 69 6e 67")).Reply));
    }

    public static TheoryData<string, string> BadRequests() => new()
    {
        { "", SimErrorCode.Malformed },
        { "c1", SimErrorCode.Malformed },
        { "92 01 02", SimErrorCode.Malformed }, // an array, not a map
        { "82 a1 76 01 a2 6f 70 a4 70 69 6e 67 00", SimErrorCode.Malformed }, // trailing byte
        { "82 a1 76 01 a2 6f 70 a4 70 69 6e", SimErrorCode.Malformed }, // truncated
        { "83 a1 76 01 a2 6f 70 a4 70 69 6e 67 a1 78 " + string.Concat(Enumerable.Repeat("91", 20)) + "00", SimErrorCode.Malformed }, // 20 deep
        { "82 a1 76 01 a1 76 01", SimErrorCode.DuplicateKey },
        { "81 a2 6f 70 a4 70 69 6e 67", SimErrorCode.MissingKey }, // no v
        { "82 a1 76 a1 31 a2 6f 70 a4 70 69 6e 67", SimErrorCode.BadType }, // v = "1"
        { "82 a1 76 02 a2 6f 70 a4 70 69 6e 67", SimErrorCode.BadVersion },
        { "82 a1 76 cf ffffffffffffffff a2 6f 70 a4 70 69 6e 67", SimErrorCode.BadVersion }, // v = 2^64 - 1
        { "82 a1 76 d3 8000000000000000 a2 6f 70 a4 70 69 6e 67", SimErrorCode.BadVersion }, // v = -2^63
        { "81 a1 76 01", SimErrorCode.MissingKey }, // no op
        { "82 a1 76 01 a2 6f 70 05", SimErrorCode.BadType },
        { "82 a1 76 01 a2 6f 70 a4 6a 75 6d 70", SimErrorCode.UnknownOp }, // "jump"
        { "83 a1 76 01 a2 6f 70 a4 70 69 6e 67 01 02", SimErrorCode.BadType }, // integer key
        { "82 a1 76 01 a2 6f 70 a4 73 74 65 70", SimErrorCode.MissingKey }, // step without act
        { "83 a1 76 01 a2 6f 70 a4 73 74 65 70 a3 61 63 74 92 00 00", SimErrorCode.BadType }, // act as array
        { "83 a1 76 01 a2 6f 70 a4 73 74 65 70 a3 61 63 74 c4 04 00000000", SimErrorCode.BadLength }, // 1 of 2 floats
        { "83 a1 76 01 a2 6f 70 a4 73 74 65 70 a3 61 63 74 c4 07 00000000000000", SimErrorCode.BadLength },
        { "83 a1 76 01 a2 6f 70 a4 73 74 65 70 a3 61 63 74 c4 08 0000c07f 00000000", SimErrorCode.BadValue }, // NaN
        { "83 a1 76 01 a2 6f 70 a4 73 74 65 70 a3 61 63 74 c4 08 00000000 0000807f", SimErrorCode.BadValue }, // +inf
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a5 73 65 65 64 73 91 03", SimErrorCode.BadLength }, // 1 seed, 2 envs
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a5 73 65 65 64 73 a1 33", SimErrorCode.BadType },
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a5 73 65 65 64 73 92 03 a1 33", SimErrorCode.BadType },
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a5 73 65 65 64 73 92 03 cf 0000010000000000", SimErrorCode.BadValue }, // 2^40
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a6 70 61 72 61 6d 73 81 a3 66 6f 6f 01", SimErrorCode.UnknownParam }, // foo
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a6 70 61 72 61 6d 73 81 a5 73 63 61 6c 65 0b", SimErrorCode.OutOfRange }, // scale 11
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a6 70 61 72 61 6d 73 81 a3 6c 61 67 cb 3ff8000000000000", SimErrorCode.OutOfRange }, // lag 1.5
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a6 70 61 72 61 6d 73 81 a5 73 63 61 6c 65 a1 31", SimErrorCode.BadType },
        { "83 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a6 70 61 72 61 6d 73 82 a3 6c 61 67 01 a3 6c 61 67 02", SimErrorCode.DuplicateKey },
    };

    [Fact]
    public void Version_one_may_use_any_integer_form()
    {
        using var s = NewService();
        Assert.Equal(SimOp.Ping, Send(s, Hex("82 a1 76 cf 0000000000000001 a2 6f 70 a4 70 69 6e 67")).Op); // uint 64
        Assert.Equal(SimOp.Ping, Send(s, Hex("82 a1 76 d3 0000000000000001 a2 6f 70 a4 70 69 6e 67")).Op); // int 64
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void Bad_requests_get_their_error_code_and_change_nothing(string hex, string code)
    {
        using var s = NewService();
        var (_, first) = Send(s, ResetRequest([1, 2]));
        var (op, reply) = Send(s, Hex(hex));
        Assert.Null(op);
        Assert.Equal(code, ErrorCode(reply));
        Assert.Equal(1, s.Errors);
        // The worker still serves, from where it was: the hello shows untouched parameters, a step continues the episodes.
        Assert.Equal(1.0, SimMessages.ReadHelloReply(Send(s, Request(SimOp.Hello)).Reply).Params["scale"]);
        var obs = new float[4];
        SimMessages.ReadStepReply(Send(s, StepRequest(0.5f, 0.5f)).Reply, obs, new float[2], new byte[2], new byte[2], new float[4]);
        Assert.Equal([1f, 1f, 1f, 2f], obs);
    }

    [Fact]
    public void Step_before_any_reset_is_refused()
    {
        using var s = NewService();
        Assert.Equal(SimErrorCode.NotReset, ErrorCode(Send(s, StepRequest(0f, 0f)).Reply));
    }

    [Fact]
    public void Unknown_keys_and_nil_optionals_are_accepted()
    {
        using var s = NewService();
        // {"v": 1, "op": "reset", "seeds": nil, "params": nil, "trace": {"id": [1, 2]}}
        var (op, reply) = Send(s, Hex("85 a1 76 01 a2 6f 70 a5 72 65 73 65 74 a5 73 65 65 64 73 c0 a6 70 61 72 61 6d 73 c0 a5 74 72 61 63 65 81 a2 69 64 92 01 02"));
        var obs = new float[4];
        SimMessages.ReadResetReply(reply, obs);
        Assert.Equal(SimOp.Reset, op);
        Assert.Equal([0f, 100f, 0f, 101f], obs);
    }

    [Fact]
    public void A_simulator_exception_is_an_internal_error_and_needs_a_reset()
    {
        using var s = NewService();
        Send(s, ResetRequest());
        // CountingTask throws on an action of exactly -0.5 (a stand-in for a simulator that blows up).
        Assert.Equal(SimErrorCode.Internal, ErrorCode(Send(s, StepRequest(-0.5f, 0f)).Reply));
        Assert.Equal(SimErrorCode.NotReset, ErrorCode(Send(s, StepRequest(0f, 0f)).Reply));
        Send(s, ResetRequest());
        Assert.Equal(SimOp.Step, Send(s, StepRequest(0f, 0f)).Op);
    }

    [Fact]
    public void Replies_with_errors_or_wrong_shapes_are_rejected_by_the_client_decoder()
    {
        var obs = new float[4];
        Assert.Equal(SimErrorCode.BadLength, Assert.Throws<SimProtocolException>(() =>
            SimMessages.ReadResetReply(Message(w => { w.Map(3); w.Ok(); w.Key("obs"); w.W.WriteBinary((ReadOnlySpan<float>)[1f]); }), obs)).Code);
        Assert.Equal(SimErrorCode.MissingKey, Assert.Throws<SimProtocolException>(() =>
            SimMessages.ReadResetReply(Message(w => { w.Map(2); w.Ok(); }), obs)).Code);
        Assert.Equal(SimErrorCode.BadValue, Assert.Throws<SimProtocolException>(() =>
            SimMessages.ReadStepReply(Message(w =>
            {
                w.Map(7);
                w.Ok();
                foreach (var k in new[] { "obs", "final_obs" }) { w.Key(k); w.W.WriteBinary((ReadOnlySpan<float>)new float[4]); }
                w.Key("reward"); w.W.WriteBinary((ReadOnlySpan<float>)new float[2]);
                w.Key("terminated"); w.W.WriteBinary((ReadOnlySpan<byte>)[0, 2]);
                w.Key("truncated"); w.W.WriteBinary((ReadOnlySpan<byte>)[0, 0]);
            }), obs, new float[2], new byte[2], new byte[2], new float[4])).Code);
        var e = Assert.Throws<SimWorkerErrorException>(() => SimMessages.ReadOkReply(Hex(
            "83 a1 76 01 a2 6f 6b c2 a5 65 72 72 6f 72 82 a4 63 6f 64 65 a1 78 a7 6d 65 73 73 61 67 65 a1 79")));
        Assert.Equal(("x", "y"), (e.Code, e.WorkerMessage));
    }

    // ---- fuzzing ----------------------------------------------------------------------------------------------------

    private static readonly string[] KnownCodes =
    [
        SimErrorCode.Malformed, SimErrorCode.DuplicateKey, SimErrorCode.MissingKey, SimErrorCode.BadType, SimErrorCode.BadVersion,
        SimErrorCode.UnknownOp, SimErrorCode.BadLength, SimErrorCode.BadValue, SimErrorCode.UnknownParam, SimErrorCode.OutOfRange,
        SimErrorCode.NotReset, SimErrorCode.Internal,
    ];

    /// <summary>Any reply must be a well-formed v1 reply: ok, or an error with a documented code.</summary>
    private static void AssertWellFormedReply(SimOp? op, byte[] reply)
    {
        Assert.True(MsgPackReader.IsSingleValue(reply));
        if (op is null) Assert.Contains(ErrorCode(reply), KnownCodes);
    }

    [Fact]
    public void Random_bytes_always_get_an_error_reply_and_the_service_keeps_serving()
    {
        using var s = NewService();
        Send(s, ResetRequest());
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes =>
        {
            var (op, reply) = Send(s, bytes);
            AssertWellFormedReply(op, reply);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(500));
        Assert.Equal(SimOp.Step, Send(s, StepRequest(0f, 0f)).Op);
    }

    [Fact]
    public void Mutated_valid_requests_never_disturb_what_garbage_cannot_reach()
    {
        byte[][] valid =
        [
            Request(SimOp.Hello), Request(SimOp.Ping), StepRequest(0.25f, -0.75f), ResetRequest([3, 4], new() { ["scale"] = 3, ["lag"] = 1 }),
        ];
        var mutation =
            from which in Gen.Choose(0, valid.Length - 1)
            from kind in Gen.Choose(0, 3)
            from at in Gen.Choose(0, 1000)
            from value in Gen.Choose(0, 255)
            select Mutate(valid[which], kind, at, (byte)value);
        // Two services in lockstep: the probe gets every mutated request, the control only those the probe accepted.
        using var probe = NewService();
        using var control = NewService();
        Send(probe, ResetRequest());
        Send(control, ResetRequest());
        Prop.ForAll(mutation.ToArbitrary(), request =>
        {
            var (op, reply) = Send(probe, request);
            AssertWellFormedReply(op, reply);
            // Accepted requests, and valid ones the task failed on (a mutation can make the action CountingTask's −0.5),
            // are real requests: the control gets them too. Everything else must leave no trace.
            var valid = op is not null || ErrorCode(reply) == SimErrorCode.Internal;
            if (valid) Assert.Equal(reply, Send(control, request).Reply);
            if (op is null && valid) { Send(probe, ResetRequest([1, 1])); Send(control, ResetRequest([1, 1])); }
            if (op == SimOp.Close) { Send(probe, ResetRequest([1, 1])); Send(control, ResetRequest([1, 1])); }
            Assert.Equal(Send(control, StepRequest(0.1f, 0.2f)).Reply, Send(probe, StepRequest(0.1f, 0.2f)).Reply);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(1000));
    }

    private static byte[] Mutate(byte[] message, int kind, int at, byte value)
    {
        var list = message.ToList();
        var i = at % list.Count;
        switch (kind)
        {
            case 0: list[i] = value; break;                 // overwrite
            case 1: list[i] ^= (byte)(1 << (value % 8)); break; // flip a bit
            case 2: list.Insert(i, value); break;          // insert
            default: list.RemoveAt(i); break;               // delete
        }
        return [.. list];
    }
}

/// <summary>A writer that a lambda can capture (MsgPackWriter is a ref struct), for hand-built replies.</summary>
internal sealed class MsgPackWriterBox(ArrayBufferWriter<byte> buffer)
{
    public MsgPackWriter W => new(buffer);
    public void Map(int n) => W.WriteMapHeader(n);
    public void Key(string k) => W.Write(k);
    public void Ok() { Key("v"); W.Write(1); Key("ok"); W.Write(true); }
}

/// <summary>
/// A task whose outputs are known by hand: obs = [steps into the episode, the episode's seed (−1 when unseeded)],
/// reward = scale × clipped action, terminal when the clipped action is 1, 3-step horizon. An action of exactly −0.5
/// throws, standing in for a simulator failure. Parameters: scale ∈ [0, 10], lag ∈ {0..3} (accepted, unused).
/// </summary>
internal sealed class CountingTask(string name = "counting") : ISimTask
{
    private static readonly TaskParameter[] Params = [new("scale", 1, 0, 10), new("lag", 0, 0, 3, Integer: true)];
    private readonly double[] values = [1, 0];
    private int steps;
    private int seed = -1;

    public TaskSpec Spec { get; } = new(name, 2, 1, [-1f], [1f], 3);
    public IReadOnlyList<TaskParameter> Parameters => Params;

    public double GetParameter(string name) => values[Index(name)];

    public void SetParameter(string name, double value)
    {
        var i = Index(name);
        if (Params[i].Validate(value) is { } why) throw new ArgumentOutOfRangeException(nameof(value), why);
        values[i] = value;
    }

    public void Reset(int? seed, Span<float> obs)
    {
        this.seed = seed ?? -1;
        steps = 0;
        obs[0] = 0;
        obs[1] = this.seed;
    }

    public (float Reward, bool Terminated) Step(ReadOnlySpan<float> action, Span<float> obs)
    {
        if (action[0] == -0.5f) throw new InvalidOperationException("simulated blow-up");
        var a = Math.Clamp(action[0], -1f, 1f);
        obs[0] = ++steps;
        obs[1] = seed;
        return ((float)(values[0] * a), a == 1f);
    }

    public void Dispose()
    {
    }

    private static int Index(string name) => Array.FindIndex(Params, p => p.Name == name) is var i and >= 0 ? i : throw new ArgumentException(name);
}
