using MeowRobot.Tensors;
using MeowRobot.Bridge.Sim;
using MeowRobot.Learner.S2ac;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Tasks;

namespace MeowRobot.Learner.Tests;

/// <summary>S2AC in the shared loop: a short Pendulum run must learn (fails when learning breaks); its policy files.</summary>
public sealed class S2acLearningTests
{
    private static S2acOptions Small => new() { ObsDim = 3, ActDim = 1, Hidden = 32, Particles = 5, SvgdSteps = 2 };

    [Fact]
    public void A_short_pendulum_run_beats_the_random_policy_clearly()
    {
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1, baseSeed: 3);
        using var evalEnv = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1, baseSeed: 4);
        var loop = new LearnerOptions { Seed = 3, BatchSize = 64, LearningStarts = 500, EvalEvery = 0, EvalEpisodes = 5, BufferCapacity = 10_000 };
        var learner = new OffPolicyLearner(S2acAlgorithm.Factory(Small), loop, env, evalEnv);

        var before = learner.Evaluate().MeanReturn;
        var after = learner.Run(4000)[^1];

        // The amortized actor's return (what a robot would run); seeded and single-threaded, so the figure is reproducible:
        // −867 from −1619 with the squashed Stein direction (a175b7f). A policy that has not learnt stays near the untrained one.
        Assert.True(after.MeanReturn > before + 400,
            $"deterministic return after 4000 steps {after.MeanReturn:F0} (untrained {before:F0}); S2AC learning is broken");
    }

    [Fact]
    public void The_amortized_policy_file_holds_the_sampling_network_and_the_critics()
    {
        var algorithm = new S2acAlgorithm(Small, new Rng(7));
        var file = PolicyFile.Parse(algorithm.ExportPolicy(m => m).ToBytes());
        Assert.Equal(PolicyAlgorithm.S2ac, file.Metadata.Algorithm);
        Assert.Equal(S2acActor.Amortized, file.Metadata.S2ac.Actor);
        Assert.Contains(file.Tensors, t => t.Name == "pi.f.net.0.weight" && t.Shape.SequenceEqual([32, 4]));
        Assert.DoesNotContain(file.Tensors, t => t.Name.StartsWith("pi.p0.", StringComparison.Ordinal));
        // f has the default two hidden layers (Linear at 0, 2, 4), and the file says so.
        Assert.Equal(2, file.Metadata.S2ac.SamplerLayers);
        Assert.Equal(3, file.Metadata.S2ac.ActorLayers);
        Assert.DoesNotContain(file.Tensors, t => t.Name == "pi.f.net.6.bias");
        Assert.Equal(algorithm.Policy.StateDict()["pi.f.net.4.bias"], file["pi.f.net.4.bias"].Values);

        // The controller's runtime runs it as the trainer acts: act_limit · tanh(f(s, 0)).
        var runtime = PolicyRuntime.Create(file);
        var rng = new Rng(11);
        var obs = new float[3];
        float[] expected = new float[1], action = new float[1];
        for (var k = 0; k < 20; k++)
        {
            rng.FillNormal(obs);
            algorithm.DeterministicActions(obs, 1, expected);
            runtime.Act(obs, action);
            Assert.Equal(expected[0], action[0], 1e-5f);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void The_sampling_network_depth_is_configurable_and_a_file_of_it_loads_back(int layers)
    {
        var algorithm = new S2acAlgorithm(Small with { SamplerLayers = layers }, new Rng(5));
        var file = PolicyFile.Parse(algorithm.ExportPolicy(m => m).ToBytes());
        Assert.Equal(layers, file.Metadata.S2ac.SamplerLayers);
        Assert.Equal(layers + 1, file.Tensors.Count(t => t.Name.StartsWith("pi.f.net.", StringComparison.Ordinal) && t.Name.EndsWith(".weight", StringComparison.Ordinal)));
        var loaded = S2acAlgorithm.FromFile(file, new Rng(6));
        Assert.Equal(layers, loaded.Options.SamplerLayers);
        float[] obs = [0.3f, -1.2f, 2f], expected = new float[1], actual = new float[1];
        algorithm.DeterministicActions(obs, 1, expected);
        loaded.DeterministicActions(obs, 1, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void An_amortized_file_without_sampler_layers_has_actor_layers_in_f()
    {
        // Files written before s2ac.sampler_layers existed: f had as many hidden layers as p0's trunk.
        var metadata = new PolicyMetadata
        {
            Algorithm = PolicyAlgorithm.S2ac, ObsDim = 3, ActDim = 1,
            S2ac = new S2acArchitecture { Hidden = 8, ActorLayers = 3, CriticLayers = 1, Actor = S2acActor.Amortized },
        };
        var file = PolicyFile.Parse(PolicyFile.Initialized(metadata, seed: 2).ToBytes());
        Assert.Null(file.Metadata.S2ac.SamplerLayers);
        Assert.Contains(file.Tensors, t => t.Name == "pi.f.net.6.weight");
        Assert.Equal(3, S2acAlgorithm.FromFile(file, new Rng(1)).Options.SamplerLayers);
    }

    [Fact]
    public void The_svgd_actor_file_keeps_the_official_names_and_loads_back()
    {
        var algorithm = new S2acAlgorithm(Small with { Amortized = false }, new Rng(8));
        var file = PolicyFile.Parse(algorithm.ExportPolicy(m => m).ToBytes());
        Assert.Equal(S2acActor.Svgd, file.Metadata.S2ac.Actor);
        Assert.Contains(file.Tensors, t => t.Name == "pi.p0.mu_layer.weight");
        var copy = new S2acPolicy(Small with { Amortized = false }, new Rng(9));
        copy.LoadStateDict(file.Tensors.ToDictionary(t => t.Name, t => t.Values));
        Assert.Equal(algorithm.Policy.StateDict()["q2.net.4.bias"], copy.StateDict()["q2.net.4.bias"]);
    }
    [Fact]
    public void The_fixed_start_has_no_actor_to_train_writes_its_sigma_and_acts_as_its_file_does()
    {
        // The official svgd_nonparam actor: a0 = σ₀ ε, log p0 = −A/2 ln(2π σ₀) − ‖a0‖² / (2σ₀) as that code writes it.
        var options = Small with { InitialDistribution = S2acInitial.Fixed, InitialSigma = 0.5f, Amortized = false, SvgdSteps = 0 };
        var algorithm = new S2acAlgorithm(options, new Rng(12));
        Assert.Null(algorithm.Policy.Pi.P0);
        var tape = new Tape();
        float[] obs = [0.3f, -0.2f, 0.1f], eps = [0.4f, -1.2f, 2.5f, 0.0f, -0.7f];
        var sample = algorithm.Policy.Pi.Sample(tape, algorithm.Policy.Q1, algorithm.Policy.Q2, tape.Input(obs, 1, 3), eps, differentiable: false, withLogProb: true);
        for (var i = 0; i < eps.Length; i++)
        {
            var a0 = 0.5f * eps[i];
            Assert.Equal(a0, sample.PreTanh.Values[i], 1e-6f);
            Assert.Equal(-0.5 * Math.Log(2 * Math.PI * 0.5) - a0 * a0 / (2 * 0.5), sample.LogProbInitial!.Values[i], 1e-5);
        }

        // An update trains the critics only (no actor loss), and the file says where particles start.
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1, baseSeed: 3);
        var learner = new OffPolicyLearner(S2acAlgorithm.Factory(options with { SvgdSteps = 2 }), new LearnerOptions { Seed = 3, BatchSize = 16, LearningStarts = 32, BufferCapacity = 1000 }, env);
        UpdateStats last = default;
        learner.Reported += e => { if (e is Updated u) last = u.Stats; };
        learner.Run(40);
        Assert.True(float.IsFinite(last.Loss) && float.IsNaN(last.ActorLoss), $"critic loss {last.Loss}, actor loss {last.ActorLoss}");
        var trained = (S2acAlgorithm)learner.Algorithm;
        var file = PolicyFile.Parse(trained.ExportPolicy(m => m).ToBytes());
        Assert.Equal(0.5, file.Metadata.S2ac.InitialSigma);
        Assert.DoesNotContain(file.Tensors, t => t.Name.StartsWith("pi.p0.", StringComparison.Ordinal));
        var loaded = S2acAlgorithm.FromFile(file, new Rng(5));
        Assert.Equal(S2acInitial.Fixed, loaded.Options.InitialDistribution);
        float[] expected = new float[1], actual = new float[1];
        trained.DeterministicActions(obs, 1, expected);
        loaded.DeterministicActions(obs, 1, actual);
        Assert.Equal(expected[0], actual[0], 1e-6f);
    }
}
