using System.ComponentModel.DataAnnotations;
using MeowRobot.Bridge.Sim;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Learner;
using MeowRobot.Learner.S2ac;
using MeowRobot.Policy.Files;
using MeowRobot.Trainer.Service;
using Microsoft.Extensions.Options;

namespace MeowRobot.Trainer;

/// <summary>Configuration section "Trainer" of <c>trainer serve</c> (keys: docs/operations.md).</summary>
public sealed class TrainerOptions : IValidatableObject
{
    public const string Section = "Trainer";

    /// <summary>The sim workers to step (tcp:// or ipc://), all serving the same task.</summary>
    [Required, MinLength(1)]
    public string[] SimEndpoints { get; set; } = [];

    /// <summary>The task the sim workers must serve (checked when they answer). With it the task's preset is resolved before
    /// anything connects: <c>serve --check</c> prints every Learner key, EvalEvery and EvalEpisodes as the run will use them.
    /// Null: whatever task the workers serve, its preset applied once they have answered.</summary>
    public string? Task { get; set; }

    /// <summary>Checkpoints and metrics CSV go here; a restart resumes from the last checkpoint in it.</summary>
    [Required]
    public string RunDir { get; set; } = "";

    /// <summary>Time between checkpoints (one is also written on SIGTERM).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00")]
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Also checkpoint every this many env steps (null: on the time schedule only).</summary>
    [Range(1L, long.MaxValue)]
    public long? CheckpointEveryEnvSteps { get; set; }

    /// <summary>Where policy bundles are published (ZeroMQ bind, CURVE server); null: no robots are fed.</summary>
    [Endpoint(Bind = true)]
    public string? PublishEndpoint { get; set; }

    /// <summary>The snapshot ROUTER (late-joining robots ask it for the newest bundle); null: derived from
    /// <see cref="PublishEndpoint"/> (<see cref="MeowRobot.Control.WeightStream.WeightStreamEndpoints.DefaultSnapshot"/>).</summary>
    [Endpoint(Bind = true)]
    public string? SnapshotEndpoint { get; set; }

    /// <summary>A bundle is published every this many learner updates.</summary>
    [Range(1, int.MaxValue)]
    public int PublishEveryUpdates { get; set; } = 1000;

    /// <summary>The trainer's CURVE secret key (from `trainer keys generate`); required with PublishEndpoint.</summary>
    [CurveKeyFile(Secret = true)]
    public string? SecretKeyFile { get; set; }

    /// <summary>The sim workers' CURVE public key: set, the trainer connects to SimEndpoints and EvalSimEndpoints as a
    /// CURVE client with <see cref="SecretKeyFile"/> (whose public key the workers allow-list); null: plain connections.</summary>
    [CurveKeyFile]
    public string? SimServerKeyFile { get; set; }

    /// <summary>Directory of robot public keys (*.key) allowed to subscribe (a ZAP allow-list, read at start); null: any robot
    /// holding the trainer's public key may subscribe (robots verify every bundle against that key either way).</summary>
    public string? AllowedRobotKeysDir { get; set; }

    /// <summary>Environment steps to train for.</summary>
    [Range(1L, long.MaxValue)]
    public long TotalEnvSteps { get; set; } = 1_000_000;

    /// <summary>Seed of the learner and of the sim resets.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>A metrics row (CSV and log) every this many env steps.</summary>
    [Range(1, int.MaxValue)]
    public int MetricsEveryEnvSteps { get; set; } = 1000;

    /// <summary>Deterministic evaluation every this many env steps (0: never); null: the task's preset.</summary>
    [Range(0, int.MaxValue)]
    public int? EvalEvery { get; set; }

    /// <summary>Episodes per evaluation; null: the task's preset.</summary>
    [Range(1, 10_000)]
    public int? EvalEpisodes { get; set; }

    /// <summary>Sim workers reserved for evaluation (same task); empty: the task in-process when it is a built-in one
    /// (pendulum, multigoal, cartpole) or a MuJoCo task with <see cref="EvalModel"/>, else no evaluation.</summary>
    public string[] EvalSimEndpoints { get; set; } = [];

