using System.Text;
using System.Text.Json;

namespace MeowRobot.Campaign.Report;

/// <summary>
/// report/summary.json: the figures the page shows, for scripts (docs/campaigns.md has the keys): the campaign's runs,
/// per configuration its curve over seeds and final evaluation returns, per candidate its verdict, checks and binned
/// robustness, the promotion's history and state, and the problems found reading the inputs.
/// </summary>
public static class ReportSummary
{
    public const string FileName = "summary.json";

    public static string Render(CampaignReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            var c = report.Campaign;
            w.WriteStartObject();
            w.WriteString("campaign", c.Name);
            w.WriteString("generated_at", report.GeneratedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
            Text(w, "task", c.Spec?.Task);
            Text(w, "engine", c.Engine);
            w.WriteStartObject("runs");
            w.WriteNumber("total", c.Runs.Count);
            foreach (var s in Enum.GetValues<RunStatus>()) w.WriteNumber(s.ToString().ToLowerInvariant(), c.Count(s));
            w.WriteNumber("unreadable", c.Runs.Count(r => r.State is null));
            w.WriteEndObject();
            Number(w, "wall_seconds", c.WallTime?.TotalSeconds);

            w.WriteStartArray("configurations");
            foreach (var curve in report.Curves)
            {
                w.WriteStartObject();
                w.WriteString("name", curve.Configuration);
                Text(w, "algorithm", curve.Algorithm);
                w.WriteStartArray("runs");
                foreach (var r in curve.Runs)
                {
                    w.WriteStartObject();
                    w.WriteString("id", r.Id);
                    if (r.Seed is { } seed) w.WriteNumber("seed", seed); else w.WriteNull("seed");
                    w.WriteString("status", r.StatusText);
                    w.WriteNumber("env_steps", r.EnvSteps);
                    w.WriteNumber("evaluations", r.Evals.Count);
                    Number(w, "final_eval_return", r.FinalEvalReturn);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartObject("final_eval_return");
                var finals = curve.FinalReturns;
                w.WriteNumber("runs", finals.Count);
                if (finals.Count > 0)
                {
                    var (mean, std, _) = ConfigurationCurve.Spread(finals);
                    w.WriteNumber("mean", mean);
                    w.WriteNumber("std", std);
                    w.WriteNumber("min", finals.Min());
                    w.WriteNumber("max", finals.Max());
                }
                w.WriteEndObject();
                w.WriteStartArray("curve");
                foreach (var p in curve.Points)
                {
                    w.WriteStartObject();
                    w.WriteNumber("env_steps", p.EnvSteps);
                    w.WriteNumber("mean", p.Mean);
                    w.WriteNumber("std", p.Std);
                    w.WriteNumber("seeds", p.Seeds);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartArray("candidates");
            foreach (var r in report.Candidates)
            {
                w.WriteStartObject();
                w.WriteString("id", r.Id);
                w.WriteString("configuration", r.Configuration);
                if (r.Seed is { } seed) w.WriteNumber("seed", seed); else w.WriteNull("seed");
                w.WriteString("verdict", CampaignReport.VerdictText(r));
                if (r.Verdict is { } v)
                {
                    w.WriteBoolean("passed", v.Passed);
                    Text(w, "error", v.Error);
                    Text(w, "evaluated_at", v.EvaluatedAt);
                    w.WriteStartArray("checks");
                    foreach (var check in v.Checks)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", check.Name);
                        w.WriteString("op", check.Op);
                        Number(w, "threshold", check.Threshold);
                        Number(w, "value", check.Value);
                        w.WriteBoolean("passed", check.Passed);
                        Text(w, "source", check.Source);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    Figures(w, "eval", v.EvalFigures);
                    Figures(w, "rehearsal", v.RehearsalFigures);
                    if (v.SafeStopsByReason is { } reasons)
                    {
                        w.WriteStartObject("safe_stops_by_reason");
                        foreach (var (reason, count) in reasons) w.WriteNumber(reason, count);
                        w.WriteEndObject();
                    }
                }
                w.WriteStartArray("robustness");
                foreach (var p in report.Robustness)
                {
                    if (p.Candidates.FirstOrDefault(x => x.Candidate.Id == r.Id) is not { } cr) continue;
                    w.WriteStartObject();
                    w.WriteString("parameter", p.Parameter);
                    w.WriteNumber("episodes", cr.Episodes.Count);
                    w.WriteStartArray("bins");
                    foreach (var b in cr.Bins)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("low", b.Low);
                        w.WriteNumber("high", b.High);
                        w.WriteNumber("episodes", b.Episodes);
                        Number(w, "mean_return", b.MeanReturn);
                        Number(w, "std_return", b.StdReturn);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartObject("promotion");
            var promotion = report.Promotion;
            w.WriteStartArray("events");
            foreach (var e in promotion.Events)
            {
                w.WriteStartObject();
                w.WriteString("at", e.At);
                w.WriteString("action", e.Action);
                Text(w, "candidate", e.Candidate);
                w.WriteStartArray("robots");
                foreach (var robot in e.Robots) w.WriteStringValue(robot);
                w.WriteEndArray();
                Text(w, "reason", e.Reason);
                w.WriteBoolean("forced", e.Forced);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (!promotion.StateExists) w.WriteNull("robots");
            else
            {
                w.WriteStartObject("robots");
                foreach (var robot in promotion.Robots)
                {
                    w.WriteStartObject(robot.Robot);
                    Text(w, "candidate", robot.Candidate);
                    Number(w, "version", robot.Version);
                    Text(w, "previous_candidate", robot.PreviousCandidate);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            Text(w, "phase", promotion.Phase);
            w.WriteEndObject();

            w.WriteStartArray("problems");
            foreach (var p in report.Problems)
            {
                w.WriteStartObject();
                w.WriteString("file", p.File);
                w.WriteString("problem", p.Problem);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void Text(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name); else w.WriteString(name, value);
    }

    private static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    private static void Number(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    private static void Figures(Utf8JsonWriter w, string name, IReadOnlyList<(string Name, double Value)> figures)
    {
        w.WriteStartObject(name);
        foreach (var (key, value) in figures) Number(w, key, value);
        w.WriteEndObject();
    }
}
