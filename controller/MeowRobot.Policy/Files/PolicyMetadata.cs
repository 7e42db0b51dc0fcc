using System.Globalization;

namespace MeowRobot.Policy.Files;

/// <summary>Observation normalisation carried with the weights: s' = clamp((s − mean) / sqrt(var + epsilon), −clip, clip).</summary>
public sealed record ObservationNormalization(float[] Mean, float[] Var, float Epsilon = 1e-8f, float Clip = 10f)
{
    /// <summary>The same map as s' = clamp(s·scale + shift, ±clip): scale in double then rounded once, shift = −mean·scale.
    /// Every runtime of a policy (the controller's, an exported model) applies it in this form.</summary>
    public (float[] Scale, float[] Shift) Affine()
    {
        var scale = Var.Select(v => (float)(1.0 / Math.Sqrt(v + (double)Epsilon))).ToArray();
        return (scale, Mean.Select((mu, i) => -mu * scale[i]).ToArray());
    }
}

/// <summary>Maps the squashed action a ∈ [−1, 1] to [low, high] per actuator: low + (a + 1)(high − low)/2.</summary>
public sealed record ActionScaling(float[] Low, float[] High)
{
    /// <summary>The same map as center + halfRange·a (each computed in double, rounded once), the form every runtime applies.</summary>
    public (float[] Center, float[] HalfRange) Affine() =>
        (Low.Zip(High, (lo, hi) => (float)((lo + (double)hi) / 2)).ToArray(), Low.Zip(High, (lo, hi) => (float)((hi - (double)lo) / 2)).ToArray());
}

/// <summary>SAC's architecture (<c>sac.*</c> keys): CleanRL's actor and critics with two hidden layers of this width.</summary>
public sealed record SacArchitecture
{
    public int Hidden { get; init; } = 256;
    public double LogStdMin { get; init; } = -5.0;
    public double LogStdMax { get; init; } = 2.0;
    /// <summary>The entropy coefficient when the file was written (informational: the deterministic action ignores it).</summary>
    public double Alpha { get; init; } = 0.2;
}

/// <summary>The actor an S2AC file holds: the official SVGD sampler from a parameterised p0 (the golden files), or the
/// paper's amortized sampling network f(s, ξ) (Algorithm 2), which is what a robot can run in one forward pass.</summary>
public enum S2acActor { Svgd, Amortized }

/// <summary>S2AC's architecture and sampler settings (<c>s2ac.*</c> keys, as the official code's golden files write them).</summary>
public sealed record S2acArchitecture
{
    public int Particles { get; init; } = 10;
    public int SvgdSteps { get; init; } = 5;
    public double SvgdLr { get; init; } = 0.1;
    /// <summary>Free text describing the kernel (the official files say which bandwidth rule).</summary>
    public string Kernel { get; init; } = "rbf, bandwidth from mean squared distance / 2 (official adaptive_sig=4)";
    public int Hidden { get; init; } = 256;
    public int CriticLayers { get; init; } = 2;
    public int ActorLayers { get; init; } = 3;
    /// <summary>What the S2AC learner gives its amortized sampling network f when not told otherwise (two hidden layers:
    /// the runtime's p99 at (11, 3) stays within 5 µs; docs/benchmarks.md, S2AC runtime).</summary>
    public const int DefaultSamplerLayers = 2;
    /// <summary>Hidden layers of the amortized sampling network f (<c>s2ac.sampler_layers</c>, amortized files only); null:
    /// as many as <see cref="ActorLayers"/> (files written before the key existed).</summary>
    public int? SamplerLayers { get; init; }
    /// <summary>Hidden layers f has: <see cref="SamplerLayers"/>, else <see cref="ActorLayers"/>.</summary>
    public int SamplerDepth => SamplerLayers ?? ActorLayers;
    /// <summary>Hidden activation; the official code uses ELU everywhere (the only one this build runs).</summary>
    public string Activation { get; init; } = "elu";
    public double Alpha { get; init; } = 0.2;
    /// <summary>action = act_limit · tanh(a) in the official code.</summary>
    public double ActLimit { get; init; } = 1.0;
    public double SigmaClampMin { get; init; } = 0.1;
    public double SigmaClampMax { get; init; } = 1.0;
    /// <summary>The fixed initial distribution's σ (<c>s2ac.sigma_p0</c>, the official <c>svgd_nonparam</c> actor: no
    /// <c>pi.p0</c> network); null: the parameterised p0 (<c>svgd_p0_pram</c>).</summary>
    public double? InitialSigma { get; init; }
    public S2acActor Actor { get; init; } = S2acActor.Svgd;
}

