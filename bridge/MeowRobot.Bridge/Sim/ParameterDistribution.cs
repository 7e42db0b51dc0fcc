using System.Globalization;
using System.Text;
using MeowRobot.Bridge.Randomness;

namespace MeowRobot.Bridge.Sim;

/// <summary>How a randomised parameter is drawn at each episode's reset.</summary>
public enum DistributionKind
{
    /// <summary>U[low, high].</summary>
    Uniform,

    /// <summary>exp(U[ln low, ln high]): scale-like parameters (masses, gains), where ×2 and ×½ are equally likely.</summary>
    LogUniform,

    /// <summary>N(mean, std²) truncated to [low, high] (redrawn while outside; the bounds are what the task accepts).</summary>
    Normal,
}

/// <summary>
/// Domain randomisation of one task parameter: a distribution with bounds, sampled per episode from the episode's seed
/// (docs/tasks.md, "Domain randomisation"). Text form, as given on command lines, in configuration and in policy files'
/// metadata: <c>uniform(low, high)</c>, <c>log_uniform(low, high)</c>, <c>normal(mean, std, low, high)</c>.
/// Integer parameters (an action delay) round each draw to the nearest whole number.
/// </summary>
public sealed record ParameterDistribution(string Name, DistributionKind Kind, double Low, double High, double Mean = 0, double Std = 0)
{
    /// <summary>Redraws of a truncated normal before it falls back to the clamped mean (a draw this unlikely means the
    /// bounds sit far in a tail; the fallback keeps a reset's time bounded).</summary>
    private const int MaxNormalDraws = 64;

    /// <summary>Null when the distribution itself is well-formed (finite numbers, low ≤ high, std &gt; 0, low &gt; 0 for
    /// log-uniform), else why not. Whether the task accepts its bounds is <see cref="Check"/>'s business.</summary>
    public string? Problem() =>
        !double.IsFinite(Low) || !double.IsFinite(High) ? $"randomisation of '{Name}': bounds must be finite, got [{Low}, {High}]"
        : Low > High ? $"randomisation of '{Name}': low {Low} is above high {High}"
        : Kind == DistributionKind.LogUniform && Low <= 0 ? $"randomisation of '{Name}': log_uniform needs low > 0, got {Low}"
        : Kind == DistributionKind.Normal && (!double.IsFinite(Mean) || !double.IsFinite(Std) || Std <= 0)
            ? $"randomisation of '{Name}': normal needs a finite mean and std > 0, got mean {Mean}, std {Std}"
        : null;