    /// <summary>The MJCF model (the workers' own file) on which a MuJoCo task is evaluated in-process, with the workers'
    /// parameters and randomisation; null: a MuJoCo task is evaluated only on <see cref="EvalSimEndpoints"/>.</summary>
    [ExistingFile]
    public string? EvalModel { get; set; }

    /// <summary>How long an unreachable sim worker is waited for (first contact and after a loss) before the trainer fails.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan SimGiveUpAfter { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>Stop the service (exit 0) once <see cref="TotalEnvSteps"/> are done; false: keep serving the final policy until stopped.</summary>
    public bool StopWhenDone { get; set; }

    /// <summary>The algorithm to train: meow (default), sac or s2ac.</summary>
    [Required]
    public string Algorithm { get; set; } = "meow";
    /// <summary>Per-episode domain randomisation sent to every sim worker (name → distribution, e.g.
    /// Trainer:Randomise:mass = uniform(0.5, 2); docs/tasks.md, "Domain randomisation"); empty: the workers' own.</summary>
    public Dictionary<string, string> Randomise { get; set; } = [];

    /// <summary>Trainer:Randomise parsed, in name order (<see cref="FormatException"/> for a malformed one; <see cref="Validate"/> reports it).</summary>
    public IReadOnlyList<ParameterDistribution> Randomisation() =>
        (Randomise ?? []).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => ParameterDistribution.Parse(kv.Key, kv.Value ?? "")).ToArray();

    /// <summary>The robot's controller configuration file (JSON, e.g. /etc/meowrobot/controller.json): its
    /// Controller:Envelope, Controller:Loop:RateHz and Controller:SimRobot:StepRateHz are applied to every training and
    /// evaluation env's actions (<see cref="MeowRobot.Control.Safety.ActuatorModel"/>), so the policy learns the limits it
    /// will run under; null: the sim's actuator as it is.</summary>
    [ExistingFile]
    public string? ActuatorConfig { get; set; }

    /// <summary>Hyperparameters over the task's preset (section Trainer:Learner).</summary>
    [ValidateObjectMembers]
    public LearnerSettings Learner { get; set; } = new();

    /// <summary>Fills every unset Learner key, <see cref="EvalEvery"/> and <see cref="EvalEpisodes"/> from <see cref="Task"/>'s
    /// preset (nothing when Task is null). The preset's values do not depend on the task's dimensions.</summary>
    public void ResolvePresets()
    {
        if (Task is null || !PolicyAlgorithms.TryParse(Algorithm, out var algorithm) || !AlgorithmSetup.CanTrain(algorithm)) return;
        var preset = AlgorithmSetup.For(algorithm, Task, 1, 1);
        Learner.Resolve(preset, algorithm);
        EvalEvery ??= preset.Loop.EvalEvery;
        EvalEpisodes ??= preset.Loop.EvalEpisodes;
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (list, name) in new[] { (SimEndpoints, nameof(SimEndpoints)), (EvalSimEndpoints, nameof(EvalSimEndpoints)) })
        {
            var endpoints = list ?? [];
            for (var i = 0; i < endpoints.Length; i++)
            {
                if (EndpointAttribute.Problem(endpoints[i] ?? "") is { } problem)
                    yield return new ValidationResult($"'{endpoints[i]}' is not a valid endpoint: {problem}", [$"{name}:{i}"]);
            }
        }
        foreach (var (name, text) in Randomise ?? [])
        {
            if (ParameterDistribution.ParseProblem(name, text) is { } problem) yield return new ValidationResult(problem, [$"{nameof(Randomise)}:{name}"]);
        }
        if (PublishEndpoint is not null && SecretKeyFile is null)
            yield return new ValidationResult("a CURVE secret key file is required with PublishEndpoint (robots pin the trainer's public key)",
                [nameof(SecretKeyFile)]);
        if (SimServerKeyFile is not null && SecretKeyFile is null)
            yield return new ValidationResult("SimServerKeyFile needs SecretKeyFile (the trainer's CURVE key, allow-listed by the sim workers)",
                [nameof(SecretKeyFile)]);
        if (SnapshotEndpoint is not null && PublishEndpoint is null)
            yield return new ValidationResult("SnapshotEndpoint needs PublishEndpoint", [nameof(SnapshotEndpoint)]);
        if (AllowedRobotKeysDir is not null && !Directory.Exists(AllowedRobotKeysDir))
            yield return new ValidationResult($"directory '{AllowedRobotKeysDir}' does not exist", [nameof(AllowedRobotKeysDir)]);
        if (!PolicyAlgorithms.TryParse(Algorithm, out var algorithm))
            yield return new ValidationResult($"'{Algorithm}' is not an algorithm: {string.Join(", ", PolicyAlgorithms.All.Select(a => a.Name()))}", [nameof(Algorithm)]);
        else if (!AlgorithmSetup.CanTrain(algorithm))
            yield return new ValidationResult($"this trainer cannot train {Algorithm} yet", [nameof(Algorithm)]);
        else
        {
            foreach (var key in Learner?.KeysNotFor(algorithm) ?? [])
                yield return new ValidationResult($"Learner:{key} is not a setting of algorithm {Algorithm}", [$"{nameof(Learner)}:{key}"]);
        }
        if (RunDirProblem() is { } runDir) yield return new ValidationResult(runDir, [nameof(RunDir)]);
    }

    /// <summary>A run directory serve would refuse (every checkpoint damaged, a published.version that is no version).</summary>
    private string? RunDirProblem()
    {
        if (string.IsNullOrEmpty(RunDir) || !Directory.Exists(RunDir)) return null;
        try
        {
            _ = new RunCheckpoint(RunDir).FindResumable((_, _) => { });
            _ = BundleStream.ReadVersionFile(RunDir);
            return null;
        }
        catch (TrainerSetupException e)
        {
            return e.Message;
        }
    }
}

