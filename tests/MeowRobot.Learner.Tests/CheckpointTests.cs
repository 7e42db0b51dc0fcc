using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;

namespace MeowRobot.Learner.Tests;

public sealed class CheckpointTests
{
    // Dropout 0: the dropout masks' generators live inside the tensor engine's Dropout modules, outside the checkpoint.
    private static readonly FlowShape Shape = new() { ObsDim = 3, ActDim = 1, Hidden = 8, ShiftHidden = 8, Dropout = 0f };
    private static readonly MeowOptions Options = new() { Seed = 2, BatchSize = 16, LearningStarts = 40, BufferCapacity = 500, NormalizeObservations = true };

    private static (MeowLearner Learner, LocalVectorEnv Env) NewLearner()
    {
        var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
        return (new MeowLearner(Shape, Options, env), env);
    }

    private static List<float> Losses(MeowLearner learner, long until)
    {
        var losses = new List<float>();
        void Record(LearnerEvent e) { if (e is Updated u) losses.Add(u.Stats.Loss); }
        learner.Reported += Record;
        learner.Run(until);
        learner.Reported -= Record;
        return losses;
    }

    [Fact]
    public void A_resumed_learner_continues_exactly_as_the_original()
    {
        var (original, env1) = NewLearner();
        using var _1 = env1;
        original.Run(100);
        using var saved = new MemoryStream();
        original.SaveCheckpoint(saved);

        var (resumed, env2) = NewLearner();
        using var _2 = env2;
        saved.Position = 0;
        resumed.LoadCheckpoint(saved);
        Assert.Equal(100, resumed.EnvSteps);
        Assert.Equal(original.Buffer.Count, resumed.Buffer.Count);

        // Both start new episodes from the same seeds, so everything that follows matches bit for bit.
        var fresh = new MemoryStream();
        original.SaveCheckpoint(fresh);
        fresh.Position = 0;
        original.LoadCheckpoint(fresh);
        Assert.Equal(Losses(original, 160), Losses(resumed, 160));
        Assert.Equal(original.Policy.StateDict()["prior.log_scale.net.0.weight"], resumed.Policy.StateDict()["prior.log_scale.net.0.weight"]);
    }

    [Fact]
    public void Truncated_or_foreign_checkpoints_are_refused()
    {
        var (learner, env) = NewLearner();
        using var _ = env;
        learner.Run(60);
        using var saved = new MemoryStream();
        learner.SaveCheckpoint(saved);
        var bytes = saved.ToArray();

        var (other, env2) = NewLearner();
        using var _2 = env2;
        Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(new MemoryStream(bytes[..(bytes.Length / 2)])));
        Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(new MemoryStream("not a checkpoint at all"u8.ToArray())));

        using var wide = new LocalVectorEnv(() => TaskCatalog.Create("multigoal"), 1);
        var mismatched = new MeowLearner(Shape with { ObsDim = wide.Spec.ObsDim, ActDim = wide.Spec.ActDim }, Options, wide);
        Assert.Throws<InvalidDataException>(() => mismatched.LoadCheckpoint(new MemoryStream(bytes)));
    }
}