/// <summary>The typed metadata of a policy file. All keys of a file live in its algorithm's namespace (<c>meow.*</c>,
/// <c>sac.*</c>, <c>s2ac.*</c>), and that namespace's <c>format</c> key names the algorithm. The MEow architecture is
/// modelled by this record's own properties (defaults the official MEow ones), SAC's by <see cref="Sac"/>, S2AC's by
/// <see cref="S2ac"/>; a file writes only its algorithm's. Keys this type does not model are kept, in order, in
/// <see cref="Extra"/> and written back on save. See controller/MeowRobot.Policy/README.md.</summary>
public sealed record PolicyMetadata
{
    public const int CurrentFormat = 1;

    /// <summary>The largest dimension or width accepted, so that metadata alone can never ask for absurd sizes.</summary>
    public const int MaxDimension = 1 << 16;

    /// <summary>The most weights one Linear layer may have (2^28 floats = 1 GiB), so sizes always fit an array.</summary>
    public const long MaxLayerWeights = 1L << 28;

    public PolicyAlgorithm Algorithm { get; init; } = PolicyAlgorithm.Meow;
    public required int ObsDim { get; init; }
    public required int ActDim { get; init; }
    public double Alpha { get; init; } = 0.2;
    public double SigmaMin { get; init; } = -5.0;
    public double SigmaMax { get; init; } = -0.3;
    /// <summary>Width of the coupling and prior MLPs.</summary>
    public int Hidden { get; init; } = 64;
    /// <summary>Hidden layers of every MLP (couplings, prior, reward shifts).</summary>
    public int HiddenLayers { get; init; } = 2;
    /// <summary>Pairs of couplings: the flow has 2 × FlowLayers additive couplings with alternating masks.</summary>
    public int FlowLayers { get; init; } = 2;
    /// <summary>Width of the reward-shifting MLPs b1(s), b2(s).</summary>
    public int ShiftHidden { get; init; } = 256;
    public bool LayerNorm { get; init; } = true;
    public SacArchitecture Sac { get; init; } = new();
    public S2acArchitecture S2ac { get; init; } = new();
    public string Source { get; init; } = "MeowRobot";

