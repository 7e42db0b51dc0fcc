using System.Text;
using System.Text.Json;
using MeowRobot.Learner.S2ac;
using MeowRobot.Learner.Sac;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Tensors;

namespace MeowRobot.Learner.Tests;

/// <summary>What the trainer's tools do with S2AC (and SAC) policy files: <c>policy query</c> and the sampling of
/// <c>policy eval --stochastic</c>.</summary>
public sealed class S2acPolicyFileTests
{
    private static S2acOptions Small => new() { ObsDim = 3, ActDim = 2, Hidden = 16, Particles = 4, SvgdSteps = 2 };

    private static PolicyFile Exported(IOffPolicyAlgorithm algorithm) => PolicyFile.Parse(algorithm.ExportPolicy(m => m).ToBytes());

    private static readonly float[] Obs = [0.5f, -1f, 2f, -0.3f, 0.1f, 1.5f];

    private static JsonElement Query(PolicyFile file, string json) =>
        JsonDocument.Parse(PolicyQuery.Run(file, PolicyQuery.Parse(Encoding.UTF8.GetBytes(json), file.Metadata.ObsDim, file.Metadata.ActDim))).RootElement;

    /// <summary>The numbers of a JSON array of numbers or of rows of numbers, in order.</summary>
    private static float[] Flat(JsonElement e) =>
        [.. e.EnumerateArray().SelectMany(r => r.ValueKind == JsonValueKind.Array ? r.EnumerateArray().Select(v => v.GetSingle()) : [r.GetSingle()])];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Query_gives_the_deterministic_action_and_both_critics(bool amortized)
    {
        var algorithm = new S2acAlgorithm(Small with { Amortized = amortized }, new Rng(3));
        var file = Exported(algorithm);
        var root = Query(file, "{\"obs\": [[0.5, -1, 2], [-0.3, 0.1, 1.5]]}");
        var expected = new float[4];
        algorithm.DeterministicActions(Obs, 2, expected);
        Assert.Equal(expected, Flat(root.GetProperty("action")));
        if (amortized)
        {
            // ... which is what the robot runs.
            var runtime = PolicyRuntime.Create(file);
            var onRobot = new float[2];
            runtime.Act(Obs.AsSpan(0, 3), onRobot);
            Assert.Equal(expected[0], onRobot[0], 1e-5f);
            Assert.Equal(expected[1], onRobot[1], 1e-5f);
        }
        Assert.False(root.TryGetProperty("log_prob", out _));

        // q1, q2 at the given actions, as the learner's critics give them.
        var given = Query(file, "{\"obs\": [[0.5, -1, 2], [-0.3, 0.1, 1.5]], \"act\": [[0.2, -0.4], [0.9, 0]]}");
        var tape = new Tape();
        using (tape.NoGrad())
        {
            var obs = tape.Input(Obs, 2, 3);
            var act = tape.Input([0.2f, -0.4f, 0.9f, 0f], 2, 2);
            Assert.Equal(algorithm.Policy.Q1.Forward(tape, obs, act).Values.ToArray(), Flat(given.GetProperty("q1")));
            Assert.Equal(algorithm.Policy.Q2.Forward(tape, obs, act).Values.ToArray(), Flat(given.GetProperty("q2")));
        }
        Assert.NotEqual(Flat(given.GetProperty("q1")), Flat(root.GetProperty("q1")));
    }

    public static TheoryData<string> Samplers() => ["sac", "s2ac-amortized", "s2ac-svgd"];

    private static (IOffPolicyAlgorithm Algorithm, PolicyFile File) Policy(string which)
    {
        IOffPolicyAlgorithm algorithm = which switch
        {
            "sac" => new SacAlgorithm(3, 2, new SacOptions { Hidden = 16 }, new Rng(4)),
            "s2ac-amortized" => new S2acAlgorithm(Small, new Rng(4)),
            _ => new S2acAlgorithm(Small with { Amortized = false }, new Rng(4)),
        };
        return (algorithm, Exported(algorithm));
    }

    [Theory]
    [MemberData(nameof(Samplers))]
    public void Sampling_a_file_is_seeded_stays_in_the_tanh_box_and_spreads_around_the_deterministic_action(string which)
    {
        var (algorithm, file) = Policy(which);
        var sample = PolicySampling.FromFile(file);
        const int Rows = 200;
        var obs = new float[Rows * 3];
        for (var r = 0; r < Rows; r++) Obs.AsSpan(0, 3).CopyTo(obs.AsSpan(r * 3));   // one state, many draws
        float[] a = new float[Rows * 2], b = new float[Rows * 2], det = new float[2];
        sample(obs, Rows, a, new Rng(9));
        sample(obs, Rows, b, new Rng(9));
        Assert.Equal(a, b);
        Assert.All(a, v => Assert.InRange(v, -1f, 1f));
        Assert.True(a.Distinct().Count() > Rows, $"{which}: draws for one state should differ");
        algorithm.DeterministicActions(Obs.AsSpan(0, 3), 1, det);
        // The draws' mean lies near the deterministic action (the amortized net at E[ξ], tanh(μ), the highest-Q particle):
        // within the spread of the draws.
        for (var j = 0; j < 2; j++)
        {
            var column = Enumerable.Range(0, Rows).Select(r => (double)a[r * 2 + j]).ToArray();
            var mean = column.Average();
            var std = Math.Sqrt(column.Select(v => (v - mean) * (v - mean)).Average());
            Assert.True(std > 1e-3, $"{which}: dimension {j} does not vary (std {std})");
            Assert.True(Math.Abs(mean - det[j]) < 2 * std + 0.05, $"{which}: mean {mean:F3} of the draws is far from the deterministic action {det[j]:F3} (std {std:F3})");
        }
    }

    [Fact]
    public void Amortized_samples_are_f_at_random_noise()
    {
        var algorithm = new S2acAlgorithm(Small, new Rng(5));
        var sample = PolicySampling.FromFile(Exported(algorithm));
        var actions = new float[2];
        sample(Obs.AsSpan(0, 3), 1, actions, new Rng(21));
        var xi = new float[2];
        new Rng(21).FillNormal(xi);
        var tape = new Tape();
        using (tape.NoGrad())
        {
            var f = algorithm.Policy.Pi.Sampler!.Forward(tape, tape.Input(Obs.AsSpan(0, 3), 1, 3), tape.Input(xi, 1, 2));
            Assert.Equal(tape.Tanh(f).Values.ToArray(), actions);
        }
    }
}