/// <summary>
/// Section "Trainer:Learner": hyperparameters over the task's preset of Trainer:Algorithm (<see cref="AlgorithmSetup.For"/>),
/// which starts from the official values. Every key is optional; a key of another algorithm is a configuration error
/// (<see cref="KeysNotFor"/>).
/// </summary>
public sealed class LearnerSettings : IValidatableObject
{
    // The loop's, every algorithm's.
    [Range(1, 1 << 16)] public int? BatchSize { get; set; }
    [Range(1, 100_000_000)] public int? BufferCapacity { get; set; }
    [Range(0, int.MaxValue)] public int? LearningStarts { get; set; }
    /// <summary>Env steps with uniform random actions when that differs from LearningStarts (S2AC's exploration_steps).</summary>
    [Range(0, int.MaxValue)] public int? RandomSteps { get; set; }
    /// <summary>Gradient updates per collected transition (the update-to-data ratio, default 1 as the official code; N envs
    /// get N per vector step; fractions carry over).</summary>
    [Range(1e-3, 1000.0)] public double? UpdatesPerTransition { get; set; }
    /// <summary>Running observation normalisation (carried to robots in the policy file as obs_norm).</summary>
    public bool? NormalizeObservations { get; set; }

    // MEow's and SAC's.
    [Range(1e-6, 1e3)] public float? Alpha { get; set; }
    [Range(0.0, 1.0)] public float? Gamma { get; set; }
    [Range(1e-6, 1.0)] public float? Tau { get; set; }
    [Range(1, 4096)] public int? Hidden { get; set; }

    // MEow's.
    [Range(1e-8, 1.0)] public float? LearningRate { get; set; }
    [Range(1e-3, 1e6)] public float? GradClip { get; set; }
    [Range(1, 16)] public int? HiddenLayers { get; set; }
    [Range(1, 16)] public int? FlowLayers { get; set; }
    [Range(1, 4096)] public int? ShiftHidden { get; set; }
    public bool? LayerNorm { get; set; }
    [Range(0.0, 0.99)] public float? Dropout { get; set; }
    [Range(-20.0, 20.0)] public float? SigmaMin { get; set; }
    [Range(-20.0, 20.0)] public float? SigmaMax { get; set; }
    /// <summary>Cores a gradient update uses: 1 (default) or 2 (the batch's halves run data-parallel).</summary>
    [Range(1, 2)] public int? Threads { get; set; }

    // SAC's.
    [Range(1e-8, 1.0)] public float? PolicyLearningRate { get; set; }
    [Range(1e-8, 1.0)] public float? QLearningRate { get; set; }
    [Range(1, 1000)] public int? PolicyFrequency { get; set; }
    [Range(1, 1000)] public int? TargetNetworkFrequency { get; set; }
    /// <summary>Tune α to the target entropy −|A| (default); false keeps Alpha fixed.</summary>
    public bool? Autotune { get; set; }

