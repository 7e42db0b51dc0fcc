using System.Text;
using MeowRobot.Trainer.Reporting;
using MeowRobot.Trainer.Reporting.Plotting;

namespace MeowRobot.Campaign.Report;

/// <summary>One plot of the report: its PNG (or, when rsvg-convert could not make it, its SVG) and what it shows.</summary>
public sealed record ReportPlot(string Name, string File, string MediaType, byte[] Image);

/// <summary>What <see cref="CampaignReport.Write"/> wrote, and the problems that make the report incomplete.</summary>
public sealed record ReportOutcome(IReadOnlyList<string> Files, IReadOnlyList<ReportProblem> Problems);

/// <summary>
/// <c>campaign report DIR</c> (docs/campaigns.md): everything a campaign directory holds, read once — the runs and their
/// metrics, the gates' verdicts, the promotion's history and state — into one self-contained HTML page
/// (<see cref="ReportPage"/>), a JSON summary of the same figures (<see cref="ReportSummary"/>) and the plots as PNG
/// files, drawn by the trainer's chart code. A missing part (no gates yet, nothing promoted) is shown as such; a damaged
/// file is a <see cref="ReportProblem"/> on the page and the report is made from the rest.
/// </summary>
public sealed class CampaignReport
{
    public const string DirectoryName = "report", PageName = "index.html", LearningPlotName = "learning-curves";

    private readonly ReportProblems _problems;

    private CampaignReport(CampaignRuns campaign, ReportedPromotion promotion, ReportProblems problems, DateTimeOffset generatedAt)
    {
        Campaign = campaign;
        Curves = ConfigurationCurve.Of(campaign);
        Candidates = [.. campaign.Runs.Where(r => r.State?.Status == RunStatus.Done || r.VerdictExists)];
        Robustness = ParameterRobustness.Of(Candidates);
        Promotion = promotion;
        _problems = problems;
        GeneratedAt = generatedAt;
    }

    public CampaignRuns Campaign { get; }
    public IReadOnlyList<ConfigurationCurve> Curves { get; }

    /// <summary>The runs that finished (each one's final policy is a candidate) or that have a verdict.</summary>
    public IReadOnlyList<ReportedRun> Candidates { get; }
    public IReadOnlyList<ParameterRobustness> Robustness { get; }
    public ReportedPromotion Promotion { get; }
    public IReadOnlyList<ReportProblem> Problems => _problems.All;
    public IReadOnlyList<ReportPlot> Plots { get; private set; } = [];
    public DateTimeOffset GeneratedAt { get; }

    /// <summary>Reads a campaign directory; <see cref="CampaignException"/> when it is none.</summary>
    public static CampaignReport Read(string campaignDirectory)
    {
        var directory = Path.GetFullPath(campaignDirectory);
        var problems = new ReportProblems(directory);
        var campaign = CampaignRuns.Read(directory, problems);
        return new CampaignReport(campaign, ReportedPromotion.Read(directory, problems), problems, DateTimeOffset.UtcNow);
    }

    /// <summary>Writes index.html, summary.json and the plots (NAME.svg, NAME.png) into <paramref name="outputDirectory"/>.</summary>
    public ReportOutcome Write(string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        var files = new List<string>();
        var plots = new List<ReportPlot>();
        void Plot(Chart chart, string name)
        {
            var (written, pngProblem) = RunPlot.Save(chart, outputDirectory, name);
            files.AddRange(written);
            if (pngProblem is null)
                plots.Add(new ReportPlot(name, name + ".png", "image/png", File.ReadAllBytes(Path.Combine(outputDirectory, name + ".png"))));
            else
            {
                _problems.Add(Path.Combine(outputDirectory, name + ".png"), $"no PNG: {pngProblem} (the page shows the SVG)");
                plots.Add(new ReportPlot(name, name + ".svg", "image/svg+xml", File.ReadAllBytes(Path.Combine(outputDirectory, name + ".svg"))));
            }
        }
        if (ConfigurationCurve.Chart(Curves, $"{Campaign.Name}: learning curves") is { } learning) Plot(learning, LearningPlotName);
        var configurations = Curves.Select(c => c.Configuration).ToArray();
        foreach (var p in Robustness) Plot(p.Chart($"{Campaign.Name}: robustness across {p.Parameter}", configurations), RobustnessPlotName(p.Parameter));
        Plots = plots;
        files.Add(WriteWhole(Path.Combine(outputDirectory, ReportSummary.FileName), ReportSummary.Render(this)));
        files.Add(WriteWhole(Path.Combine(outputDirectory, PageName), ReportPage.Render(this)));
        return new ReportOutcome(files, Problems);
    }

    /// <summary>robustness-NAME (a MuJoCo parameter's name such as body_mass:torso made file-safe).</summary>
    public static string RobustnessPlotName(string parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        return "robustness-" + new string([.. parameter.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' or '.' ? ch : '_')]);
    }

    /// <summary>What the gate table's verdict column says about a run.</summary>
    public static string VerdictText(ReportedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.Verdict is { } v ? v.Passed ? "passed" : v.Error is not null ? "not evaluated" : "rejected"
            : run.VerdictExists ? "verdict unreadable" : "not gated yet";
    }

    /// <summary>Written beside, then renamed over: a reader never sees half a page.</summary>
    private static string WriteWhole(string path, string text)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, text, new UTF8Encoding(false));
        File.Move(temp, path, overwrite: true);
        return path;
    }
}