    /// <summary>Null when the distribution is well-formed and the task's parameter accepts both bounds (so every draw is
    /// acceptable), else why not. Uses the parameter's own validation, the one a fixed value goes through.</summary>
    public string? Check(IReadOnlyList<TaskParameter> parameters, string task)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (Problem() is { } problem) return problem;
        var p = parameters.FirstOrDefault(q => q.Name == Name);
        if (p is null) return $"{task} has no parameter '{Name}' (it has: {string.Join(", ", parameters.Select(q => q.Name))})";
        return p.Validate(Low) is { } low ? $"randomisation of '{Name}': low bound: {low}"
            : p.Validate(High) is { } high ? $"randomisation of '{Name}': high bound: {high}"
            : null;
    }

    /// <summary>One draw, within [Low, High]; rounded when <paramref name="integer"/>.</summary>
    public double Sample(Rng rng, bool integer = false)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var x = Kind switch
        {
            DistributionKind.Uniform => rng.Uniform(Low, High),
            DistributionKind.LogUniform => Math.Exp(rng.Uniform(Math.Log(Low), Math.Log(High))),
            _ => TruncatedNormal(rng),
        };
        x = Math.Clamp(x, Low, High); // exp/log rounding can leave the box by an ulp
        return integer ? Math.Clamp(Math.Round(x, MidpointRounding.ToEven), Math.Ceiling(Low), Math.Floor(High)) : x;
    }

    private double TruncatedNormal(Rng rng)
    {
        for (var i = 0; i < MaxNormalDraws; i++)
        {
            var x = Mean + Std * rng.NextNormal();
            if (x >= Low && x <= High) return x;
        }
        return Math.Clamp(Mean, Low, High);
    }

    /// <summary>The text form, e.g. <c>mass=uniform(0.5, 2)</c>; <see cref="Parse(string)"/> reads it back exactly.</summary>
    public override string ToString() => $"{Name}={Body}";

    /// <summary>The distribution without the name: <c>uniform(0.5, 2)</c>.</summary>
    public string Body => Kind switch
    {
        DistributionKind.Uniform => $"uniform({N(Low)}, {N(High)})",
        DistributionKind.LogUniform => $"log_uniform({N(Low)}, {N(High)})",
        _ => $"normal({N(Mean)}, {N(Std)}, {N(Low)}, {N(High)})",
    };

    /// <summary>Wire and file name of a kind.</summary>
    public static string KindName(DistributionKind kind) => kind switch
    {
        DistributionKind.Uniform => "uniform",
        DistributionKind.LogUniform => "log_uniform",
        _ => "normal",
    };

    /// <summary>The kind of a wire or file name (<c>uniform</c>, <c>log_uniform</c>, <c>normal</c>), or null.</summary>
    public static DistributionKind? KindOf(string name) => name switch
    {
        "uniform" => DistributionKind.Uniform,
        "log_uniform" => DistributionKind.LogUniform,
        "normal" => DistributionKind.Normal,
        _ => null,
    };

    /// <summary>Reads <c>name=kind(args)</c>; <see cref="FormatException"/> saying what is wrong.</summary>
    public static ParameterDistribution Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) throw new FormatException($"'{text}' is not NAME=DISTRIBUTION (e.g. mass=uniform(0.5, 2))");
        return Parse(text[..eq].Trim(), text[(eq + 1)..]);
    }

    /// <summary>Reads <c>kind(args)</c> for parameter <paramref name="name"/>; <see cref="FormatException"/> saying what is wrong.</summary>
    public static ParameterDistribution Parse(string name, string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        const string Forms = "uniform(low, high), log_uniform(low, high) or normal(mean, std, low, high)";
        var s = body.Trim();
        var open = s.IndexOf('(', StringComparison.Ordinal);
        if (string.IsNullOrWhiteSpace(name)) throw new FormatException($"a randomisation needs a parameter name, got '{body}'");
        if (open <= 0 || !s.EndsWith(')')) throw new FormatException($"'{name}': '{body}' is not {Forms}");
        var kind = KindOf(s[..open].Trim()) ?? throw new FormatException($"'{name}': unknown distribution '{s[..open].Trim()}' (known: {Forms})");
        var args = s[(open + 1)..^1].Split(',');
        var values = new double[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            if (!double.TryParse(args[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new FormatException($"'{name}': '{args[i].Trim()}' in '{body}' is not a number");
        }
        var want = kind == DistributionKind.Normal ? 4 : 2;
        if (values.Length != want) throw new FormatException($"'{name}': {KindName(kind)} takes {want} numbers, got {values.Length} in '{body}'");
        var d = kind == DistributionKind.Normal
            ? new ParameterDistribution(name, kind, values[2], values[3], values[0], values[1])
            : new ParameterDistribution(name, kind, values[0], values[1]);
        return d.Problem() is { } problem ? throw new FormatException(problem) : d;
    }

    /// <summary>Null when <paramref name="body"/> reads as a distribution for <paramref name="name"/>, else why not
    /// (configuration validation reports it under the entry's key).</summary>
    public static string? ParseProblem(string name, string? body)
    {
        try
        {
            Parse(name, body ?? "");
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>Reads repeatable command-line entries (<c>--randomise NAME=DIST</c>), in name order;
    /// <see cref="FormatException"/> for a malformed one or a name given twice.</summary>
    public static IReadOnlyList<ParameterDistribution> ParseArguments(IEnumerable<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var list = entries.Select(Parse).OrderBy(d => d.Name, StringComparer.Ordinal).ToArray();
        for (var i = 1; i < list.Length; i++)
        {
            if (list[i].Name == list[i - 1].Name) throw new FormatException($"parameter '{list[i].Name}' is randomised twice");
        }
        return list;
    }

    /// <summary>Reads a list in the text form, separated by ';' (the policy file's <c>meow.randomisation</c>).</summary>
    public static IReadOnlyList<ParameterDistribution> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Parse).ToArray();
    }

    /// <summary>The list's text form (names in order, separated by "; ").</summary>
    public static string FormatList(IEnumerable<ParameterDistribution> distributions)
    {
        ArgumentNullException.ThrowIfNull(distributions);
        var b = new StringBuilder();
        foreach (var d in distributions) b.Append(b.Length > 0 ? "; " : "").Append(d);
        return b.ToString();
    }

    /// <summary>Null when the names are unique and each distribution fits the task, else the first problem.</summary>
    public static string? CheckAll(IReadOnlyList<ParameterDistribution> distributions, IReadOnlyList<TaskParameter> parameters, string task)
    {
        ArgumentNullException.ThrowIfNull(distributions);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in distributions)
        {
            if (!seen.Add(d.Name)) return $"parameter '{d.Name}' is randomised twice";
            if (d.Check(parameters, task) is { } why) return why;
        }
        return null;
    }

    private static string N(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