    // S2AC's (with Alpha, Gamma, Hidden, Threads, and PolicyLearningRate / QLearningRate for the actor / critics).
    [Range(2, 1000)] public int? Particles { get; set; }
    [Range(0, 100)] public int? SvgdSteps { get; set; }
    [Range(1e-6, 10.0)] public float? SvgdLearningRate { get; set; }
    [Range(0.0, 1.0)] public float? Polyak { get; set; }
    /// <summary>Where the particles start: Learned (the parameterised p0, default) or Fixed (N(0, InitialSigma²), the
    /// official svgd_nonparam; S2AC's MultiGoal preset).</summary>
    public S2acInitial? InitialDistribution { get; set; }
    [Range(1e-6, 100.0)] public float? InitialSigma { get; set; }
    /// <summary>Train the amortized sampling network (the actor a robot runs; default true).</summary>
    public bool? Amortized { get; set; }
    /// <summary>Hidden layers of the amortized sampling network (default 2).</summary>
    [Range(1, 16)] public int? SamplerLayers { get; set; }

    private static readonly string[] LoopKeys = [nameof(BatchSize), nameof(BufferCapacity), nameof(LearningStarts), nameof(RandomSteps), nameof(UpdatesPerTransition), nameof(NormalizeObservations)];

    private static readonly Dictionary<PolicyAlgorithm, string[]> OwnKeys = new()
    {
        [PolicyAlgorithm.Meow] = [nameof(Alpha), nameof(Gamma), nameof(Tau), nameof(Hidden), nameof(LearningRate), nameof(GradClip), nameof(HiddenLayers),
            nameof(FlowLayers), nameof(ShiftHidden), nameof(LayerNorm), nameof(Dropout), nameof(SigmaMin), nameof(SigmaMax), nameof(Threads)],
        [PolicyAlgorithm.Sac] = [nameof(Alpha), nameof(Gamma), nameof(Tau), nameof(Hidden), nameof(PolicyLearningRate), nameof(QLearningRate),
            nameof(PolicyFrequency), nameof(TargetNetworkFrequency), nameof(Autotune)],
        [PolicyAlgorithm.S2ac] = [nameof(Alpha), nameof(Gamma), nameof(Hidden), nameof(Threads), nameof(PolicyLearningRate), nameof(QLearningRate),
            nameof(Particles), nameof(SvgdSteps), nameof(SvgdLearningRate), nameof(Polyak), nameof(Amortized), nameof(SamplerLayers),
            nameof(InitialDistribution), nameof(InitialSigma)],
    };

    /// <summary>The keys set here that <paramref name="algorithm"/> does not have.</summary>
    public IEnumerable<string> KeysNotFor(PolicyAlgorithm algorithm)
    {
        var allowed = LoopKeys.Concat(OwnKeys[algorithm]).ToHashSet(StringComparer.Ordinal);
        return typeof(LearnerSettings).GetProperties()
            .Where(p => p.GetValue(this) is not null && !allowed.Contains(p.Name))
            .Select(p => p.Name);
    }

