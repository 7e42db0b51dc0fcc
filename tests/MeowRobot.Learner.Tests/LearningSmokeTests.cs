using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;

namespace MeowRobot.Learner.Tests;

/// <summary>Fails when learning breaks: a short fixed-seed Pendulum run with a small network must clearly beat the
/// random policy (about −1200 per 200-step episode; swinging up and holding scores above −400).</summary>
public sealed class LearningSmokeTests
{
    [Fact]
    public void A_short_pendulum_run_beats_the_random_policy_clearly()
    {
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1, baseSeed: 3);
        using var evalEnv = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1, baseSeed: 4);
        var shape = new FlowShape { ObsDim = 3, ActDim = 1, Hidden = 32, ShiftHidden = 64, Alpha = 0.1f };
        var loop = new LearnerOptions { Seed = 3, BatchSize = 128, LearningStarts = 500, EvalEvery = 0, EvalEpisodes = 5, BufferCapacity = 10_000 };
        var learner = MeowLearners.Create(shape, new MeowOptions(), loop, env, evalEnv);

        var before = learner.Evaluate().MeanReturn;
        var after = learner.Run(4000)[^1];

        Assert.Equal(4000, after.EnvSteps);
        Assert.True(after.MeanReturn > -400 && after.MeanReturn > before + 400,
            $"deterministic return after 4000 steps {after.MeanReturn:F0} (untrained {before:F0}); learning is broken");
    }

    [Theory]
    [InlineData(4, 1.0, 4 * 25)]       // the default: one update per transition, whatever the number of envs
    [InlineData(4, 0.5, 2 * 25)]
    [InlineData(1, 0.3, 7)]            // 25 transitions × 0.3 = 7.5: the fraction carries, 7 whole updates so far
    [InlineData(8, 0.125, 25)]         // the old default with 8 envs: one per vector step
    public void The_update_ratio_counts_updates_per_collected_transition(int envs, double ratio, int expected)
    {
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), envs, baseSeed: 0);
        var shape = new FlowShape { ObsDim = 3, ActDim = 1, Hidden = 8, ShiftHidden = 8 };
        var learner = MeowLearners.Create(shape, new MeowOptions(), new LearnerOptions { Seed = 5, BatchSize = 8, LearningStarts = 0, BufferCapacity = 1000, UpdatesPerTransition = ratio }, env);
        for (var i = 0; i < 25; i++) learner.Step();   // 25 vector steps
        Assert.Equal(25 * envs, learner.EnvSteps);
        Assert.Equal(expected, learner.Updates);
    }

    [Fact]
    public void Random_actions_can_outlast_the_start_of_learning_as_the_official_S2AC_explores()
    {
        // S2AC's exploration_steps (random actions) and update_after (first update) differ; the default keeps them one.
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 2, baseSeed: 0);
        var shape = new FlowShape { ObsDim = 3, ActDim = 1, Hidden = 8, ShiftHidden = 8 };
        var loop = new LearnerOptions { Seed = 5, BatchSize = 8, LearningStarts = 20, RandomSteps = 60, BufferCapacity = 1000 };
        Counting? counting = null;
        var learner = new OffPolicyLearner(rng => counting = new Counting(MeowAlgorithm.Factory(shape, new MeowOptions(), loop)(rng)), loop, env);
        for (var i = 0; i < 50; i++) learner.Step();   // 100 env steps
        Assert.Equal(100 - 20 + 2, learner.Updates);        // from the vector step that reaches 20 env steps on
        Assert.Equal(100 - 60, counting!.SampledRows);     // the policy acts from 60 env steps on

        var plain = loop with { RandomSteps = null };
        Assert.Equal(20, plain.RandomActionSteps);
        Assert.Throws<ArgumentOutOfRangeException>(() => (loop with { RandomSteps = -1 }).Validate());
    }

    /// <summary>Counts the rows the loop asks the policy to act on; the rest it delegates.</summary>
    private sealed class Counting(IOffPolicyAlgorithm inner) : IOffPolicyAlgorithm
    {
        public int SampledRows { get; private set; }
        public MeowRobot.Policy.Files.PolicyAlgorithm Algorithm => inner.Algorithm;
        public int ObsDim => inner.ObsDim;
        public int ActDim => inner.ActDim;
        public long Updates { get => inner.Updates; set => inner.Updates = value; }
        public void SampleActions(ReadOnlySpan<float> obs, int rows, Span<float> actions, MeowRobot.Bridge.Randomness.Rng rng)
        {
            SampledRows += rows;
            inner.SampleActions(obs, rows, actions, rng);
        }
        public void DeterministicActions(ReadOnlySpan<float> obs, int rows, Span<float> actions) => inner.DeterministicActions(obs, rows, actions);
        public UpdateStats Update(ReplayBatch batch) => inner.Update(batch);
        public MeowRobot.Policy.Files.PolicyFile ExportPolicy(Func<MeowRobot.Policy.Files.PolicyMetadata, MeowRobot.Policy.Files.PolicyMetadata> common) => inner.ExportPolicy(common);
        public void SaveState(BinaryWriter writer) => inner.SaveState(writer);
        public void LoadState(BinaryReader reader, int version) => inner.LoadState(reader, version);
    }

    [Fact]
    public void Runs_with_in_process_envs_are_reproducible_from_the_seed()
    {
        double[] Run()
        {
            using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 2, baseSeed: 0);
            var shape = new FlowShape { ObsDim = 3, ActDim = 1, Hidden = 8, ShiftHidden = 8 };
            var learner = MeowLearners.Create(shape, new MeowOptions(), new LearnerOptions { Seed = 5, BatchSize = 16, LearningStarts = 50, BufferCapacity = 1000 }, env);
            var losses = new List<double>();
            learner.Reported += e => { if (e is Updated u) losses.Add(u.Stats.Loss); };
            learner.Run(120);
            return [.. losses];
        }
        var a = Run();
        Assert.Equal(72, a.Length); // one update per transition from 50 env steps to 120: 36 vector steps of 2 envs
        Assert.Equal(a, Run());
    }
}
