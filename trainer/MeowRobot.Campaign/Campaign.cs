using System.Globalization;
using System.Text;
using MeowRobot.Campaign.Gates;
using MeowRobot.Campaign.Spec;
using MeowRobot.Hosting;

namespace MeowRobot.Campaign;

/// <summary>What a run's trainer has written so far (its metrics.csv): env steps reached and the latest evaluation.</summary>
public sealed record RunProgress(long EnvSteps, double? LastEvalReturn)
{
    /// <summary>Reads RunDir/metrics.csv (absent or empty: nothing yet). Tolerates a last line cut by a crash.</summary>
    public static RunProgress Read(string trainerDirectory)
    {
        var path = Path.Combine(trainerDirectory, "metrics.csv");
        if (!File.Exists(path)) return new RunProgress(0, null);
        string[] lines;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var reader = new StreamReader(stream))
            lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) return new RunProgress(0, null);
        var header = lines[0].Split(',');
        int steps = Array.IndexOf(header, "env_steps"), eval = Array.IndexOf(header, "eval_return_mean");
        long envSteps = 0;
        double? last = null;
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            if (cells.Length != header.Length) continue;
            if (long.TryParse(cells[steps], NumberStyles.None, CultureInfo.InvariantCulture, out var s)) envSteps = Math.Max(envSteps, s);
            if (double.TryParse(cells[eval], NumberStyles.Float, CultureInfo.InvariantCulture, out var r)) last = r;
        }
        return new RunProgress(envSteps, last);
    }
}

/// <summary>
/// A campaign directory: the spec it was started with (spec.yaml, kept with the results), one directory per run under
/// runs/, and the runner's lock. Opening one for running takes the lock, so a second runner on the same directory is
/// refused; <c>status</c> and <c>report</c> open it without.
/// </summary>
public sealed class Campaign : IDisposable
{
    public const string SpecFileName = "spec.yaml";
    public const string LockFileName = "campaign.lock";

    /// <summary>The path of the spec file the campaign was started from: the kept copy's relative paths (model, the
    /// rehearsal's controller configuration) are relative to it.</summary>
    public const string SpecSourceFileName = "spec.source";

    private readonly FileStream? _lock;

    private Campaign(string directory, CampaignSpec spec, FileStream? held)
    {
        Directory = directory;
        Spec = spec;
        Plan = new RunPlan(spec, directory);
        _lock = held;
    }

    public string Directory { get; }
    public CampaignSpec Spec { get; }
    public RunPlan Plan { get; }

