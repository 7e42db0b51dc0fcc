using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;
using MeowRobot.Tensors;

namespace MeowRobot.Learner.Tests;

public sealed class ObservationNormalizerTests
{
    [Fact]
    public void Running_statistics_equal_the_batch_mean_and_population_variance()
    {
        var rng = new Rng(3);
        var rows = new float[500][];
        var norm = new ObservationNormalizer(3);
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = [rng.Normal(5f, 2f), rng.Normal(-1f, 0.1f), rng.Uniform(0f, 100f)];
            norm.Observe(rows[i]);
        }
        var m = norm.ToMetadata();
        for (var j = 0; j < 3; j++)
        {
            var mean = rows.Average(r => (double)r[j]);
            var variance = rows.Average(r => (r[j] - mean) * (r[j] - mean));
            Assert.Equal(mean, m.Mean[j], Math.Abs(mean) * 1e-6 + 1e-6);
            Assert.Equal(variance, m.Var[j], variance * 1e-5);
        }
        Assert.Equal(500, norm.Count);
    }

    [Fact]
    public void Normalises_and_clips_and_is_the_identity_before_any_observation()
    {
        var norm = new ObservationNormalizer(2, clip: 5f);
        var into = new float[4];
        norm.Normalize([0.5f, -3f, 7f, -9f], into);
        Assert.Equal([0.5f, -3f, 5f, -5f], into);

        norm.Observe([1f, 10f]);
        norm.Observe([3f, 10f]); // mean (2, 10), var (1, 0)
        norm.Normalize([4f, 10.01f], into.AsSpan(0, 2));
        Assert.Equal(2f, into[0], 1e-5f);
        Assert.Equal(5f, into[1]); // 0.01 / sqrt(0 + 1e-8) = 100 → clipped
    }

    [Fact]
    public void A_learner_with_normalisation_exports_its_statistics_and_action_box()
    {
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
        var shape = new FlowShape { ObsDim = 3, ActDim = 1, Hidden = 8, ShiftHidden = 8 };
        var learner = MeowLearners.Create(shape, new MeowOptions(), new LearnerOptions { BatchSize = 8, LearningStarts = 20, BufferCapacity = 100, NormalizeObservations = true }, env);
        learner.Run(60);
        var file = learner.ExportPolicy();
        Assert.Equal("pendulum", file.Metadata.Task);
        Assert.Equal([-2f], file.Metadata.ActionScale!.Low);
        Assert.Equal([2f], file.Metadata.ActionScale!.High);
        var stats = file.Metadata.ObsNorm!;
        Assert.Equal(61, learner.ObsNormalizer!.Count); // the first observation and one per step
        Assert.InRange(stats.Mean[0], -1f, 1f); // cos θ
        Assert.True(stats.Var[2] > 0f);
    }
}
