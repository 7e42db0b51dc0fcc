using MeowRobot.Policy.Files;
using MeowRobot.Tensors;
using MeowRobot.Testing;

namespace MeowRobot.Learner.Tests;

public sealed class FlowPolicyTests
{
    private static readonly FlowShape Small = new() { ObsDim = 4, ActDim = 3, Hidden = 16, ShiftHidden = 32, Alpha = 0.3f };

    /// <summary>A policy whose every parameter is random (the official init leaves some layers at zero).</summary>
    private static FlowPolicy Randomised(FlowShape shape, ulong seed)
    {
        var rng = new Rng(seed);
        var policy = new FlowPolicy(shape, rng);
        foreach (var p in policy.Parameters()) rng.FillNormal(p.Values, 0f, 0.3f);
        policy.Eval();
        return policy;
    }

    private static Tensor RandomInput(Tape tape, Rng rng, int rows, int cols, float scale)
    {
        var t = tape.Zeros(rows, cols);
        rng.FillUniform(t.Values, -scale, scale);
        return t;
    }

    [Fact]
    public void Pull_back_inverts_push_forward()
    {
        var policy = Randomised(Small, 5);
        var tape = new Tape();
        var rng = new Rng(6);
        var obs = RandomInput(tape, rng, 32, Small.ObsDim, 2f);
        var z = RandomInput(tape, rng, 32, Small.ActDim, 3f);
        var back = policy.PullBack(tape, policy.PushForward(tape, z, obs), obs);
        for (var i = 0; i < z.Length; i++) Assert.Equal(z[i], back[i], 1e-4f);
    }

