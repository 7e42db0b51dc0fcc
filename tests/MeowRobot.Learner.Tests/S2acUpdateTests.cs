using MeowRobot.Learner.S2ac;
using MeowRobot.Tensors;

namespace MeowRobot.Learner.Tests;

/// <summary>The S2AC update beyond the golden cases: its two-thread form, its steady-state allocations, the noise it
/// draws, the amortized sampler and its options.</summary>
public sealed class S2acUpdateTests
{
    private static S2acOptions Small(int threads = 1, bool amortized = true) =>
        new() { ObsDim = 3, ActDim = 2, Hidden = 16, Particles = 4, SvgdSteps = 2, Threads = threads, Amortized = amortized };

    private static ReplayBatch Batch(int size, S2acOptions o, ulong seed)
    {
        var rng = new Rng(seed);
        var b = new ReplayBatch(size, o.ObsDim, o.ActDim);
        rng.FillNormal(b.Obs);
        rng.FillNormal(b.NextObs);
        rng.FillUniform(b.Act, -0.9f, 0.9f);
        rng.FillNormal(b.Reward);
        b.Done[1] = 1f;
        return b;
    }

    [Fact]
    public void Two_threads_give_the_update_of_one()
    {
        var one = new S2acUpdate(new S2acPolicy(Small(1), new Rng(5)));
        var two = new S2acUpdate(new S2acPolicy(Small(2), new Rng(5)));
        for (var k = 0; k < 3; k++)
        {
            var batch = Batch(8, one.Options, (ulong)k);
            var a = one.Step(batch, new Rng(100 + (ulong)k));
            var b = two.Step(batch, new Rng(100 + (ulong)k));
            Assert.Equal(a.CriticLoss, b.CriticLoss, 1e-5f);
            Assert.Equal(a.ActorLoss, b.ActorLoss, 1e-5f);
            Assert.Equal(a.ActorGradNorm, b.ActorGradNorm, 1e-4f);
        }
        var x = one.Online.StateDict();
        foreach (var (name, values) in two.Online.StateDict())
            for (var i = 0; i < values.Length; i++)
                Assert.True(Math.Abs(values[i] - x[name][i]) <= 1e-5f, $"{name}[{i}]: {values[i]} vs {x[name][i]}");
    }

    [Fact]
    public void A_warm_update_allocates_nothing()
    {
        var update = new S2acUpdate(new S2acPolicy(Small(), new Rng(3)));
        var batch = Batch(8, update.Options, 1);
        var noise = new Rng(2);
        for (var i = 0; i < 3; i++) update.Step(batch, noise);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 5; i++) update.Step(batch, noise);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Initial_noise_lies_strictly_within_three_sigma_and_is_standard_inside()
    {
        var eps = new float[30_000];
        InitialDistribution.DrawNoise(new Rng(9), eps, 3);
        Assert.All(eps, e => Assert.True(MathF.Abs(e) < InitialDistribution.Truncation));
        var mean = eps.Average();
        var variance = eps.Select(e => (e - mean) * (e - mean)).Average();
        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(variance, 0.95, 1.0); // N(0, 1) truncated at ±3 (per particle) has variance ≈ 0.973
    }

    [Fact]
    public void The_amortized_sampler_moves_along_the_stein_direction_and_only_it_changes_without_an_actor_step()
    {
        var policy = new S2acPolicy(Small(), new Rng(4));
        var update = new S2acUpdate(policy);
        var before = policy.Pi.Sampler!.StateDict();
        update.Step(Batch(8, update.Options, 3), new Rng(1));
        var after = policy.Pi.Sampler!.StateDict();
        Assert.Contains(after, kv => kv.Value.Where((v, i) => v != before[kv.Key][i]).Any());
        Assert.Equal(1, update.SamplerAdam!.States[0].Step);
    }

