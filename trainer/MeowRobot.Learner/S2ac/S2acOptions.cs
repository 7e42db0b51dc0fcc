using MeowRobot.Policy.Files;

namespace MeowRobot.Learner.S2ac;

/// <summary>Where S2AC's particles start: the official code's two actors.</summary>
public enum S2acInitial
{
    /// <summary><c>svgd_p0_pram</c>: a state-conditioned Gaussian p0 (μ(s), σ(s)), trained through the SVGD steps by the
    /// actor loss (the paper's MuJoCo runs).</summary>
    Learned,
    /// <summary><c>svgd_nonparam</c>: a0 ~ N(0, σ₀²) for every state, no actor parameters and so no actor step: the policy
    /// is the SVGD steps on the critics alone (the official MultiGoal run).</summary>
    Fixed,
}

/// <summary>
/// S2AC's networks and hyperparameters. Defaults are the official code's (ActorSvgd with the parameterised initial
/// distribution, MaxEntrRL.update): 10 particles, 5 SVGD steps (the paper uses 3 on MuJoCo), SVGD step 0.1, hidden 256,
/// 2 critic / 3 actor layers, α 0.2, γ 0.99, lr 1e-3 for both, Polyak 0.995.
/// </summary>
public sealed record S2acOptions
{
    public required int ObsDim { get; init; }
    public required int ActDim { get; init; }
    public int Hidden { get; init; } = 256;
    public int CriticLayers { get; init; } = 2;
    /// <summary>Hidden layers of the initial distribution's trunk (ELU after every one, the last too).</summary>
    public int ActorLayers { get; init; } = 3;
    /// <summary>Hidden layers of the amortized sampling network f (not in the official code, this learner's choice): two,
    /// so that the robot's forward pass stays within the 5 µs p99 at (11, 3) (docs/benchmarks.md, S2AC runtime).</summary>
    public int SamplerLayers { get; init; } = S2acArchitecture.DefaultSamplerLayers;
    /// <summary>Particles per state (P).</summary>
    public int Particles { get; init; } = 10;
    /// <summary>SVGD steps per action (L).</summary>
    public int SvgdSteps { get; init; } = 5;
    public float SvgdLearningRate { get; init; } = 0.1f;
    public S2acInitial InitialDistribution { get; init; } = S2acInitial.Learned;
    /// <summary>σ₀ of the fixed initial distribution (official <c>svgd_sigma_p0</c>, 0.5).</summary>
    public float InitialSigma { get; init; } = 0.5f;
    public float Alpha { get; init; } = 0.2f;
    public float Gamma { get; init; } = 0.99f;
    /// <summary>target ← polyak·target + (1 − polyak)·online after every update, over every parameter.</summary>
    public float Polyak { get; init; } = 0.995f;
    public float CriticLearningRate { get; init; } = 1e-3f;
    public float ActorLearningRate { get; init; } = 1e-3f;
    public float AdamBeta1 { get; init; } = 0.9f;
    public float AdamBeta2 { get; init; } = 0.999f;
    public float AdamEps { get; init; } = 1e-8f;
    /// <summary>Actions are act_limit·tanh(a_L).</summary>
    public float ActLimit { get; init; } = 1f;
    /// <summary>Also train the amortized sampling network f(s, ξ) (the paper's Algorithm 2), the actor a robot runs.</summary>
    public bool Amortized { get; init; } = true;
    /// <summary>Cores a gradient update uses: 1, or 2 to run the two halves of the batch's states at once.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The networks an official S2AC file describes (its <c>s2ac.*</c> metadata: obs_dim, act_dim, hidden,
    /// critic_layers, actor_layers, sampler_layers, particles, svgd_steps, svgd_lr, alpha, act_limit; an amortized file
    /// without sampler_layers has actor_layers in f, as such files were written); the rest stays as
    /// <paramref name="defaults"/> gives it (or the official defaults).</summary>
    /// <exception cref="InvalidDataException">A required key is missing or not a number.</exception>
    public static S2acOptions FromMetadata(IReadOnlyDictionary<string, string> metadata, S2acOptions? defaults = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var o = (defaults ?? new S2acOptions { ObsDim = 1, ActDim = 1 }) with
        {
            ObsDim = Int(metadata, "s2ac.obs_dim"),
            ActDim = Int(metadata, "s2ac.act_dim"),
        };
        o = o with
        {
            Hidden = Int(metadata, "s2ac.hidden", o.Hidden),
            CriticLayers = Int(metadata, "s2ac.critic_layers", o.CriticLayers),
            ActorLayers = Int(metadata, "s2ac.actor_layers", o.ActorLayers),
        };
        o = o with
        {
            SamplerLayers = Int(metadata, "s2ac.sampler_layers", metadata.GetValueOrDefault("s2ac.actor") == "amortized" ? o.ActorLayers : o.SamplerLayers),
            Particles = Int(metadata, "s2ac.particles", o.Particles),
            SvgdSteps = Int(metadata, "s2ac.svgd_steps", o.SvgdSteps),
            SvgdLearningRate = Float(metadata, "s2ac.svgd_lr", o.SvgdLearningRate),
            Alpha = Float(metadata, "s2ac.alpha", o.Alpha),
            ActLimit = Float(metadata, "s2ac.act_limit", o.ActLimit),
            InitialDistribution = metadata.ContainsKey("s2ac.sigma_p0") ? S2acInitial.Fixed : S2acInitial.Learned,
            InitialSigma = Float(metadata, "s2ac.sigma_p0", o.InitialSigma),
        };
        try
        {
            o.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"S2AC metadata: {e.Message}", e);
        }
        return o;
    }

    private static int Int(IReadOnlyDictionary<string, string> m, string key, int? fallback = null) =>
        m.TryGetValue(key, out var v)
            ? int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var i) ? i : throw new InvalidDataException($"S2AC metadata {key} = '{v}' is not an integer")
            : fallback ?? throw new InvalidDataException($"S2AC metadata lacks {key}");

    private static float Float(IReadOnlyDictionary<string, string> m, string key, float fallback) =>
        m.TryGetValue(key, out var v)
            ? float.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var f) ? f : throw new InvalidDataException($"S2AC metadata {key} = '{v}' is not a number")
            : fallback;

    public void Validate()
    {
        if (ObsDim < 1 || ActDim < 1) throw new ArgumentOutOfRangeException(nameof(ObsDim), "observation and action dims must be ≥ 1");
        if (Hidden < 1 || CriticLayers < 1 || ActorLayers < 1 || SamplerLayers < 1)
            throw new ArgumentOutOfRangeException(nameof(Hidden), "hidden width and layer counts must be ≥ 1");
        if (Particles < 2) throw new ArgumentOutOfRangeException(nameof(Particles), Particles, "SVGD needs at least 2 particles");
        if (SvgdSteps < 0) throw new ArgumentOutOfRangeException(nameof(SvgdSteps), SvgdSteps, "must be ≥ 0");
        Positive(SvgdLearningRate, nameof(SvgdLearningRate));
        Positive(InitialSigma, nameof(InitialSigma));
        if (!Enum.IsDefined(InitialDistribution)) throw new ArgumentOutOfRangeException(nameof(InitialDistribution), InitialDistribution, "must be Learned or Fixed");
        Positive(Alpha, nameof(Alpha));
        Positive(CriticLearningRate, nameof(CriticLearningRate));
        Positive(ActorLearningRate, nameof(ActorLearningRate));
        Positive(ActLimit, nameof(ActLimit));
        if (!(Gamma is >= 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "must be in [0, 1]");
        if (!(Polyak is >= 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(Polyak), Polyak, "must be in [0, 1]");
        if (Threads is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "must be 1 or 2");
    }

    private static void Positive(float v, string name)
    {
        if (!(v > 0f) || !float.IsFinite(v)) throw new ArgumentOutOfRangeException(name, v, "must be a positive number");
    }
}

/// <summary>S2AC's settings per task: the official defaults, batch 100; 3 SVGD steps on MuJoCo tasks (as the paper);
/// on MultiGoal the official run's (its README's command): the fixed initial distribution (<c>svgd_nonparam</c>), 10 SVGD
/// steps, and its loop: uniform random actions for the first 10000 env steps (<c>exploration_steps</c>) while updates
/// start at 1000 (<c>update_after</c>); but an SVGD step of 0.01, not 0.1. The steps climb the unscaled critics, whose
/// curvature there is 60–120 (the −30‖a‖² action cost and the value of where the step lands): at 0.1 every step
/// overshoots, the particles swing out and end lower than they started, the soft target undervalues wherever that
/// happens first, and the critics keep one goal (docs/benchmarks.md, multigoal-maxent).</summary>
public static class S2acPresets
{
    private static readonly string[] MuJoCo = ["hopper", "halfcheetah", "walker2d", "ant", "humanoid", "swimmer", "inverted-pendulum", "reacher"];

    public static (S2acOptions Options, LearnerOptions Loop) For(string task, int obsDim, int actDim)
    {
        ArgumentNullException.ThrowIfNull(task);
        var name = task.ToLowerInvariant();
        var options = new S2acOptions { ObsDim = obsDim, ActDim = actDim };
        var loop = new LearnerOptions { BatchSize = 100 };
        return name switch
        {
            "pendulum" => (options, LearnerPresets.Pendulum with { BatchSize = 100 }),
            "multigoal" or "multigoal-maxent" => (options with { InitialDistribution = S2acInitial.Fixed, SvgdSteps = 10, SvgdLearningRate = 0.01f }, loop with { LearningStarts = 1000, RandomSteps = 10_000, EvalEvery = 1000 }),
            _ when MuJoCo.Any(name.StartsWith) => (options with { SvgdSteps = 3 }, loop),
            _ => (options, loop),
        };
    }
}
