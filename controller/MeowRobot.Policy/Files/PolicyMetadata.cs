using System.Globalization;

namespace MeowRobot.Policy.Files;

/// <summary>Observation normalisation carried with the weights: s' = clamp((s − mean) / sqrt(var + epsilon), −clip, clip).</summary>
public sealed record ObservationNormalization(float[] Mean, float[] Var, float Epsilon = 1e-8f, float Clip = 10f);

/// <summary>Maps the squashed action a ∈ [−1, 1] to [low, high] per actuator: low + (a + 1)(high − low)/2.</summary>
public sealed record ActionScaling(float[] Low, float[] High);

/// <summary>The typed <c>meow.*</c> metadata of a policy file. Defaults are the official MEow ones. Keys this type does not
/// model are kept, in order, in <see cref="Extra"/> and written back on save. See controller/MeowRobot.Policy/README.md.</summary>
public sealed record PolicyMetadata
{
    public const int CurrentFormat = 1;

    /// <summary>The largest dimension or width accepted, so that metadata alone can never ask for absurd sizes.</summary>
    public const int MaxDimension = 1 << 16;

    /// <summary>The most weights one Linear layer may have (2^28 floats = 1 GiB), so sizes always fit an array.</summary>
    public const long MaxLayerWeights = 1L << 28;

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
    public string Source { get; init; } = "MeowRobot";

