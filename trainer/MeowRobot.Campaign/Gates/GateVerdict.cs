using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using MeowRobot.Control.Modes;
using MeowRobot.Control.RobotIo;

namespace MeowRobot.Campaign.Gates;

/// <summary>One gate applied to a candidate: its condition, the candidate's value and whether it passed.</summary>
/// <param name="Source"><c>eval</c> (policy eval on the held-out randomisation) or <c>rehearsal</c> (controller run).</param>
public sealed record GateCheckResult(string Name, string Op, double Threshold, double Value, bool Passed, string Source);

/// <summary>The held-out evaluation's evidence: episode i was reset with seed <c>Seed + i</c>, ran with
/// <c>Params[i]</c> (the held-out draws; empty maps when nothing is randomised) and returned <c>Returns[i]</c>.</summary>
public sealed record EvalEvidence(int Episodes, int Seed, double MeanReturn, double P10Return, IReadOnlyList<double> Returns,
    IReadOnlyList<IReadOnlyDictionary<string, double>> Params);

/// <summary>The rehearsal's evidence: the same seeds and randomisation through <c>controller run</c> with the robot's
/// controller configuration, and what the controller counted (per requested episode where the name says so). The safe
/// stops split by kind — stalls (stale or missing observations, the deadline-miss budget: the machine's doing) and
/// policy stops (state bounds, non-finite values) — and by reason (<c>observation_stale</c> → count, over all episodes).</summary>
public sealed record RehearsalEvidence(int Episodes, int Seed, double MeanReturn, double P10Return, IReadOnlyList<double> Returns,
    double SafeStopsPerEpisode, double EnvelopeInterventionsPerEpisode, long DeadlineMisses, long SafeStops, long EnvelopeInterventions,
    long Ticks, string Controller, IReadOnlyList<IReadOnlyDictionary<string, double>> Params,
    double StallSafeStopsPerEpisode = 0, double PolicySafeStopsPerEpisode = 0, IReadOnlyDictionary<string, long>? SafeStopsByReason = null);

/// <summary>
/// A candidate's verdict (runs/ID/gate/verdict.json; the campaign contract's format, docs/campaigns.md): which policy
/// file (path relative to the campaign directory, SHA-256, algorithm), whether it passed every gate, each gate's value,
/// and the evidence. <see cref="Error"/> says why a candidate could not be evaluated (a damaged policy file, a tool
/// that refused it or kept crashing); such a candidate has not passed. Written whole, beside and renamed over.
/// </summary>
public sealed record GateVerdict
{
    public const string FileName = "verdict.json";

    public required string Candidate { get; init; }
    public required string Policy { get; init; }
    public string? PolicySha256 { get; init; }
    public string? Algorithm { get; init; }
    public required string Configuration { get; init; }
    public int Seed { get; init; }
    public bool Passed { get; init; }
    public IReadOnlyList<GateCheckResult> Checks { get; init; } = [];
    public EvalEvidence? Eval { get; init; }
    public RehearsalEvidence? Rehearsal { get; init; }
    public string? Error { get; init; }
    public DateTime EvaluatedAt { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // a value that is no number fails its gate; it must not fail the write
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // ">=" as written, for people reading the file (never embedded in HTML unescaped)
    };

    /// <summary>The verdict in <paramref name="path"/>, or null when there is none yet; <see cref="InvalidDataException"/>
    /// naming the file when it is not one (the atomic write never leaves half of one).</summary>
    public static GateVerdict? Read(string path) => CampaignJson.Read<GateVerdict>(path, "a gate verdict", Json);

    public void Write(string path) => CampaignJson.Write(path, this, Json);

    /// <summary>The gates that failed, e.g. <c>mean_return -812.3 (needs &gt;= -400)</c>, a safe-stop gate with the
    /// reasons (<c>safe_stops_per_episode 0.2 (needs &lt;= 0; observation_stale 1)</c>), or the error.</summary>
    public string Why() => Error ?? string.Join(", ", Checks.Where(c => !c.Passed).Select(c => string.Create(CultureInfo.InvariantCulture,
        $"{c.Name} {c.Value:0.###} (needs {c.Op} {c.Threshold:R}{StopReasons(c.Name)})")));

    private string StopReasons(string gate) => ReasonsBehind(gate, Rehearsal?.SafeStopsByReason) is { Length: > 0 } shown ? "; " + shown : "";