    public ObservationNormalization? ObsNorm { get; init; }
    public ActionScaling? ActionScale { get; init; }
    /// <summary>The policy's version as the trainer numbered it (bundles carry their own; this is informational).</summary>
    public ulong? Version { get; init; }
    public string? Task { get; init; }
    public string? Robot { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Extra { get; init; } = [];

    public int Couplings => 2 * FlowLayers;

    /// <summary>The double whose shortest decimal is the float's (0.1f → 0.1, not 0.100000001…), so metadata written
    /// from float hyperparameters reads as they were given.</summary>
    public static double FromSingle(float x) =>
        double.Parse(x.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>The metadata entries in the order they are written (the golden files' order first, then our additions).</summary>
    public IEnumerable<KeyValuePair<string, string>> ToEntries()
    {
        var p = Algorithm.Name() + ".";
        yield return new(p + "format", CurrentFormat.ToString(CultureInfo.InvariantCulture));
        yield return new(p + "obs_dim", Int(ObsDim));
        yield return new(p + "act_dim", Int(ActDim));
        switch (Algorithm)
        {
            case PolicyAlgorithm.Meow:
                yield return new("meow.alpha", PythonFloat(Alpha));
                yield return new("meow.sigma_min", PythonFloat(SigmaMin));
                yield return new("meow.sigma_max", PythonFloat(SigmaMax));
                yield return new("meow.hidden", Int(Hidden));
                yield return new("meow.hidden_layers", Int(HiddenLayers));
                yield return new("meow.flow_layers", Int(FlowLayers));
                yield return new("meow.shift_hidden", Int(ShiftHidden));
                yield return new("meow.layer_norm", LayerNorm ? "true" : "false");
                break;
            case PolicyAlgorithm.Sac:
                yield return new("sac.hidden", Int(Sac.Hidden));
                yield return new("sac.log_std_min", PythonFloat(Sac.LogStdMin));
                yield return new("sac.log_std_max", PythonFloat(Sac.LogStdMax));
                yield return new("sac.alpha", PythonFloat(Sac.Alpha));
                break;
            case PolicyAlgorithm.S2ac:
                var s = S2ac;
                yield return new("s2ac.particles", Int(s.Particles));
                yield return new("s2ac.svgd_steps", Int(s.SvgdSteps));
                yield return new("s2ac.svgd_lr", PythonFloat(s.SvgdLr));
                yield return new("s2ac.kernel", s.Kernel);
                yield return new("s2ac.hidden", Int(s.Hidden));
                yield return new("s2ac.critic_layers", Int(s.CriticLayers));
                yield return new("s2ac.actor_layers", Int(s.ActorLayers));
                if (s.Actor == S2acActor.Amortized && s.SamplerLayers is { } samplerLayers) yield return new("s2ac.sampler_layers", Int(samplerLayers));
                yield return new("s2ac.activation", s.Activation);
                yield return new("s2ac.alpha", PythonFloat(s.Alpha));
                yield return new("s2ac.act_limit", PythonFloat(s.ActLimit));
                yield return new("s2ac.sigma_clamp", PythonFloat(s.SigmaClampMin) + "," + PythonFloat(s.SigmaClampMax));
                if (s.InitialSigma is { } sigmaP0) yield return new("s2ac.sigma_p0", PythonFloat(sigmaP0));
                break;
        }
        yield return new(p + "source", Source);
        if (Algorithm == PolicyAlgorithm.S2ac && S2ac.Actor == S2acActor.Amortized) yield return new("s2ac.actor", "amortized");
        if (ObsNorm is { } n)
        {
            yield return new(p + "obs_norm", "true");
            yield return new(p + "obs_norm.mean", Floats(n.Mean));
            yield return new(p + "obs_norm.var", Floats(n.Var));
            yield return new(p + "obs_norm.epsilon", n.Epsilon.ToString("R", CultureInfo.InvariantCulture));
            yield return new(p + "obs_norm.clip", n.Clip.ToString("R", CultureInfo.InvariantCulture));
        }
        if (ActionScale is { } a)
        {
            yield return new(p + "action.low", Floats(a.Low));
            yield return new(p + "action.high", Floats(a.High));
        }
        if (Version is { } v) yield return new(p + "version", v.ToString(CultureInfo.InvariantCulture));
        if (Task is not null) yield return new(p + "task", Task);
        if (Robot is not null) yield return new(p + "robot", Robot);
        foreach (var kv in Extra) yield return kv;
    }

    /// <summary>Reads and validates metadata entries (from a safetensors <c>__metadata__</c>).</summary>
    /// <exception cref="PolicyFileException">No or several algorithms, an algorithm this build does not know
    /// (<see cref="PolicyFileError.UnknownAlgorithm"/>), missing, unparsable, unsupported or inconsistent values.</exception>
    public static PolicyMetadata FromEntries(IReadOnlyList<KeyValuePair<string, string>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var map = entries.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var algorithm = AlgorithmOf(map);
        var p = algorithm.Name() + ".";
        var format = RequiredInt(map, p + "format", 1, int.MaxValue);
        if (format != CurrentFormat)
            throw new PolicyFileException(PolicyFileError.UnsupportedFormat, $"{p}format is {format}; this build reads format {CurrentFormat}");
        var obs = RequiredInt(map, p + "obs_dim", 1, MaxDimension);
        var act = RequiredInt(map, p + "act_dim", 1, MaxDimension);
        var m = new PolicyMetadata
        {
            Algorithm = algorithm,
            ObsDim = obs,
            ActDim = act,
            Source = Required(map, p + "source"),
            ObsNorm = ReadObsNorm(map, p, obs),
            ActionScale = ReadActionScale(map, p, act),
            Version = map.TryGetValue(p + "version", out var ver)
                ? ulong.TryParse(ver, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw Invalid(p + "version", ver, "an unsigned integer")
                : null,
            Task = map.GetValueOrDefault(p + "task"),
            Robot = map.GetValueOrDefault(p + "robot"),
            Extra = entries.Where(kv => !KnownKeys(algorithm).Contains(kv.Key)).ToArray(),
        };
        m = algorithm switch
        {
            PolicyAlgorithm.Meow => m with
            {
                Alpha = RequiredDouble(map, "meow.alpha"),
                SigmaMin = RequiredDouble(map, "meow.sigma_min"),
                SigmaMax = RequiredDouble(map, "meow.sigma_max"),
                Hidden = RequiredInt(map, "meow.hidden", 1, MaxDimension),
                HiddenLayers = RequiredInt(map, "meow.hidden_layers", 1, 64),
                FlowLayers = RequiredInt(map, "meow.flow_layers", 1, 64),
                ShiftHidden = RequiredInt(map, "meow.shift_hidden", 1, MaxDimension),
                LayerNorm = Required(map, "meow.layer_norm") switch
                {
                    "true" or "True" => true,
                    "false" or "False" => false,
                    var s => throw Invalid("meow.layer_norm", s, "true or false"),
                },
            },
            PolicyAlgorithm.Sac => m with
            {
                Sac = new SacArchitecture
                {
                    Hidden = RequiredInt(map, "sac.hidden", 1, MaxDimension),
                    LogStdMin = RequiredDouble(map, "sac.log_std_min"),
                    LogStdMax = RequiredDouble(map, "sac.log_std_max"),
                    Alpha = RequiredDouble(map, "sac.alpha"),
                },
            },
            _ => m with { S2ac = ReadS2ac(map) },
        };
        m.Validate();
        return m;
    }

    /// <summary>The one algorithm whose format key is present.</summary>
    private static PolicyAlgorithm AlgorithmOf(Dictionary<string, string> map)
    {
        var found = PolicyAlgorithms.All.Where(a => map.ContainsKey(a.Name() + ".format")).ToArray();
        if (found.Length > 1)
            throw new PolicyFileException(PolicyFileError.InvalidMetadata, $"metadata names several algorithms ({string.Join(", ", found.Select(a => a.Name() + ".format"))})");
        if (found.Length == 1) return found[0];
        var other = map.Keys.FirstOrDefault(k => k.EndsWith(".format", StringComparison.Ordinal) && k.IndexOf('.', StringComparison.Ordinal) == k.Length - ".format".Length);
        if (other is not null)
            throw new PolicyFileException(PolicyFileError.UnknownAlgorithm,
                $"policy is of algorithm '{other[..^".format".Length]}', which this build does not know (it runs {string.Join(", ", PolicyAlgorithms.All.Select(a => a.Name()))})");
        throw new PolicyFileException(PolicyFileError.MissingMetadata, "metadata key 'meow.format' is missing (nor is there sac.format or s2ac.format)");
    }

    private static S2acArchitecture ReadS2ac(Dictionary<string, string> map)
    {
        var clamp = Required(map, "s2ac.sigma_clamp").Split(',');
        if (clamp.Length != 2) throw Invalid("s2ac.sigma_clamp", map["s2ac.sigma_clamp"], "two comma-separated numbers");
        return new S2acArchitecture
        {
            Particles = RequiredInt(map, "s2ac.particles", 1, 4096),
            SvgdSteps = RequiredInt(map, "s2ac.svgd_steps", 0, 1024),
            SvgdLr = RequiredDouble(map, "s2ac.svgd_lr"),
            Kernel = Required(map, "s2ac.kernel"),
            Hidden = RequiredInt(map, "s2ac.hidden", 1, MaxDimension),
            CriticLayers = RequiredInt(map, "s2ac.critic_layers", 1, 64),
            ActorLayers = RequiredInt(map, "s2ac.actor_layers", 1, 64),
            SamplerLayers = map.ContainsKey("s2ac.sampler_layers") ? RequiredInt(map, "s2ac.sampler_layers", 1, 64) : null,
            Activation = Required(map, "s2ac.activation"),
            Alpha = RequiredDouble(map, "s2ac.alpha"),
            ActLimit = RequiredDouble(map, "s2ac.act_limit"),
            SigmaClampMin = ParseDouble("s2ac.sigma_clamp", clamp[0]),
            SigmaClampMax = ParseDouble("s2ac.sigma_clamp", clamp[1]),
            InitialSigma = map.ContainsKey("s2ac.sigma_p0") ? RequiredDouble(map, "s2ac.sigma_p0") : null,
            Actor = map.GetValueOrDefault("s2ac.actor") switch
            {
                null or "svgd" => S2acActor.Svgd,
                "amortized" => S2acActor.Amortized,
                var s => throw Invalid("s2ac.actor", s, "svgd or amortized"),
            },
        };
    }

    /// <summary>Checks ranges and that the optional parts match the dimensions.</summary>
    /// <exception cref="PolicyFileException">With <see cref="PolicyFileError.InvalidMetadata"/>.</exception>
    public void Validate()
    {
        void Check(bool ok, string what)
        {
            if (!ok) throw new PolicyFileException(PolicyFileError.InvalidMetadata, what);
        }
        Check(PolicyAlgorithms.All.Contains(Algorithm), $"algorithm {Algorithm} is not one this build knows");
        Check(ObsDim is >= 1 and <= MaxDimension && ActDim is >= 1 and <= MaxDimension, $"obs_dim {ObsDim} and act_dim {ActDim} must lie in 1..{MaxDimension}");
        long width = 0;
        switch (Algorithm)
        {
            case PolicyAlgorithm.Meow:
                Check(Hidden is >= 1 and <= MaxDimension && ShiftHidden is >= 1 and <= MaxDimension, "hidden widths must lie in 1..65536");
                Check(HiddenLayers is >= 1 and <= 64 && FlowLayers is >= 1 and <= 64, "hidden_layers and flow_layers must lie in 1..64");
                Check(double.IsFinite(Alpha) && Alpha > 0, $"alpha {Alpha} must be finite and positive");
                Check(double.IsFinite(SigmaMin) && double.IsFinite(SigmaMax) && SigmaMin < SigmaMax, $"sigma_min {SigmaMin} must be below sigma_max {SigmaMax}");
                width = Math.Max(Hidden, ShiftHidden);
                break;
            case PolicyAlgorithm.Sac:
                Check(Sac.Hidden is >= 1 and <= MaxDimension, "sac.hidden must lie in 1..65536");
                Check(double.IsFinite(Sac.LogStdMin) && double.IsFinite(Sac.LogStdMax) && Sac.LogStdMin < Sac.LogStdMax,
                    $"sac.log_std_min {Sac.LogStdMin} must be below sac.log_std_max {Sac.LogStdMax}");
                Check(double.IsFinite(Sac.Alpha) && Sac.Alpha > 0, $"sac.alpha {Sac.Alpha} must be finite and positive");
                width = Sac.Hidden;
                break;
            case PolicyAlgorithm.S2ac:
                var s = S2ac;
                Check(s.Particles is >= 1 and <= 4096 && s.SvgdSteps is >= 0 and <= 1024, "s2ac.particles must lie in 1..4096 and s2ac.svgd_steps in 0..1024");
                Check(s.Hidden is >= 1 and <= MaxDimension && s.CriticLayers is >= 1 and <= 64 && s.ActorLayers is >= 1 and <= 64 && s.SamplerDepth is >= 1 and <= 64,
                    "s2ac.hidden must lie in 1..65536, critic_layers, actor_layers and sampler_layers in 1..64");
                Check(s.SamplerLayers is null || s.Actor == S2acActor.Amortized, "s2ac.sampler_layers belongs to an amortized file (s2ac.actor = amortized)");
                Check(s.Activation == "elu", $"s2ac.activation '{s.Activation}' is not one this build runs (elu)");
                Check(double.IsFinite(s.SvgdLr) && double.IsFinite(s.Alpha) && s.Alpha > 0 && double.IsFinite(s.ActLimit) && s.ActLimit > 0,
                    "s2ac.svgd_lr must be finite, alpha and act_limit finite and positive");
                Check(double.IsFinite(s.SigmaClampMin) && double.IsFinite(s.SigmaClampMax) && s.SigmaClampMin is > 0 && s.SigmaClampMin <= s.SigmaClampMax,
                    "s2ac.sigma_clamp must be two finite numbers, 0 < min ≤ max");
                Check(s.InitialSigma is null || (double.IsFinite(s.InitialSigma.Value) && s.InitialSigma > 0), "s2ac.sigma_p0 must be finite and positive");
                width = s.Hidden;
                break;
        }
        Check(width * (width + ObsDim + ActDim) <= MaxLayerWeights, $"a layer of these sizes would exceed {MaxLayerWeights} weights");
        var known = KnownKeys(Algorithm);
        foreach (var (k, _) in Extra)
            Check(!known.Contains(k), $"Extra holds '{k}', which is a modelled key");
        if (ObsNorm is { } n)
        {
            Check(n.Mean.Length == ObsDim && n.Var.Length == ObsDim, $"obs_norm mean/var have {n.Mean.Length}/{n.Var.Length} entries, obs_dim is {ObsDim}");
            Check(n.Mean.All(float.IsFinite) && n.Var.All(x => float.IsFinite(x) && x >= 0), "obs_norm mean must be finite and var finite and non-negative");
            Check(float.IsFinite(n.Epsilon) && n.Epsilon > 0, "obs_norm epsilon must be finite and positive");
            Check(n.Clip > 0 && !float.IsNaN(n.Clip), "obs_norm clip must be positive (Infinity for none)");
        }
        if (ActionScale is { } a)
        {
            Check(a.Low.Length == ActDim && a.High.Length == ActDim, $"action low/high have {a.Low.Length}/{a.High.Length} entries, act_dim is {ActDim}");
            Check(a.Low.Zip(a.High).All(q => float.IsFinite(q.First) && float.IsFinite(q.Second) && q.First < q.Second), "action low must be finite and below high");
        }
    }

    private static readonly string[] CommonKeys =
    [
        "format", "obs_dim", "act_dim", "source", "obs_norm", "obs_norm.mean", "obs_norm.var", "obs_norm.epsilon", "obs_norm.clip",
        "action.low", "action.high", "version", "task", "robot",
    ];

    private static readonly Dictionary<PolicyAlgorithm, HashSet<string>> Known = new()
    {
        [PolicyAlgorithm.Meow] = Keys(PolicyAlgorithm.Meow, "alpha", "sigma_min", "sigma_max", "hidden", "hidden_layers", "flow_layers", "shift_hidden", "layer_norm"),
        [PolicyAlgorithm.Sac] = Keys(PolicyAlgorithm.Sac, "hidden", "log_std_min", "log_std_max", "alpha"),
        [PolicyAlgorithm.S2ac] = Keys(PolicyAlgorithm.S2ac, "particles", "svgd_steps", "svgd_lr", "kernel", "hidden", "critic_layers",
            "actor_layers", "sampler_layers", "activation", "alpha", "act_limit", "sigma_clamp", "sigma_p0", "actor"),
    };

    private static HashSet<string> Keys(PolicyAlgorithm algorithm, params string[] own) =>
        new(CommonKeys.Concat(own).Select(k => algorithm.Name() + "." + k), StringComparer.Ordinal);

    /// <summary>Every key this type models for an algorithm (the rest of its namespace, and other namespaces, are Extra).</summary>
    private static HashSet<string> KnownKeys(PolicyAlgorithm algorithm) => Known[algorithm];

    private static ObservationNormalization? ReadObsNorm(Dictionary<string, string> map, string p, int obsDim)
    {
        var on = map.GetValueOrDefault(p + "obs_norm");
        if (on is null or "false")
        {
            if (map.Keys.Any(k => k.StartsWith(p + "obs_norm.", StringComparison.Ordinal)))
                throw new PolicyFileException(PolicyFileError.InvalidMetadata, $"{p}obs_norm.* keys present but {p}obs_norm is not \"true\"");
            return null;
        }
        if (on != "true") throw Invalid(p + "obs_norm", on, "true or false");
        return new ObservationNormalization(
            RequiredFloats(map, p + "obs_norm.mean", obsDim),
            RequiredFloats(map, p + "obs_norm.var", obsDim),
            map.TryGetValue(p + "obs_norm.epsilon", out var e) ? ParseFloat(p + "obs_norm.epsilon", e) : 1e-8f,
            map.TryGetValue(p + "obs_norm.clip", out var c) ? ParseFloat(p + "obs_norm.clip", c) : 10f);
    }

    private static ActionScaling? ReadActionScale(Dictionary<string, string> map, string p, int actDim)
    {
        var low = map.ContainsKey(p + "action.low");
        if (low != map.ContainsKey(p + "action.high"))
            throw new PolicyFileException(PolicyFileError.InvalidMetadata, $"{p}action.low and {p}action.high come together");
        return low ? new ActionScaling(RequiredFloats(map, p + "action.low", actDim), RequiredFloats(map, p + "action.high", actDim)) : null;
    }

    private static string Required(Dictionary<string, string> map, string key) =>
        map.TryGetValue(key, out var v) ? v : throw new PolicyFileException(PolicyFileError.MissingMetadata, $"metadata key '{key}' is missing");

    private static int RequiredInt(Dictionary<string, string> map, string key, int min, int max)
    {
        var s = Required(map, key);
        return int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
            ? v
            : throw Invalid(key, s, $"an integer in {min}..{max}");
    }

    private static double RequiredDouble(Dictionary<string, string> map, string key)
    {
        var s = Required(map, key);
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : throw Invalid(key, s, "a finite number");
    }

    private static double ParseDouble(string key, string s) =>
        double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : throw Invalid(key, s, "a finite number");

    private static float ParseFloat(string key, string s) =>
        float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw Invalid(key, s, "a number");

    private static float[] RequiredFloats(Dictionary<string, string> map, string key, int count)
    {
        var s = Required(map, key);
        var parts = s.Split(',');
        if (parts.Length != count) throw Invalid(key, s.Length > 80 ? s[..80] + "…" : s, $"{count} comma-separated numbers");
        return parts.Select(p => ParseFloat(key, p.Trim())).ToArray();
    }

    private static PolicyFileException Invalid(string key, string value, string expected) =>
        new(PolicyFileError.InvalidMetadata, $"{key} = '{value}' is not {expected}");

    private static string Int(int v) => v.ToString(CultureInfo.InvariantCulture);

    // Round-trip float32 text, comma-separated (the metadata of safetensors is string → string only).
    private static string Floats(float[] values) => string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    /// <summary>Python's repr of a float ("0.2", "-5.0", "1e-05"), so files we write read like the official ones.</summary>
    internal static string PythonFloat(double v)
    {
        var s = v.ToString("R", CultureInfo.InvariantCulture);
        var e = s.IndexOf('E', StringComparison.Ordinal);
        if (e < 0) return s.Contains('.', StringComparison.Ordinal) ? s : s + ".0";
        var exponent = int.Parse(s.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return $"{s[..e]}e{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent):00}";
    }
}