    public ObservationNormalization? ObsNorm { get; init; }
    public ActionScaling? ActionScale { get; init; }
    /// <summary>The policy's version as the trainer numbered it (bundles carry their own; this is informational).</summary>
    public ulong? Version { get; init; }
    public string? Task { get; init; }
    public string? Robot { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Extra { get; init; } = [];

    public int Couplings => 2 * FlowLayers;

    private const string Prefix = "meow.";

    /// <summary>The metadata entries in the order they are written (the golden files' order first, then our additions).</summary>
    public IEnumerable<KeyValuePair<string, string>> ToEntries()
    {
        yield return new("meow.format", CurrentFormat.ToString(CultureInfo.InvariantCulture));
        yield return new("meow.obs_dim", Int(ObsDim));
        yield return new("meow.act_dim", Int(ActDim));
        yield return new("meow.alpha", PythonFloat(Alpha));
        yield return new("meow.sigma_min", PythonFloat(SigmaMin));
        yield return new("meow.sigma_max", PythonFloat(SigmaMax));
        yield return new("meow.hidden", Int(Hidden));
        yield return new("meow.hidden_layers", Int(HiddenLayers));
        yield return new("meow.flow_layers", Int(FlowLayers));
        yield return new("meow.shift_hidden", Int(ShiftHidden));
        yield return new("meow.layer_norm", LayerNorm ? "true" : "false");
        yield return new("meow.source", Source);
        if (ObsNorm is { } n)
        {
            yield return new("meow.obs_norm", "true");
            yield return new("meow.obs_norm.mean", Floats(n.Mean));
            yield return new("meow.obs_norm.var", Floats(n.Var));
            yield return new("meow.obs_norm.epsilon", n.Epsilon.ToString("R", CultureInfo.InvariantCulture));
            yield return new("meow.obs_norm.clip", n.Clip.ToString("R", CultureInfo.InvariantCulture));
        }
        if (ActionScale is { } s)
        {
            yield return new("meow.action.low", Floats(s.Low));
            yield return new("meow.action.high", Floats(s.High));
        }
        if (Version is { } v) yield return new("meow.version", v.ToString(CultureInfo.InvariantCulture));
        if (Task is not null) yield return new("meow.task", Task);
        if (Robot is not null) yield return new("meow.robot", Robot);
        foreach (var kv in Extra) yield return kv;
    }

    /// <summary>Reads and validates metadata entries (from a safetensors <c>__metadata__</c>).</summary>
    /// <exception cref="PolicyFileException">Missing, unparsable, unsupported or inconsistent values.</exception>
    public static PolicyMetadata FromEntries(IReadOnlyList<KeyValuePair<string, string>> entries)
    {
        var map = entries.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var format = RequiredInt(map, "meow.format", 1, int.MaxValue);
        if (format != CurrentFormat)
            throw new PolicyFileException(PolicyFileError.UnsupportedFormat, $"meow.format is {format}; this build reads format {CurrentFormat}");
        var obs = RequiredInt(map, "meow.obs_dim", 1, MaxDimension);
        var act = RequiredInt(map, "meow.act_dim", 1, MaxDimension);
        var m = new PolicyMetadata
        {
            ObsDim = obs,
            ActDim = act,
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
            Source = Required(map, "meow.source"),
            ObsNorm = ReadObsNorm(map, obs),
            ActionScale = ReadActionScale(map, act),
            Version = map.TryGetValue("meow.version", out var ver)
                ? ulong.TryParse(ver, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw Invalid("meow.version", ver, "an unsigned integer")
                : null,
            Task = map.GetValueOrDefault("meow.task"),
            Robot = map.GetValueOrDefault("meow.robot"),
            Extra = entries.Where(kv => !Known.Contains(kv.Key)).ToArray(),
        };
        m.Validate();
        return m;
    }

    /// <summary>Checks ranges and that the optional parts match the dimensions.</summary>
    /// <exception cref="PolicyFileException">With <see cref="PolicyFileError.InvalidMetadata"/>.</exception>
    public void Validate()
    {
        void Check(bool ok, string what)
        {
            if (!ok) throw new PolicyFileException(PolicyFileError.InvalidMetadata, what);
        }
        Check(ObsDim is >= 1 and <= MaxDimension && ActDim is >= 1 and <= MaxDimension, $"obs_dim {ObsDim} and act_dim {ActDim} must lie in 1..{MaxDimension}");
        Check(Hidden is >= 1 and <= MaxDimension && ShiftHidden is >= 1 and <= MaxDimension, "hidden widths must lie in 1..65536");
        Check(HiddenLayers is >= 1 and <= 64 && FlowLayers is >= 1 and <= 64, "hidden_layers and flow_layers must lie in 1..64");
        var width = (long)Math.Max(Hidden, ShiftHidden);
        Check(width * (width + ObsDim + ActDim) <= MaxLayerWeights, $"a layer of these sizes would exceed {MaxLayerWeights} weights");
        Check(double.IsFinite(Alpha) && Alpha > 0, $"alpha {Alpha} must be finite and positive");
        Check(double.IsFinite(SigmaMin) && double.IsFinite(SigmaMax) && SigmaMin < SigmaMax, $"sigma_min {SigmaMin} must be below sigma_max {SigmaMax}");
        foreach (var (k, _) in Extra)
            Check(!Known.Contains(k), $"Extra holds '{k}', which is a modelled key");
        if (ObsNorm is { } n)
        {
            Check(n.Mean.Length == ObsDim && n.Var.Length == ObsDim, $"obs_norm mean/var have {n.Mean.Length}/{n.Var.Length} entries, obs_dim is {ObsDim}");
            Check(n.Mean.All(float.IsFinite) && n.Var.All(x => float.IsFinite(x) && x >= 0), "obs_norm mean must be finite and var finite and non-negative");
            Check(float.IsFinite(n.Epsilon) && n.Epsilon > 0, "obs_norm epsilon must be finite and positive");
            Check(n.Clip > 0 && !float.IsNaN(n.Clip), "obs_norm clip must be positive (Infinity for none)");
        }
        if (ActionScale is { } s)
        {
            Check(s.Low.Length == ActDim && s.High.Length == ActDim, $"action low/high have {s.Low.Length}/{s.High.Length} entries, act_dim is {ActDim}");
            Check(s.Low.Zip(s.High).All(p => float.IsFinite(p.First) && float.IsFinite(p.Second) && p.First < p.Second), "action low must be finite and below high");
        }
    }

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "meow.format", "meow.obs_dim", "meow.act_dim", "meow.alpha", "meow.sigma_min", "meow.sigma_max", "meow.hidden",
        "meow.hidden_layers", "meow.flow_layers", "meow.shift_hidden", "meow.layer_norm", "meow.source", "meow.obs_norm",
        "meow.obs_norm.mean", "meow.obs_norm.var", "meow.obs_norm.epsilon", "meow.obs_norm.clip", "meow.action.low",
        "meow.action.high", "meow.version", "meow.task", "meow.robot",
    };

    private static ObservationNormalization? ReadObsNorm(Dictionary<string, string> map, int obsDim)
    {
        var on = map.GetValueOrDefault("meow.obs_norm");
        if (on is null or "false")
        {
            if (map.Keys.Any(k => k.StartsWith("meow.obs_norm.", StringComparison.Ordinal)))
                throw new PolicyFileException(PolicyFileError.InvalidMetadata, "meow.obs_norm.* keys present but meow.obs_norm is not \"true\"");
            return null;
        }
        if (on != "true") throw Invalid("meow.obs_norm", on, "true or false");
        return new ObservationNormalization(
            RequiredFloats(map, "meow.obs_norm.mean", obsDim),
            RequiredFloats(map, "meow.obs_norm.var", obsDim),
            map.TryGetValue("meow.obs_norm.epsilon", out var e) ? ParseFloat("meow.obs_norm.epsilon", e) : 1e-8f,
            map.TryGetValue("meow.obs_norm.clip", out var c) ? ParseFloat("meow.obs_norm.clip", c) : 10f);
    }

    private static ActionScaling? ReadActionScale(Dictionary<string, string> map, int actDim)
    {
        var low = map.ContainsKey("meow.action.low");
        if (low != map.ContainsKey("meow.action.high"))
            throw new PolicyFileException(PolicyFileError.InvalidMetadata, "meow.action.low and meow.action.high come together");
        return low ? new ActionScaling(RequiredFloats(map, "meow.action.low", actDim), RequiredFloats(map, "meow.action.high", actDim)) : null;
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
