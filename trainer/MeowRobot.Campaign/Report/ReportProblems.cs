namespace MeowRobot.Campaign.Report;

/// <summary>An input the report could not read in full (malformed JSON, a truncated CSV, a damaged state file): the page
/// lists it where the figure would be, summary.json lists it, and <c>campaign report</c> exits 1.</summary>
/// <param name="File">The file, relative to the campaign directory.</param>
public sealed record ReportProblem(string File, string Problem);

/// <summary>The problems found while reading a campaign, in the order found, with paths relative to the campaign.</summary>
public sealed class ReportProblems(string campaignDirectory)
{
    private readonly List<ReportProblem> _all = [];

    public IReadOnlyList<ReportProblem> All => _all;

    public string Relative(string path) => Path.GetRelativePath(campaignDirectory, path);

    public void Add(string path, string problem) => _all.Add(new ReportProblem(Relative(path), problem));

    /// <summary>The problems of one file (the page shows them beside its figures).</summary>
    public IEnumerable<ReportProblem> Of(string path) => _all.Where(p => p.File == Relative(path));
}
