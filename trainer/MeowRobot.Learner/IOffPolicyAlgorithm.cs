using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>What one gradient update measured. <see cref="Loss"/> is the critic's (MEow: the Bellman loss of its soft Q);
/// <see cref="ActorLoss"/> and <see cref="Alpha"/> are NaN for algorithms, or updates, that have none.</summary>
public readonly record struct UpdateStats(float Loss, float GradNorm, float MeanQ, float MeanTarget, float ActorLoss = float.NaN, float Alpha = float.NaN);

/// <summary>
/// One algorithm's side of the shared off-policy loop (<see cref="OffPolicyLearner"/>): its networks, how it acts, one
/// gradient update, its policy file and its checkpoint state. The loop owns everything else (envs, replay, learning
/// starts, evaluation, observation statistics, events). Actions are always in the tanh box [−1, 1]; the loop rescales
/// them to the task's [low, high].
/// </summary>
public interface IOffPolicyAlgorithm
{
    PolicyAlgorithm Algorithm { get; }
    int ObsDim { get; }
    int ActDim { get; }

    /// <summary>Gradient updates done (set only when a checkpoint is restored).</summary>
    long Updates { get; set; }

    /// <summary>a ~ π(· | s) for <paramref name="rows"/> row-major observations; all noise from <paramref name="rng"/>.</summary>
    void SampleActions(ReadOnlySpan<float> obs, int rows, Span<float> actions, Rng rng);

    /// <summary>The deterministic action (what a robot runs) for <paramref name="rows"/> observations.</summary>
    void DeterministicActions(ReadOnlySpan<float> obs, int rows, Span<float> actions);

    /// <summary>One gradient update on a replay batch (its observations already normalised by the loop).</summary>
    UpdateStats Update(ReplayBatch batch);

    /// <summary>The policy as a file: official tensor names and this algorithm's metadata, to which
    /// <paramref name="common"/> (from the loop: task, action box, observation statistics, version…) is applied.</summary>
    PolicyFile ExportPolicy(Func<PolicyMetadata, PolicyMetadata> common);

    /// <summary>Networks, targets, optimiser moments and the algorithm's own random streams (not <see cref="Updates"/>,
    /// which the loop's header carries).</summary>
    void SaveState(BinaryWriter writer);

    /// <summary>Restores what <see cref="SaveState"/> wrote, from a checkpoint of format <paramref name="version"/>.</summary>
    /// <exception cref="InvalidDataException">The state does not fit this algorithm's networks.</exception>
    void LoadState(BinaryReader reader, int version);
}

/// <summary>Settings of the shared loop, whatever the algorithm.</summary>
public sealed record LearnerOptions
{
    public int Seed { get; init; } = 1;
    public int BatchSize { get; init; } = 256;
    public int BufferCapacity { get; init; } = 1_000_000;
    /// <summary>Env steps (summed over envs) collected before gradient updates start; until then (or until
    /// <see cref="RandomSteps"/>) actions are uniform random.</summary>
    public int LearningStarts { get; init; } = 5000;
    /// <summary>Env steps taken with uniform random actions, when that differs from <see cref="LearningStarts"/>: the
    /// official S2AC code explores for <c>exploration_steps</c> (10000) while updating from <c>update_after</c> (1000).
    /// Null: random until learning starts (CleanRL's SAC, MEow).</summary>
    public int? RandomSteps { get; init; }

    /// <summary>Env steps with uniform random actions (<see cref="RandomSteps"/>, else <see cref="LearningStarts"/>).</summary>
    public int RandomActionSteps => RandomSteps ?? LearningStarts;
    /// <summary>Gradient updates per collected transition once learning has started (the update-to-data ratio): 1, the
    /// official code's one update per env step, whatever the number of envs (8 envs: 8 updates per vector step). Fractions
    /// carry over between vector steps (0.5 with 8 envs: 4 per vector step).</summary>
    public double UpdatesPerTransition { get; init; } = 1;
    /// <summary>Deterministic evaluation every this many env steps (0 = never).</summary>
    public int EvalEvery { get; init; } = 10_000;
    public int EvalEpisodes { get; init; } = 10;
    /// <summary>Normalise observations with running statistics (carried into saved policy files as obs_norm).
    /// Off in the official MuJoCo code; the MEow authors' Isaac Gym runs use a running standard scaler.</summary>
    public bool NormalizeObservations { get; init; }

    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "must be ≥ 1");
        if (BufferCapacity < BatchSize) throw new ArgumentOutOfRangeException(nameof(BufferCapacity), BufferCapacity, "must hold at least one batch");
        if (LearningStarts < 0) throw new ArgumentOutOfRangeException(nameof(LearningStarts), LearningStarts, "must be ≥ 0");
        if (RandomSteps < 0) throw new ArgumentOutOfRangeException(nameof(RandomSteps), RandomSteps, "must be ≥ 0");
        if (!(UpdatesPerTransition is > 0 and <= 1000)) throw new ArgumentOutOfRangeException(nameof(UpdatesPerTransition), UpdatesPerTransition, "must be in (0, 1000]");
        if (EvalEvery < 0 || EvalEpisodes < 1) throw new ArgumentOutOfRangeException(nameof(EvalEvery), "eval interval must be ≥ 0 and episodes ≥ 1");
    }
}
