namespace MeowRobot.Learner;

/// <summary>The shape of the flow network. Defaults are the official MEow CleanRL ones.</summary>
public sealed record FlowShape
{
    public required int ObsDim { get; init; }
    public required int ActDim { get; init; }
    /// <summary>Width of the prior's log-scale MLP and of every coupling's translation MLP.</summary>
    public int Hidden { get; init; } = 64;
    public int HiddenLayers { get; init; } = 2;
    /// <summary>Coupling pairs: each pair is one layer with mask b and one with 1 − b, so 2 gives 4 couplings.</summary>
    public int FlowLayers { get; init; } = 2;
    /// <summary>Width of the reward-shifting MLPs b1(s), b2(s).</summary>
    public int ShiftHidden { get; init; } = 256;
    public bool LayerNorm { get; init; } = true;
    /// <summary>Dropout inside the couplings' translation MLPs while training.</summary>
    public float Dropout { get; init; } = 0.1f;
    public float SigmaMin { get; init; } = -5f;
    public float SigmaMax { get; init; } = -0.3f;
    /// <summary>The temperature: Q = α·(log-density terms + shift).</summary>
    public float Alpha { get; init; } = 0.2f;

    public void Validate()
    {
        if (ObsDim < 1) throw new ArgumentOutOfRangeException(nameof(ObsDim), ObsDim, "must be ≥ 1");
        if (ActDim < 1) throw new ArgumentOutOfRangeException(nameof(ActDim), ActDim, "must be ≥ 1");
        if (Hidden < 1 || HiddenLayers < 1 || FlowLayers < 1 || ShiftHidden < 1)
            throw new ArgumentOutOfRangeException(nameof(Hidden), "hidden width, hidden layers, flow layers and shift width must be ≥ 1");
        if (!(Dropout is >= 0f and < 1f)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "must be in [0, 1)");
        if (!(SigmaMin < SigmaMax)) throw new ArgumentOutOfRangeException(nameof(SigmaMin), $"sigma_min {SigmaMin} must be below sigma_max {SigmaMax}");
        if (!(Alpha > 0f) || !float.IsFinite(Alpha)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "must be a positive number");
    }
}

/// <summary>Hyperparameters of MEow's update (Algorithm 1). Defaults are the official CleanRL MEow ones; the loop's
/// settings (batch, buffer, learning starts, evaluation) are <see cref="LearnerOptions"/>.</summary>
public sealed record MeowOptions
{
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Polyak rate: target ← τ·online + (1 − τ)·target after every update.</summary>
    public float Tau { get; init; } = 0.005f;
    public float LearningRate { get; init; } = 1e-3f;
    public float AdamBeta1 { get; init; } = 0.9f;
    public float AdamBeta2 { get; init; } = 0.999f;
    public float AdamEps { get; init; } = 1e-8f;
    /// <summary>Global L2 norm the gradients are clipped to.</summary>
    public float GradClip { get; init; } = 30f;
    /// <summary>Seeds the data-parallel replicas' dropout streams (<see cref="MeowAlgorithm.Factory"/> sets the run's seed).</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Cores a gradient update uses: 1, or 2 to run the two halves of the minibatch data-parallel on the
    /// <see cref="MeowRobot.Tensors.Kernels.SecondCore"/>. A seeded run is reproducible for a given thread count; the
    /// two counts differ by float rounding and, with dropout, by the masks the second half draws.</summary>
    public int Threads { get; init; } = 1;

    public void Validate()
    {
        if (!(Gamma is >= 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "must be in [0, 1]");
        if (!(Tau is > 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(Tau), Tau, "must be in (0, 1]");
        if (!(LearningRate > 0f)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "must be > 0");
        if (!(GradClip > 0f)) throw new ArgumentOutOfRangeException(nameof(GradClip), GradClip, "must be > 0");
        if (Threads is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "must be 1 or 2 (cores a gradient update uses)");
    }
}

/// <summary>The authors' per-task settings (../shared/notes/rl-anchors.md) and ours for the built-in tasks.</summary>
public static class MeowPresets
{
    /// <summary>Alpha, tau, sigma bounds, learning_starts and gamma for a task name; unknown names get the defaults.</summary>
    public static (FlowShape Shape, MeowOptions Options, LearnerOptions Loop) For(string task, int obsDim, int actDim)
    {
        ArgumentNullException.ThrowIfNull(task);
        var shape = new FlowShape { ObsDim = obsDim, ActDim = actDim };
        var options = new MeowOptions();
        var loop = new LearnerOptions();
        switch (task.ToLowerInvariant())
        {
            case "hopper": return (shape with { Alpha = 0.25f }, options, loop);
            case "halfcheetah" or "half_cheetah": return (shape with { Alpha = 0.25f, SigmaMax = 2.0f }, options with { Tau = 0.003f }, loop with { LearningStarts = 10_000 });
            case "walker2d": return (shape with { Alpha = 0.1f }, options, loop with { LearningStarts = 10_000 });
            case "ant": return (shape with { Alpha = 0.05f }, options with { Tau = 0.0001f }, loop);
            case "humanoid": return (shape with { Alpha = 0.125f }, options with { Tau = 0.0005f }, loop);
            // MEow's toy experiment (Haarnoja et al. 2017 MultiGoal), and the S2AC paper's variant of it.
            case "multigoal" or "multigoal-maxent":
                return (shape with { Alpha = 2.5f, SigmaMax = 1.0f, SigmaMin = -2.0f },
                        options with { Gamma = 0.9f, Tau = 0.0005f }, loop with { LearningStarts = 1000, EvalEvery = 1000 });
            // Ours: Pendulum's 200-step episodes need far fewer warm-up steps than MuJoCo locomotion.
            case "pendulum": return (shape with { Alpha = 0.1f }, options, LearnerPresets.Pendulum);
            default: return (shape, options, loop);
        }
    }
}

/// <summary>Loop settings of ours that every algorithm uses for a built-in task.</summary>
public static class LearnerPresets
{
    /// <summary>Pendulum's 200-step episodes need far fewer warm-up steps than MuJoCo locomotion.</summary>
    public static LearnerOptions Pendulum { get; } = new() { LearningStarts = 1000, EvalEvery = 2000, EvalEpisodes = 5 };
}
