using System.Globalization;
using System.Net;
using System.Text;
using MeowRobot.Bridge.Sim;
using MeowRobot.Campaign.Gates;

namespace MeowRobot.Campaign.Report;

/// <summary>
/// report/index.html: one self-contained page (inline style, plots as data URIs, no script, nothing fetched), in the
/// order a reviewer reads a campaign: what ran and how far it got, what is wrong with the inputs, the learning curves,
/// the gate table, each candidate's robustness across the randomisation, and what was promoted where and when.
/// </summary>
public static class ReportPage
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private const string Style = """
        body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:2em auto;max-width:1000px;color:#222;line-height:1.4}
        h1{margin-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
        table{border-collapse:collapse;margin:.6em 0;font-size:.9em} th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
        th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
        .pass{color:#1b7a2e;font-weight:bold} .fail{color:#b3261e;font-weight:bold} .none{color:#777;font-style:italic}
        .problems{border:2px solid #b3261e;background:#fdf0ef;padding:.6em 1em} img{max-width:100%;border:1px solid #ddd}
        .muted{color:#666} code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:.9em} pre{background:#f7f7f7;padding:.6em;overflow:auto}
        """;

    public static string Render(CampaignReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var b = new StringBuilder();
        var c = report.Campaign;
        b.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(H($"Campaign {c.Name}"))
            .Append("</title><style>").Append(Style).Append("</style></head><body>\n");
        b.Append("<h1>Campaign ").Append(H(c.Name)).Append("</h1>\n<p class=\"muted\">Report generated ")
            .Append(H(report.GeneratedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", Inv))).Append(" from <code>").Append(H(c.Directory)).Append("</code></p>\n");
        Header(b, report);
        Problems(b, report);
        Learning(b, report);
        Gates(b, report);
        Robustness(b, report);
        Promotion(b, report);
        Runs(b, report);
        b.Append("</body></html>\n");
        return b.ToString();
    }

    private static void Header(StringBuilder b, CampaignReport report)
    {
        var c = report.Campaign;
        var s = c.Spec;
        b.Append("<table class=\"facts\">\n");
        void Row(string key, string html) => b.Append("<tr><th>").Append(H(key)).Append("</th><td>").Append(html).Append("</td></tr>\n");
        if (s is null) Row("spec", "<span class=\"fail\">unreadable (see the problems below)</span>");
        else
        {
            Row("task", H(s.Task) + (s.Model is { } m ? $" (model <code>{H(m)}</code>)" : ""));
            Row("envs per run", s.Envs.ToString(Inv));
            if (s.Params.Count > 0) Row("fixed parameters", H(string.Join(", ", s.Params.Select(p => $"{p.Key} = {p.Value.ToString("G6", Inv)}"))));
            Row("randomisation", s.Randomise.Count == 0 ? "<span class=\"none\">none</span>" : H(ParameterDistribution.FormatList(s.Randomise)));
            Row("configurations", string.Join("<br>", s.Configurations.Select(k =>
                $"<b>{H(k.Name)}</b>: {H(k.Algorithm ?? "meow")}" + (k.Learner.Count > 0 ? " " + H(string.Join(", ", k.Learner.Select(l => $"{l.Key}={l.Value}"))) : ""))));
            Row("seeds", H(string.Join(", ", s.Seeds.Select(x => x.ToString(Inv)))));
            Row("budget", H(string.Create(Inv, $"{s.Budget.EnvSteps:N0} env steps per run; evaluation every {s.Budget.EvalEvery:N0} env steps over {s.Budget.EvalEpisodes} episodes")));
        }
        Row("engine", c.Engine is { } e ? H(e) + (s is not null ? H(string.Create(Inv, $" (up to {s.Parallel} run{(s.Parallel == 1 ? "" : "s")} at a time)")) : "") : "<span class=\"none\">no run started yet</span>");
        // Every state a run can be in, in the enum's order (an engine's own, such as Slurm's queued, included).
        var states = Enum.GetValues<RunStatus>().Select(st => string.Create(Inv, $"{c.Count(st)} {st.ToString().ToLowerInvariant()}"));
        var unreadable = c.Runs.Count(r => r.State is null) is > 0 and var u ? string.Create(Inv, $", {u} unreadable") : "";
        Row("runs", H(string.Create(Inv, $"{c.Runs.Count}: ") + string.Join(", ", states) + unreadable));
        Row("wall time", c.WallTime is { } w ? H(Duration(w)) + " <span class=\"muted\">(first run's start to last run's finish)</span>" : "<span class=\"none\">no run finished yet</span>");
        b.Append("</table>\n");
        var specFile = Path.Combine(c.Directory, Campaign.SpecFileName);
        if (File.Exists(specFile))
            b.Append("<details><summary>spec.yaml as kept with the campaign</summary><pre>").Append(H(File.ReadAllText(specFile))).Append("</pre></details>\n");
    }

    private static void Problems(StringBuilder b, CampaignReport report)
    {
        if (report.Problems.Count == 0) return;
        b.Append("<div class=\"problems\" id=\"problems\"><b>").Append(H(string.Create(Inv, $"This report is incomplete: {report.Problems.Count} problem(s) reading the campaign")))
            .Append("</b> (the figures below are made from the rest):<ul>\n");
        foreach (var p in report.Problems) b.Append("<li><code>").Append(H(p.File)).Append("</code>: ").Append(H(p.Problem)).Append("</li>\n");
        b.Append("</ul></div>\n");
    }

    private static void Learning(StringBuilder b, CampaignReport report)
    {
        Section(b, "learning", "Learning curves", null);
        b.Append("<p>Deterministic evaluation return against env steps (each run's <code>trainer/metrics.csv</code>, its <code>eval</code> rows): per configuration the mean over its seeds with ± their standard deviation as a band (with two seeds the band is their range), and below, each seed's own curve.</p>\n");
        if (!Image(b, report, CampaignReport.LearningPlotName)) b.Append("<p class=\"none\">No run has evaluated yet.</p>\n");
        b.Append("<table id=\"final-returns\"><tr><th>configuration</th><th>algorithm</th><th>runs</th><th>final evaluation return per seed</th><th>mean ± std over seeds</th></tr>\n");
        foreach (var curve in report.Curves)
        {
            var finals = curve.FinalReturns;
            b.Append("<tr data-configuration=\"").Append(H(curve.Configuration)).Append("\"><td>").Append(H(curve.Configuration)).Append("</td><td>").Append(H(curve.Algorithm ?? "?"))
                .Append("</td><td class=\"num\">").Append(curve.Runs.Count.ToString(Inv)).Append("</td><td>")
                .Append(string.Join(", ", curve.Runs.Select(r => $"{H(r.Seed?.ToString(Inv) ?? r.Id)}: {(r.FinalEvalReturn is { } f ? Num(f) : "<span class=\"none\">none yet</span>")}" +
                    (r.State?.Status == RunStatus.Done ? "" : $" <span class=\"muted\">({H(r.StatusText)}, {r.EnvSteps.ToString("N0", Inv)} env steps)</span>"))))
                .Append("</td><td class=\"num\">");
            if (finals.Count > 0)
            {
                var (mean, std, n) = ConfigurationCurve.Spread(finals);
                b.Append(Num(mean)).Append(" ± ").Append(Num(std)).Append(H(string.Create(Inv, $" (n={n})")));
            }
            else b.Append("<span class=\"none\">—</span>");
            b.Append("</td></tr>\n");
        }
        b.Append("</table>\n");
    }

    private static void Gates(StringBuilder b, CampaignReport report)
    {
        if (!Section(b, "gates", "Gates", report.Candidates.Count == 0 ? "No candidate yet: no run has finished." : null)) return;
        var gated = report.Candidates.Where(r => r.Verdict is not null).ToArray();
        if (gated.Length == 0 && report.Candidates.All(r => !r.VerdictExists))
            b.Append("<p class=\"none\">No gate verdicts yet (no <code>runs/*/gate/verdict.json</code>): the candidates below have not been evaluated.</p>\n");
        b.Append("<p>Each candidate (a finished run's final policy) against the gates: held-out evaluation (<code>policy eval</code> on the evaluation randomisation) and rehearsal through the controller. A cell is the measured value, the rule, and whether it passed.</p>\n");
        var checks = gated.SelectMany(r => r.Verdict!.Checks.Select(k => k.Name)).Distinct(StringComparer.Ordinal).ToArray();
        b.Append("<table id=\"gate-table\"><tr><th>candidate</th><th>configuration</th><th>seed</th>");
        foreach (var k in checks) b.Append("<th>").Append(H(k)).Append("</th>");
        b.Append("<th>verdict</th></tr>\n");
        foreach (var r in report.Candidates)
        {
            b.Append("<tr data-candidate=\"").Append(H(r.Id)).Append("\"><td>").Append(H(r.Id)).Append("</td><td>").Append(H(r.Verdict?.Configuration ?? r.Configuration))
                .Append("</td><td class=\"num\">").Append(H((r.Verdict?.Seed ?? r.Seed)?.ToString(Inv) ?? "")).Append("</td>");
            foreach (var name in checks)
            {
                var k = r.Verdict?.Checks.FirstOrDefault(x => x.Name == name);
                if (k is null)
                {
                    b.Append("<td class=\"none\">—</td>");
                    continue;
                }
                b.Append("<td class=\"num\" data-check=\"").Append(H(name)).Append("\" data-passed=\"").Append(k.Passed ? "true" : "false").Append("\">")
                    .Append(k.Value is { } v ? Num(v) : "<span class=\"none\">not measured</span>").Append(' ').Append(H(k.Op)).Append(' ')
                    .Append(k.Threshold is { } t ? Num(t) : "").Append(' ').Append(k.Passed ? "<span class=\"pass\">✓</span>" : "<span class=\"fail\">✗</span>");
                if (GateVerdict.ReasonsBehind(name, r.Verdict!.SafeStopsByReason) is { Length: > 0 } reasons)
                    b.Append("<br><span class=\"muted\" data-reasons>").Append(H(reasons)).Append("</span>");
                b.Append("</td>");
            }
            var verdict = CampaignReport.VerdictText(r);
            b.Append("<td class=\"").Append(verdict switch { "passed" => "pass", "rejected" => "fail", _ => "none" }).Append("\" data-verdict=\"").Append(H(verdict)).Append("\">")
                .Append(H(verdict)).Append(r.Verdict?.Error is { } error ? $"<br><span class=\"muted\">{H(error)}</span>" : "").Append("</td></tr>\n");
        }
        b.Append("</table>\n");
        if (gated.Length > 0)
        {
            b.Append("<details><summary>each verdict's evaluation and rehearsal figures</summary><table><tr><th>candidate</th><th>held-out evaluation</th><th>rehearsal</th><th>evaluated at</th></tr>\n");
            foreach (var r in gated)
            {
                var v = r.Verdict!;
                b.Append("<tr><td>").Append(H(r.Id)).Append("</td><td>").Append(Figures(v.EvalFigures)).Append("</td><td>").Append(Figures(v.RehearsalFigures))
                    .Append("</td><td>").Append(H(v.EvaluatedAt ?? "")).Append("</td></tr>\n");
            }
            b.Append("</table></details>\n");
        }
    }

    private static void Robustness(StringBuilder b, CampaignReport report)
    {
        if (!Section(b, "robustness", "Robustness across the randomisation",
                report.Robustness.Count == 0 ? "No held-out episodes with their parameters yet (a verdict's <code>eval.params</code>)." : null))
            return;
        b.Append("<p>").Append(H(string.Create(Inv, $"Each candidate's held-out episodes by the value of each randomised parameter: its range cut into equal bins (⌊√n⌋ for the fewest episodes n of a candidate, at most {ParameterRobustness.MaxBins}), per bin the mean return ± its standard deviation, over the episodes themselves."))).Append("</p>\n");
        foreach (var p in report.Robustness)
        {
            b.Append("<h3>").Append(H(p.Parameter)).Append("</h3>\n");
            Image(b, report, CampaignReport.RobustnessPlotName(p.Parameter));
            b.Append("<table data-parameter=\"").Append(H(p.Parameter)).Append("\"><tr><th>candidate</th>");
            foreach (var bin in p.Candidates[0].Bins) b.Append("<th>").Append(Num(bin.Low)).Append(" – ").Append(Num(bin.High)).Append("</th>");
            b.Append("</tr>\n");
            foreach (var x in p.Candidates)
            {
                b.Append("<tr><td>").Append(H(x.Candidate.Id)).Append("</td>");
                foreach (var bin in x.Bins)
                    b.Append("<td class=\"num\">").Append(bin.MeanReturn is { } m ? $"{Num(m)} ± {Num(bin.StdReturn!.Value)} <span class=\"muted\">({bin.Episodes.ToString(Inv)})</span>" : "<span class=\"none\">no episode</span>").Append("</td>");
                b.Append("</tr>\n");
            }
            b.Append("</table>\n");
        }
    }

    private static void Promotion(StringBuilder b, CampaignReport report)
    {
        var p = report.Promotion;
        if (!Section(b, "promotion", "Promotion", !p.HistoryExists && !p.StateExists
                ? "Nothing promoted yet (no <code>promotion/history.jsonl</code> or <code>promotion/state.json</code>)." : null))
            return;
        if (p.StateExists)
        {
            b.Append("<p>What each robot is meant to run now").Append(p.Phase is { } phase ? $" (phase: <code>{H(phase)}</code>)" : "").Append(":</p>\n");
            b.Append("<table id=\"robots\"><tr><th>robot</th><th>candidate</th><th>version</th><th>sha256</th><th>before</th></tr>\n");
            foreach (var r in p.Robots)
                b.Append("<tr data-robot=\"").Append(H(r.Robot)).Append("\"><td>").Append(H(r.Robot)).Append("</td><td>").Append(H(r.Candidate ?? "none"))
                    .Append("</td><td class=\"num\">").Append(H(r.Version?.ToString(Inv) ?? "")).Append("</td><td><code>").Append(H(r.Sha256 is { Length: > 12 } h ? h[..12] + "…" : r.Sha256 ?? ""))
                    .Append("</code></td><td>").Append(H(r.PreviousCandidate is { } pc ? $"{pc} (version {r.PreviousVersion?.ToString(Inv) ?? "?"})" : "none")).Append("</td></tr>\n");
            b.Append("</table>\n");
        }
        if (p.Events.Count == 0) b.Append("<p class=\"none\">No promotion event recorded.</p>\n");
        else
        {
            b.Append("<p>Every promotion event, in order (<code>promotion/history.jsonl</code>):</p>\n<table id=\"promotion-history\"><tr><th>when</th><th>action</th><th>candidate</th><th>robots</th><th>why</th></tr>\n");
            foreach (var e in p.Events)
            {
                b.Append("<tr data-action=\"").Append(H(e.Action)).Append("\"><td>").Append(H(e.At)).Append("</td><td class=\"")
                    .Append(e.Action.Contains("rollback", StringComparison.Ordinal) || e.Action == "refused" ? "fail" : "pass").Append("\">").Append(H(e.Action))
                    .Append("</td><td>").Append(H(e.Candidate ?? "")).Append(e.Forced ? " <span class=\"fail\">(forced past its gate)</span>" : "").Append("</td><td>").Append(H(string.Join(", ", e.Robots))).Append("</td><td>").Append(H(e.Reason ?? ""));
                if (e.Telemetry is { } t) b.Append("<details><summary>telemetry</summary><pre>").Append(H(t)).Append("</pre></details>");
                b.Append("</td></tr>\n");
            }
            b.Append("</table>\n");
        }
    }

    private static void Runs(StringBuilder b, CampaignReport report)
    {
        b.Append("<h2 id=\"runs\">Runs</h2>\n<table><tr><th>run</th><th>state</th><th>attempts</th><th>env steps</th><th>started</th><th>finished</th><th>note</th></tr>\n");
        foreach (var r in report.Campaign.Runs)
        {
            var s = r.State;
            b.Append("<tr><td>").Append(H(r.Id)).Append("</td><td>").Append(H(r.StatusText)).Append("</td><td class=\"num\">").Append(H(s?.Attempts.ToString(Inv) ?? ""))
                .Append("</td><td class=\"num\">").Append(r.EnvSteps.ToString("N0", Inv)).Append("</td><td>").Append(H(Time(s?.Started))).Append("</td><td>").Append(H(Time(s?.Finished)))
                .Append("</td><td>").Append(H(s?.SlurmJob is { } job ? $"Slurm job {job}" : "")).Append(H(s?.Status == RunStatus.Failed ? s.Message ?? "" : "")).Append("</td></tr>\n");
        }
        b.Append("</table>\n");
    }

    /// <summary>A section's heading; given <paramref name="missing"/> (HTML saying what is not there yet), that line
    /// under it and false: the section has nothing more to show.</summary>
    private static bool Section(StringBuilder b, string id, string title, string? missing)
    {
        b.Append("<h2 id=\"").Append(id).Append("\">").Append(H(title)).Append("</h2>\n");
        if (missing is null) return true;
        b.Append("<p class=\"none\">").Append(missing).Append("</p>\n");
        return false;
    }

    /// <summary>The plot as a data URI (the page works on its own, offline); false when there is no such plot.</summary>
    private static bool Image(StringBuilder b, CampaignReport report, string name)
    {
        if (report.Plots.FirstOrDefault(p => p.Name == name) is not { } plot) return false;
        b.Append("<p><img alt=\"").Append(H(name)).Append("\" src=\"data:").Append(plot.MediaType).Append(";base64,").Append(Convert.ToBase64String(plot.Image))
            .Append("\"><br><span class=\"muted\">also <a href=\"").Append(H(plot.File)).Append("\">").Append(H(plot.File)).Append("</a></span></p>\n");
        return true;
    }

    private static string Figures(IReadOnlyList<(string Name, double Value)> figures) =>
        figures.Count == 0 ? "<span class=\"none\">none</span>" : string.Join("<br>", figures.Select(f => $"{H(f.Name)} {Num(f.Value)}"));

    /// <summary>A figure as the page prints it (and a reader types it back): up to three decimals, ASCII minus.</summary>
    public static string Num(double v) => double.IsFinite(v) ? v.ToString("0.###", Inv) : H(v.ToString(Inv));

    private static string Time(DateTimeOffset? t) => t is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv) : "";

    private static string Duration(TimeSpan t) =>
        t.TotalHours >= 1 ? string.Create(Inv, $"{(int)t.TotalHours} h {t.Minutes:D2} min") : t.TotalMinutes >= 1 ? string.Create(Inv, $"{(int)t.TotalMinutes} min {t.Seconds:D2} s") : string.Create(Inv, $"{t.TotalSeconds:F1} s");

    private static string H(string s) => WebUtility.HtmlEncode(s);
}