    [Fact]
    public void Stacked_Q_on_the_states_once_equals_Q1_and_Q2_on_an_explicitly_doubled_batch()
    {
        // Eval mode, so both halves see the same (no) dropout: the stacked evaluation, which runs the couplings'
        // state-dependent parts once per state, must equal the plain per-shift Q on a batch that repeats the states.
        var policy = Randomised(Small, 21);
        var tape = new Tape();
        var rng = new Rng(22);
        var obs = RandomInput(tape, rng, 16, Small.ObsDim, 2f);
        var act = RandomInput(tape, rng, 16, Small.ActDim, 0.95f);
        var stacked = policy.StackedSoftQ(tape, obs, act);
        var q1 = policy.SoftQ(tape, obs, act, 1);
        var q2 = policy.SoftQ(tape, obs, act, 2);
        Assert.Equal(32, stacked.Rows);
        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(q1[i], stacked[i], 1e-4f * Math.Max(1f, Math.Abs(q1[i])));
            Assert.Equal(q2[i], stacked[16 + i], 1e-4f * Math.Max(1f, Math.Abs(q2[i])));
        }
        var doubled = tape.Concat(0, obs, obs);
        var back = policy.PullBack(tape, tape.Concat(0, act, act), obs);
        var reference = policy.PullBack(tape, tape.Concat(0, act, act), doubled);
        for (var i = 0; i < back.Length; i++) Assert.Equal(reference[i], back[i], 1e-5f);
        Assert.Throws<ArgumentException>(() => policy.PullBack(tape, act, doubled)); // fewer rows than states
    }

    [Fact]
    public void A_sample_reports_the_log_prob_that_the_inverse_path_gives_its_action()
    {
        var policy = Randomised(Small with { SigmaMax = -1f }, 7);
        var tape = new Tape();
        var obs = RandomInput(tape, new Rng(8), 64, Small.ObsDim, 1f);
        var (action, logProb) = policy.Sample(tape, obs, new Rng(9));
        var inverse = policy.LogProb(tape, obs, action);
        for (var i = 0; i < 64; i++)
        {
            if (action.Row(i).ToArray().Any(a => MathF.Abs(a) > 0.999f)) continue; // clamped by the inverse's bound
            Assert.Equal(logProb[i], inverse[i], 0.01f);
        }
    }

    [Fact]
    public void Log_prob_is_Q_minus_V_over_alpha_for_either_shift()
    {
        var policy = Randomised(Small, 11);
        var tape = new Tape();
        var rng = new Rng(12);
        var obs = RandomInput(tape, rng, 16, Small.ObsDim, 1f);
        var act = RandomInput(tape, rng, 16, Small.ActDim, 0.9f);
        var (q1, q2) = policy.SoftQ(tape, obs, act);
        var (v1, v2) = policy.SoftValue(tape, obs);
        var logProb = policy.LogProb(tape, obs, act);
        for (var i = 0; i < 16; i++)
        {
            Assert.NotEqual(q1[i], q2[i]); // the shifts differ…
            Assert.Equal(logProb[i], (q1[i] - v1[i]) / Small.Alpha, 0.002f); // …and cancel
            Assert.Equal(logProb[i], (q2[i] - v2[i]) / Small.Alpha, 0.002f);
        }
    }

    [Fact]
    public void Log_prob_integrates_to_one_over_the_action_box()
    {
        // One action dimension: ∫ π(a|s) da over (−1, 1) by the midpoint rule.
        var shape = new FlowShape { ObsDim = 2, ActDim = 1, Hidden = 8, ShiftHidden = 8, SigmaMax = 0.5f, SigmaMin = -1f };
        var policy = Randomised(shape, 13);
        var tape = new Tape();
        const int n = 20_000;
        var obs = tape.Full(n, 2, 0.3f);
        var act = tape.Zeros(n, 1);
        for (var i = 0; i < n; i++) act[i] = -1f + (i + 0.5f) * 2f / n;
        var logProb = policy.LogProb(tape, obs, act);
        var integral = 0.0;
        for (var i = 0; i < n; i++) integral += Math.Exp(logProb[i]) * 2.0 / n;
        Assert.Equal(1.0, integral, 0.01);
    }

    [Fact]
    public void Saved_policy_files_load_back_with_the_same_outputs()
    {
        var policy = Randomised(Small, 21);
        var bytes = policy.ToFile(m => m with { Task = "pendulum" }).ToBytes();
        var file = PolicyFile.Parse(bytes);
        Assert.Equal("pendulum", file.Metadata.Task);
        Assert.Equal(Small.Alpha, (float)file.Metadata.Alpha);
        var loaded = FlowPolicy.FromFile(file);
        loaded.Eval();
        var tape = new Tape();
        var obs = RandomInput(tape, new Rng(22), 8, Small.ObsDim, 1f);
        Assert.Equal(policy.DeterministicAction(tape, obs).ToArray(), loaded.DeterministicAction(tape, obs).ToArray());
        Assert.Equal(policy.SoftValue(tape, obs, 2).ToArray(), loaded.SoftValue(tape, obs, 2).ToArray());
    }

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Golden_weights_save_back_to_the_same_names_shapes_and_values(string name)
    {
        var golden = PolicyFile.Load(GoldenCase.Load(name).Weights);
        var saved = FlowPolicy.FromFile(golden).ToFile(m => m with { Source = golden.Metadata.Source });
        Assert.Equal(golden.Tensors.Select(t => t.Name), saved.Tensors.Select(t => t.Name));
        foreach (var t in golden.Tensors)
        {
            Assert.Equal(t.Shape, saved[t.Name].Shape);
            Assert.Equal(t.Values, saved[t.Name].Values);
        }
        Assert.Equal(golden.Metadata.ToEntries(), saved.Metadata.ToEntries());
    }

    [Fact]
    public void Loading_a_file_of_another_architecture_is_refused()
    {
        var file = Randomised(Small, 1).ToFile();
        var other = new FlowPolicy(Small with { Hidden = 8 }, new Rng(1));
        Assert.Throws<ArgumentException>(() => other.Load(file));
    }

    public static TheoryData<string> Cases() => SharedMaterial.GoldenCaseNames();
}