    [Fact]
    public void The_amortized_stein_direction_follows_the_critics_inside_the_action_box_and_comes_back_from_beyond_it()
    {
        // Critics that rise along every action dimension, inside the box and (extrapolating) far beyond it:
        // Q(s, a) = 10 · ELU(a1 + a2).
        var o = new S2acOptions { ObsDim = 3, ActDim = 2, Hidden = 1, CriticLayers = 1, Particles = 4, SvgdSteps = 2, ActLimit = 1.5f };
        var critics = new[] { new Critic(o, new Rng(1)), new Critic(o, new Rng(2)) };
        foreach (var q in critics)
            q.LoadStateDict(new Dictionary<string, float[]>
            {
                ["net.0.weight"] = [0f, 0f, 0f, 1f, 1f], ["net.0.bias"] = [0f], ["net.2.weight"] = [10f], ["net.2.bias"] = [0f],
            });
        var stein = new SteinSampler(o.Particles, o.SvgdSteps, o.SvgdLearningRate, o.ActDim);
        var tape = new Tape();
        var obs = tape.Input(new float[4 * 3], 4, 3);

        float[] MeanDirection(float centre)
        {
            float[] u = [centre, centre + 0.1f, centre - 0.1f, centre + 0.2f, centre + 0.2f, centre - 0.2f, centre - 0.1f, centre];
            var phi = stein.Direction(tape, critics[0], critics[1], obs, tape.Input(u, 4, 2), o.ActLimit).Values;
            return [(phi[0] + phi[2] + phi[4] + phi[6]) / 4, (phi[1] + phi[3] + phi[5] + phi[7]) / 4];
        }

        // Read at the pre-tanh particles, these critics would push u = 4 further out (their slope there is 10).
        var far = tape.Input(new float[] { 4f, 4f, 4f, 4f, 4f, 4f, 4f, 4f }, 4, 2, requiresGrad: true);
        Assert.All(tape.Grad(tape.Sum(critics[0].Forward(tape, obs, far)), far).Values.ToArray(), g => Assert.Equal(10f, g, 1e-3f));
        Assert.All(MeanDirection(0.3f), v => Assert.True(v > 1f, $"inside the box φ follows the critics up: {v}"));
        Assert.All(MeanDirection(4f), v => Assert.True(v < -0.5f, $"beyond the box φ points back: {v}"));
    }

    [Fact]
    public void Multigoal_svgd_steps_climb_critics_as_steep_as_its_action_cost_where_the_official_step_size_overshoots()
    {
        // Critics with one peak at m and curvature 120 around it, what the critics learned on multigoal-maxent have (their
        // −30‖a‖² action cost gives 60, the value of where the step lands about as much again; measured 60–120):
        // Q(s, a) = −120 Σ_d [ELU(a_d − m_d) + ELU(m_d − a_d)] ≈ −60 ‖a − m‖² near m.
        var (preset, _) = S2acPresets.For("multigoal-maxent", obsDim: 2, actDim: 2);
        var o = preset with { Hidden = 4, CriticLayers = 1 };
        float[] m = [0.3f, -0.2f];
        var critics = new[] { new Critic(o, new Rng(1)), new Critic(o, new Rng(2)) };
        foreach (var q in critics)
            q.LoadStateDict(new Dictionary<string, float[]>
            {
                ["net.0.weight"] = [0, 0, 1, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, -1], ["net.0.bias"] = [-m[0], m[0], -m[1], m[1]],
                ["net.2.weight"] = [-120, -120, -120, -120], ["net.2.bias"] = [0],
            });
        const int states = 50;
        var tape = new Tape();
        var obs = tape.Input(new float[states * o.Particles * 2], states * o.Particles, 2);
        var x0 = new float[states * o.Particles * 2];
        new Rng(3).FillNormal(x0);
        for (var i = 0; i < x0.Length; i++) x0[i] *= o.InitialSigma;

        float MeanQ(ReadOnlySpan<float> x) => tape.Mean(critics[0].Forward(tape, obs, tape.Input(x, x.Length / 2, 2))).Item();
        float After(float lr) => MeanQ(new SteinSampler(o.Particles, o.SvgdSteps, lr, 2).Run(tape, critics[0], critics[1], obs, tape.Input(x0, x0.Length / 2, 2), false, false).Particles.Values);

        var start = MeanQ(x0);
        var official = After(0.1f);
        var ours = After(o.SvgdLearningRate);
        Assert.True(official < start, $"the official step 0.1 overshoots: mean Q {start} → {official}");
        Assert.True(ours > start + 0.5f * (0 - start), $"the preset's step {o.SvgdLearningRate} climbs at least half way to the peak: mean Q {start} → {ours}");
    }

    [Fact]
    public void Options_are_checked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Small() with { Particles = 1 } is var o ? new S2acPolicy(o, new Rng(1)) : null);
        Assert.Throws<ArgumentOutOfRangeException>(() => new S2acPolicy(Small() with { Threads = 3 }, new Rng(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new S2acPolicy(Small() with { SvgdLearningRate = float.NaN }, new Rng(1)));
        Assert.Throws<InvalidDataException>(() => S2acOptions.FromMetadata(new Dictionary<string, string> { ["s2ac.obs_dim"] = "3" }));
        Assert.Throws<InvalidDataException>(() => S2acOptions.FromMetadata(new Dictionary<string, string> { ["s2ac.obs_dim"] = "3", ["s2ac.act_dim"] = "x" }));
    }
}
