using System.Globalization;
using System.Text.Json;

namespace MeowRobot.Campaign.Report;

/// <summary>One gate check of a verdict: the measured value against its threshold (null value: not measured).</summary>
public sealed record ReportedCheck(string Name, string Op, double? Threshold, double? Value, bool Passed, string? Source);

/// <summary>
/// A candidate's verdict (runs/ID/gate/verdict.json, written by the gates; format in docs/campaigns.md): whether it
/// passed, each check, the rehearsal's safe stops by reason, and the held-out evaluation's episodes with the parameters
/// each ran with (the robustness plot's data); <c>error</c> says why a candidate could not be evaluated. Read as the report needs it: tolerant of keys added
/// later, and naming the key of any damage, so one damaged verdict is a line on the page and not a failed report (the
/// gates' own reader, Gates/GateVerdict.cs, is strict: a gate decision needs a whole verdict).
/// </summary>
public sealed record ReportedVerdict(
    string Candidate,
    string? Configuration,
    int? Seed,
    string? Algorithm,
    string? PolicySha256,
    bool Passed,
    IReadOnlyList<ReportedCheck> Checks,
    IReadOnlyList<(string Name, double Value)> EvalFigures,
    IReadOnlyList<(string Name, double Value)> RehearsalFigures,
    IReadOnlyList<double> EvalReturns,
    IReadOnlyList<IReadOnlyDictionary<string, double>> EvalParams,
    string? EvaluatedAt,
    string? Error,
    IReadOnlyDictionary<string, long>? SafeStopsByReason = null)
{
    public const string DirectoryName = "gate", FileName = "verdict.json";

    /// <summary>runs/ID/gate/verdict.json of a run directory.</summary>
    public static string PathIn(string runDirectory) => Path.Combine(runDirectory, DirectoryName, FileName);

    /// <summary>Reads a verdict; <see cref="InvalidDataException"/> names what is wrong (malformed JSON, a missing or
    /// mistyped key, params not aligned with returns).</summary>
    public static ReportedVerdict Read(string path)
    {
        using var doc = JsonFields.Parse(JsonFields.ReadText(path));
        var root = JsonFields.Object(doc.RootElement, "");
        var checks = root.Array("checks").Select((c, i) =>
        {
            var f = JsonFields.Object(c, $"checks[{i.ToString(CultureInfo.InvariantCulture)}]");
            return new ReportedCheck(f.String("name"), f.OptionalString("op") ?? "", f.OptionalNumber("threshold"), f.OptionalNumber("value"),
                f.Bool("passed"), f.OptionalString("source"));
        }).ToArray();
        var eval = root.OptionalObject("eval");
        var rehearsal = root.OptionalObject("rehearsal");
        var returns = eval?.Numbers("returns") ?? [];
        var parameters = eval?.Array("params").Select((p, i) =>
        {
            var f = JsonFields.Object(p, $"eval.params[{i.ToString(CultureInfo.InvariantCulture)}]");
            var values = f.NumericMembers();
            if (values.Count != f.Element.EnumerateObject().Count())
                throw new InvalidDataException($"eval.params[{i.ToString(CultureInfo.InvariantCulture)}]: every parameter must be a number");
            return (IReadOnlyDictionary<string, double>)values.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        }).ToArray() ?? [];
        if (parameters.Length != 0 && parameters.Length != returns.Count)
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"eval.params has {parameters.Length} episodes but eval.returns {returns.Count} (they must be aligned)"));
        var seed = root.OptionalInteger("seed");
        return new ReportedVerdict(root.String("candidate"), root.OptionalString("configuration"), seed is { } s and >= int.MinValue and <= int.MaxValue ? (int)s : null,
            root.OptionalString("algorithm"), root.OptionalString("policy_sha256"), root.Bool("passed"), checks,
            eval?.NumericMembers() ?? [], rehearsal?.NumericMembers() ?? [], returns, parameters, root.OptionalString("evaluated_at"),
            root.OptionalString("error"),
            rehearsal?.OptionalObject("safe_stops_by_reason")?.NumericMembers().ToDictionary(m => m.Name, m => (long)m.Value, StringComparer.Ordinal));
    }
}
