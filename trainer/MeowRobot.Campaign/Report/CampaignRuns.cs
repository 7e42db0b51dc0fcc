using System.Globalization;
using System.Text.RegularExpressions;
using MeowRobot.Campaign.Spec;
using MeowRobot.Trainer.Reporting;

namespace MeowRobot.Campaign.Report;

/// <summary>One evaluation of a run (metrics.csv's <c>eval</c> rows): mean and std of the return over its episodes.</summary>
public readonly record struct EvalPoint(long EnvSteps, double Mean, double Std);

/// <summary>A run as the report shows it: its state (null when run.json is damaged), how far it got, its evaluations,
/// and its gate verdict (null: not gated yet, or the verdict is damaged: see the problems).</summary>
public sealed record ReportedRun(string Id, string Configuration, int? Seed, string Directory, RunState? State, long EnvSteps,
    IReadOnlyList<EvalPoint> Evals, ReportedVerdict? Verdict, bool VerdictExists)
{
    public string StatusText => State?.Status.ToString().ToLowerInvariant() ?? "unreadable";

    public double? FinalEvalReturn => Evals.Count > 0 ? Evals[^1].Mean : null;
}

/// <summary>
/// What the report knows about a campaign directory: its spec (null when spec.yaml is damaged: the runs are then found
/// under runs/), every run with its metrics and verdict, the engine that ran them and the wall time.
/// </summary>
public sealed record CampaignRuns(string Directory, string Name, CampaignSpec? Spec, IReadOnlyList<ReportedRun> Runs)
{
    private static readonly Regex RunId = new("^(?<configuration>.+)-s(?<seed>-?[0-9]+)$", RegexOptions.CultureInvariant);

    /// <summary>Reads the campaign; a directory with neither spec.yaml nor runs/ is a <see cref="CampaignException"/>.</summary>
    public static CampaignRuns Read(string directory, ReportProblems problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        directory = Path.GetFullPath(directory);
        var specFile = Path.Combine(directory, Campaign.SpecFileName);
        var runsDirectory = Path.Combine(directory, "runs");
        if (!File.Exists(specFile) && !System.IO.Directory.Exists(runsDirectory))
            throw new CampaignException($"{directory} is not a campaign directory (no {Campaign.SpecFileName}, no runs/)");
        CampaignSpec? spec = null;
        List<(string Id, string Configuration, int? Seed)> planned;
        if (File.Exists(specFile))
        {
            try
            {
                // as the engine reads it: relative paths (model, the rehearsal's controller) against the spec's source
                using var campaign = Campaign.Open(directory);
                spec = campaign.Spec;
            }
            catch (CampaignSpecException e)
            {
                problems.Add(specFile, $"unreadable spec ({e.Message}): the runs are those found under runs/");
            }
        }
        else problems.Add(specFile, "missing: the runs are those found under runs/");
        if (spec is not null)
            planned = [.. new RunPlan(spec, directory).Runs.Select(r => (r.Id, r.Configuration.Name, (int?)r.Seed))];
        else
            planned = [.. (System.IO.Directory.Exists(runsDirectory) ? System.IO.Directory.GetDirectories(runsDirectory) : [])
                .Select(Path.GetFileName).Order(StringComparer.Ordinal)
                .Select(id => RunId.Match(id!) is { Success: true } m
                    ? (id!, m.Groups["configuration"].Value, int.TryParse(m.Groups["seed"].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) ? s : (int?)null)
                    : (id!, id!, (int?)null))];
        var runs = planned.Select(p => ReadRun(Path.Combine(runsDirectory, p.Id), p.Id, p.Configuration, p.Seed, problems)).ToArray();
        return new CampaignRuns(directory, spec?.Name ?? Path.GetFileName(directory), spec, runs);
    }

    /// <summary>"local", "slurm" (a run.json names its Slurm job) or null when nothing has started.</summary>
    public string? Engine => Runs.Any(r => r.State?.SlurmJob is not null) ? "slurm" : Runs.Any(r => r.State?.Started is not null) ? "local" : null;

    public int Count(RunStatus status) => Runs.Count(r => r.State?.Status == status);

    /// <summary>From the first run's start to the last run's finish (null until a run has finished).</summary>
    public TimeSpan? WallTime
    {
        get
        {
            var started = Runs.Select(r => r.State?.Started).OfType<DateTimeOffset>().ToArray();
            var finished = Runs.Select(r => r.State?.Finished).OfType<DateTimeOffset>().ToArray();
            return started.Length == 0 || finished.Length == 0 ? null : finished.Max() - started.Min();
        }
    }

    private static ReportedRun ReadRun(string runDirectory, string id, string configuration, int? seed, ReportProblems problems)
    {
        RunState? state;
        var stateFile = Path.Combine(runDirectory, "run.json");
        try
        {
            state = RunState.Read(stateFile, id);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            problems.Add(stateFile, $"unreadable run state: {e.Message}");
            state = null;
        }
        var (steps, evals) = ReadMetrics(Path.Combine(runDirectory, "trainer", MetricsCsv.FileName), state?.Status == RunStatus.Running, problems);
        var verdictFile = ReportedVerdict.PathIn(runDirectory);
        ReportedVerdict? verdict = null;
        if (File.Exists(verdictFile))
        {
            try
            {
                verdict = ReportedVerdict.Read(verdictFile);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                problems.Add(verdictFile, $"unreadable verdict: {e.Message}");
            }
        }
        return new ReportedRun(id, configuration, seed, runDirectory, state, steps, evals, verdict, File.Exists(verdictFile));
    }

    /// <summary>A run's env steps and evaluations from its metrics.csv (absent: none yet). Damaged lines are skipped and
    /// reported; a repeated evaluation of the same env step (there should be none) counts once, the last.</summary>
    private static (long Steps, IReadOnlyList<EvalPoint> Evals) ReadMetrics(string path, bool running, ReportProblems problems)
    {
        if (!File.Exists(path)) return (0, []);
        var tail = new MetricsTail(path, DateTimeOffset.UnixEpoch);
        try
        {
            tail.Poll();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add(path, $"unreadable: {e.Message}");
            return (0, []);
        }
        var inv = CultureInfo.InvariantCulture;
        if (!tail.HasColumn("event") || !tail.HasColumn("env_steps") || !tail.HasColumn("eval_return_mean"))
        {
            problems.Add(path, "no header naming event, env_steps and eval_return_mean: not a metrics.csv, or its start is damaged");
            return (0, []);
        }
        if (tail.DamagedLines > 0)
            problems.Add(path, string.Create(inv, $"{tail.DamagedLines} damaged line(s) (fewer fields than the header; first: line {tail.FirstDamagedLine}), skipped"));
        if (tail.UnterminatedLength > 0 && !running)
            problems.Add(path, string.Create(inv, $"ends in a cut-off line ({tail.UnterminatedLength} characters after the last line end), skipped"));
        var evals = tail.Rows.Where(r => r.Event == "eval" && double.IsFinite(r.EvalReturnMean))
            .GroupBy(r => r.EnvSteps).Select(g => g.Last()).OrderBy(r => r.EnvSteps)
            .Select(r => new EvalPoint(r.EnvSteps, r.EvalReturnMean, double.IsFinite(r.EvalReturnStd) ? r.EvalReturnStd : 0)).ToArray();
        return (tail.Rows.Count > 0 ? tail.Rows.Max(r => r.EnvSteps) : 0, evals);
    }
}