    /// <summary>The reasons behind a safe-stop gate's value, <c>observation_stale 1, state_out_of_bounds 2</c> (only its
    /// kind's for the stall and policy gates); "" for another gate or no stops.</summary>
    public static string ReasonsBehind(string gate, IReadOnlyDictionary<string, long>? reasons)
    {
        ArgumentNullException.ThrowIfNull(gate);
        if (!gate.EndsWith("safe_stops_per_episode", StringComparison.Ordinal) || reasons is null) return "";
        return string.Join(", ", reasons.Where(r => r.Value > 0 && gate switch
        {
            "stall_safe_stops_per_episode" => SafeStopReason.IsStall(r.Key),
            "policy_safe_stops_per_episode" => !SafeStopReason.IsStall(r.Key),
            _ => true,
        }).Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Key} {r.Value}")));
    }

    /// <summary>The 10th percentile of <paramref name="values"/>, interpolated linearly between order statistics (numpy's
    /// default); NaN for none.</summary>
    public static double P10(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var h = 0.1 * (sorted.Length - 1);
        var lo = (int)Math.Floor(h);
        return lo + 1 < sorted.Length ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
    }

    /// <summary>The evaluation's evidence from <c>policy eval --output</c>.</summary>
    public static EvalEvidence EvalFrom(EpisodeReport report, int seed)
    {
        ArgumentNullException.ThrowIfNull(report);
        var returns = report.Episodes.Select(e => e.Return).ToArray();
        return new EvalEvidence(returns.Length, seed, returns.Average(), P10(returns), returns, ParamsOf(report));
    }

    /// <summary>The rehearsal's evidence from <c>controller run --output</c> (its counters: docs/campaigns.md).</summary>
    public static RehearsalEvidence RehearsalFrom(EpisodeReport report, int seed, string controller)
    {
        ArgumentNullException.ThrowIfNull(report);
        long Count(string name) => report.Counters.FirstOrDefault(c => c.Key == name) is { Key: not null } c
            ? c.Value : throw new InvalidDataException($"the rehearsal report has no '{name}' count");
        var returns = report.Episodes.Select(e => e.Return).ToArray();
        double n = returns.Length;
        return new RehearsalEvidence(returns.Length, seed, returns.Average(), P10(returns), returns,
            Count("safe_stops") / n, Count("envelope_interventions") / n, Count("deadline_misses"), Count("safe_stops"),
            Count("envelope_interventions"), Count("ticks"), controller, ParamsOf(report),
            Count("stall_safe_stops") / n, Count("policy_safe_stops") / n,
            report.Episodes.SelectMany(e => e.SafeStops ?? new Dictionary<string, long>()).GroupBy(x => x.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Sum(x => x.Value), StringComparer.Ordinal));
    }

    /// <summary>Applies the gates to the evidence (a rehearsal gate without rehearsal evidence fails).</summary>
    public static IReadOnlyList<GateCheckResult> Apply(IReadOnlyList<GateCheck> gates, EvalEvidence eval, RehearsalEvidence? rehearsal)
    {
        ArgumentNullException.ThrowIfNull(gates);
        ArgumentNullException.ThrowIfNull(eval);
        return gates.Select(g =>
        {
            var value = g.Name switch
            {
                "mean_return" => eval.MeanReturn,
                "p10_return" => eval.P10Return,
                "rehearsal_mean_return" => rehearsal?.MeanReturn,
                "rehearsal_p10_return" => rehearsal?.P10Return,
                "safe_stops_per_episode" => rehearsal?.SafeStopsPerEpisode,
                "stall_safe_stops_per_episode" => rehearsal?.StallSafeStopsPerEpisode,
                "policy_safe_stops_per_episode" => rehearsal?.PolicySafeStopsPerEpisode,
                "envelope_interventions_per_episode" => rehearsal?.EnvelopeInterventionsPerEpisode,
                "deadline_misses" => rehearsal?.DeadlineMisses,
                _ => throw new ArgumentException($"unknown gate '{g.Name}'"),
            } ?? double.NaN;
            return new GateCheckResult(g.Name, g.Op, g.Threshold, value, g.Passes(value), g.Source == GateSource.Eval ? "eval" : "rehearsal");
        }).ToArray();
    }

    private static IReadOnlyDictionary<string, double>[] ParamsOf(EpisodeReport report) =>
        report.Episodes.Select(e => e.Params ?? new Dictionary<string, double>()).ToArray();
}