    /// <summary>Starts or resumes the campaign of <paramref name="specPath"/> in <paramref name="directory"/>: a new
    /// directory gets a copy of the spec; an existing one must hold the same spec (a changed spec is a new campaign).</summary>
    public static Campaign OpenForRun(string specPath, string directory)
    {
        var spec = CampaignSpec.Load(specPath);
        directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(directory);
        var held = Lock(directory);
        try
        {
            var kept = Path.Combine(directory, SpecFileName);
            var text = File.ReadAllText(specPath);
            if (File.Exists(kept))
            {
                if (File.ReadAllText(kept) != text)
                    throw new CampaignException($"{directory} holds a campaign of another spec ({kept} differs from {specPath}): give this one its own directory");
            }
            else
            {
                File.WriteAllText(kept + ".tmp", text, new UTF8Encoding(false));
                File.Move(kept + ".tmp", kept);
            }
            var source = Path.Combine(directory, SpecSourceFileName);
            File.WriteAllText(source + ".tmp", Path.GetFullPath(specPath) + "\n", new UTF8Encoding(false));
            File.Move(source + ".tmp", source, overwrite: true);
            var campaign = new Campaign(directory, spec, held);
            foreach (var run in campaign.Plan.Runs) System.IO.Directory.CreateDirectory(run.Directory);
            return campaign;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>Opens a campaign directory to read it (no lock).</summary>
    public static Campaign Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        var kept = Path.Combine(directory, SpecFileName);
        if (!File.Exists(kept)) throw new CampaignException($"{directory} is not a campaign directory (no {SpecFileName})");
        var source = Path.Combine(directory, SpecSourceFileName);
        var baseDirectory = File.Exists(source) ? Path.GetDirectoryName(File.ReadAllText(source).Trim())! : directory;
        return new Campaign(directory, CampaignSpec.Parse(File.ReadAllText(kept), SpecFileName, baseDirectory), null);
    }

    public RunState State(PlannedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return RunState.Read(run.StateFile, run.Id);
    }

    /// <summary>The one-line summary the runner prints on every change and <c>status</c> ends with.</summary>
    public string Summary()
    {
        var states = Plan.Runs.Select(r => (Run: r, State: State(r))).ToArray();
        int Count(RunStatus s) => states.Count(x => x.State.Status == s);
        var best = states.Select(x => (x.Run, Progress: RunProgress.Read(x.Run.TrainerDirectory)))
            .Where(x => x.Progress.LastEvalReturn is not null).OrderByDescending(x => x.Progress.LastEvalReturn).FirstOrDefault();
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv, $"campaign {Spec.Name}: {states.Length} runs: {Count(RunStatus.Done)} done, {Count(RunStatus.Running)} running, ") +
            (Count(RunStatus.Queued) > 0 ? string.Create(inv, $"{Count(RunStatus.Queued)} queued, ") : "") +
            string.Create(inv, $"{Count(RunStatus.Failed)} failed, {Count(RunStatus.Pending)} pending; ") +
            (best.Run is null ? "no evaluation yet" : string.Create(inv, $"best eval return so far {best.Progress.LastEvalReturn:F1} ({best.Run.Id})")) +
            (Spec.Evaluation is null ? "" : "; " + new GateTally(Plan.Runs).Line());
    }

    /// <summary>One line per run (id, state, attempts, env steps of the budget, last evaluation, and where an engine
    /// reports more, e.g. the run's Slurm task, its <paramref name="where"/> column), then the summary.</summary>
    public string StatusTable(IReadOnlyDictionary<string, string>? where = null, string? whereHeader = null)
    {
        var b = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var gates = Spec.Evaluation is null ? null : new GateTally(Plan.Runs);
        b.AppendLine("run                      state    attempts  env_steps        last_eval" + (gates is null ? "" : "  gate") + (where is null ? "" : $"  {whereHeader}"));
        foreach (var run in Plan.Runs)
        {
            var s = State(run);
            var p = RunProgress.Read(run.TrainerDirectory);
            b.AppendLine(string.Create(inv, $"{run.Id,-24} {s.Status.ToString().ToLowerInvariant(),-8} {s.Attempts,8}  {p.EnvSteps,7}/{Spec.Budget.EnvSteps,-8} {(p.LastEvalReturn is { } r ? r.ToString("F1", inv) : "-"),9}") +
                (gates is null ? "" : "  " + gates.Cell(run)) +
                (where is not null && where.TryGetValue(run.Id, out var w) ? $"  {w}" : "") +
                (s.Status == RunStatus.Failed && s.Message is { } m ? $"  ({m})" : ""));
        }
        b.AppendLine(Summary());
        return b.ToString();
    }

    /// <summary>Lets another runner in (the Slurm engine, once it has submitted, only follows).</summary>
    public void ReleaseLock() => _lock?.Dispose();

    public void Dispose() => _lock?.Dispose();

    /// <summary>An exclusive lock on DIR/campaign.lock (dropped by the kernel with the process, kill -9 included).</summary>
    private static FileStream Lock(string directory)
    {
        var path = Path.Combine(directory, LockFileName);
        return LockFile.TryTake(path) ?? throw new CampaignException($"campaign {directory} is being run by another process ({path} is locked)");
    }
}

/// <summary>A campaign that cannot go on (its directory is in use, holds another spec, a run's state is damaged).</summary>
public sealed class CampaignException : Exception
{
    public CampaignException() { }
    public CampaignException(string message) : base(message) { }
    public CampaignException(string message, Exception inner) : base(message, inner) { }
}