    /// <summary>The preset with these overrides applied (not validated: <see cref="AlgorithmSetup.Validate"/> judges the
    /// combination).</summary>
    public AlgorithmSetup Apply(AlgorithmSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var loop = setup.Loop;
        setup = setup with
        {
            Loop = loop with
            {
                BatchSize = BatchSize ?? loop.BatchSize,
                BufferCapacity = BufferCapacity ?? loop.BufferCapacity,
                LearningStarts = LearningStarts ?? loop.LearningStarts,
                RandomSteps = RandomSteps ?? loop.RandomSteps,
                UpdatesPerTransition = UpdatesPerTransition ?? loop.UpdatesPerTransition,
                NormalizeObservations = NormalizeObservations ?? loop.NormalizeObservations,
            },
        };
        if (setup is { Flow: { } shape, Meow: { } options })
        {
            setup = setup with
            {
                Flow = shape with
                {
                    Alpha = Alpha ?? shape.Alpha,
                    Hidden = Hidden ?? shape.Hidden,
                    HiddenLayers = HiddenLayers ?? shape.HiddenLayers,
                    FlowLayers = FlowLayers ?? shape.FlowLayers,
                    ShiftHidden = ShiftHidden ?? shape.ShiftHidden,
                    LayerNorm = LayerNorm ?? shape.LayerNorm,
                    Dropout = Dropout ?? shape.Dropout,
                    SigmaMin = SigmaMin ?? shape.SigmaMin,
                    SigmaMax = SigmaMax ?? shape.SigmaMax,
                },
                Meow = options with
                {
                    Gamma = Gamma ?? options.Gamma,
                    Tau = Tau ?? options.Tau,
                    LearningRate = LearningRate ?? options.LearningRate,
                    GradClip = GradClip ?? options.GradClip,
                    Threads = Threads ?? options.Threads,
                },
            };
        }
        if (setup.Sac is { } sac)
        {
            setup = setup with
            {
                Sac = sac with
                {
                    Alpha = Alpha ?? sac.Alpha,
                    // A fixed Alpha without Autotune means "use this α", as CleanRL's --alpha with --no-autotune.
                    Autotune = Autotune ?? (Alpha is null && sac.Autotune),
                    Gamma = Gamma ?? sac.Gamma,
                    Tau = Tau ?? sac.Tau,
                    Hidden = Hidden ?? sac.Hidden,
                    PolicyLearningRate = PolicyLearningRate ?? sac.PolicyLearningRate,
                    QLearningRate = QLearningRate ?? sac.QLearningRate,
                    PolicyFrequency = PolicyFrequency ?? sac.PolicyFrequency,
                    TargetNetworkFrequency = TargetNetworkFrequency ?? sac.TargetNetworkFrequency,
                },
            };
        }
        if (setup.S2ac is { } s2ac)
        {
            setup = setup with
            {
                S2ac = s2ac with
                {
                    Alpha = Alpha ?? s2ac.Alpha,
                    Gamma = Gamma ?? s2ac.Gamma,
                    Hidden = Hidden ?? s2ac.Hidden,
                    Threads = Threads ?? s2ac.Threads,
                    ActorLearningRate = PolicyLearningRate ?? s2ac.ActorLearningRate,
                    CriticLearningRate = QLearningRate ?? s2ac.CriticLearningRate,
                    Particles = Particles ?? s2ac.Particles,
                    SvgdSteps = SvgdSteps ?? s2ac.SvgdSteps,
                    SvgdLearningRate = SvgdLearningRate ?? s2ac.SvgdLearningRate,
                    Polyak = Polyak ?? s2ac.Polyak,
                    Amortized = Amortized ?? s2ac.Amortized,
                    SamplerLayers = SamplerLayers ?? s2ac.SamplerLayers,
                    InitialDistribution = InitialDistribution ?? s2ac.InitialDistribution,
                    InitialSigma = InitialSigma ?? s2ac.InitialSigma,
                },
            };
        }
        return setup;
    }

    /// <summary>Sets every unset key that <paramref name="algorithm"/> has to its value in <paramref name="preset"/> (each key
    /// is named as the property of the preset's records it overrides: <see cref="Apply"/> applies them back).</summary>
    public void Resolve(AlgorithmSetup preset, PolicyAlgorithm algorithm)
    {
        ArgumentNullException.ThrowIfNull(preset);
        var sources = new object?[] { preset.Loop, preset.Flow, preset.Meow, preset.Sac, preset.S2ac }.OfType<object>().ToArray();
        foreach (var key in LoopKeys.Concat(OwnKeys[algorithm]))
        {
            var property = typeof(LearnerSettings).GetProperty(key)!;
            if (property.GetValue(this) is not null) continue;
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            foreach (var source in sources)
            {
                if (source.GetType().GetProperty(key) is not { } found || found.PropertyType != type) continue;
                property.SetValue(this, found.GetValue(source));
                break;
            }
        }
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SigmaMin is { } lo && SigmaMax is { } hi && !(lo < hi))
            yield return new ValidationResult($"SigmaMin {lo} must be below SigmaMax {hi}", [nameof(SigmaMin)]);
        if (BufferCapacity is { } capacity && BatchSize is { } batch && capacity < batch)
            yield return new ValidationResult($"BufferCapacity {capacity} must hold at least one batch ({batch})", [nameof(BufferCapacity)]);
    }
}
