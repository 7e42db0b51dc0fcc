namespace MeowRobot.Learner.Sac;

/// <summary>Hyperparameters of SAC's update. Defaults are CleanRL's sac_continuous_action ones (the loop's: batch 256,
/// buffer 1e6, learning starts 5000, in <see cref="LearnerOptions"/>).</summary>
public sealed record SacOptions
{
    /// <summary>Width of both hidden layers of the actor and of each critic (CleanRL: 256).</summary>
    public int Hidden { get; init; } = 256;
    public float Gamma { get; init; } = 0.99f;
    /// <summary>Polyak rate of the target critics.</summary>
    public float Tau { get; init; } = 0.005f;
    public float PolicyLearningRate { get; init; } = 3e-4f;
    /// <summary>The critics' learning rate, also the entropy coefficient's (as CleanRL).</summary>
    public float QLearningRate { get; init; } = 1e-3f;
    /// <summary>The actor is updated every this many critic updates, that many times in a row (TD3's delay, compensated).</summary>
    public int PolicyFrequency { get; init; } = 2;
    /// <summary>The target critics follow every this many critic updates.</summary>
    public int TargetNetworkFrequency { get; init; } = 1;
    /// <summary>The entropy coefficient: fixed, or its starting value when <see cref="Autotune"/> is on.</summary>
    public float Alpha { get; init; } = 0.2f;
    /// <summary>Tune α so that the policy's entropy follows −|A| (CleanRL starts log α at 0, i.e. α = 1).</summary>
    public bool Autotune { get; init; } = true;
    /// <summary>Bounds of the actor's log σ (tanh-squashed into them, as CleanRL after SpinUp / Yarats).</summary>
    public float LogStdMin { get; init; } = -5f;
    public float LogStdMax { get; init; } = 2f;

    public void Validate()
    {
        if (Hidden is < 1 or > 4096) throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, "must be in 1..4096");
        if (!(Gamma is >= 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "must be in [0, 1]");
        if (!(Tau is > 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(Tau), Tau, "must be in (0, 1]");
        if (!(PolicyLearningRate > 0f) || !(QLearningRate > 0f))
            throw new ArgumentOutOfRangeException(nameof(PolicyLearningRate), "learning rates must be > 0");
        if (PolicyFrequency < 1) throw new ArgumentOutOfRangeException(nameof(PolicyFrequency), PolicyFrequency, "must be ≥ 1");
        if (TargetNetworkFrequency < 1) throw new ArgumentOutOfRangeException(nameof(TargetNetworkFrequency), TargetNetworkFrequency, "must be ≥ 1");
        if (!(Alpha > 0f) || !float.IsFinite(Alpha)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "must be a positive number");
        if (!(LogStdMin < LogStdMax)) throw new ArgumentOutOfRangeException(nameof(LogStdMin), $"log_std_min {LogStdMin} must be below log_std_max {LogStdMax}");
    }
}

/// <summary>SAC's settings for a task: CleanRL's everywhere, with our Pendulum loop (<see cref="LearnerPresets.Pendulum"/>).</summary>
public static class SacPresets
{
    public static (SacOptions Options, LearnerOptions Loop) For(string task)
    {
        ArgumentNullException.ThrowIfNull(task);
        return task.ToLowerInvariant() switch
        {
            "pendulum" => (new SacOptions(), LearnerPresets.Pendulum),
            "multigoal" or "multigoal-maxent" => (new SacOptions(), new LearnerOptions { LearningStarts = 1000, EvalEvery = 1000 }),
            _ => (new SacOptions(), new LearnerOptions()),
        };
    }
}
