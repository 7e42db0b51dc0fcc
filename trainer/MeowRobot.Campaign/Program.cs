using System.CommandLine;
using MeowRobot.Campaign.Engines;
using MeowRobot.Campaign.Report;
using MeowRobot.Campaign.Spec;

namespace MeowRobot.Campaign;

/// <summary>`./meow campaign run SPEC | status DIR | report DIR | promote DIR | rollback DIR | stream serve | task DIR INDEX`: the campaign engine's commands (docs/campaigns.md).</summary>
public static class Program
{
    /// <summary>Exit code of a spec or campaign that cannot be run (sysexits EX_CONFIG, as the services use).</summary>
    public const int ConfigError = 78;

    /// <summary>Exit code when Slurm does not answer (sysexits EX_UNAVAILABLE): nothing was submitted, try again later.</summary>
    public const int Unavailable = 69;

    public static int Main(string[] args)
    {
        var root = new RootCommand("Sim-to-real campaigns: many randomised training runs from one spec (docs/campaigns.md)");
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(StatusCommand());
        root.Subcommands.Add(ReportCommand());
        foreach (var c in Promotion.PromotionCommands.Create()) root.Subcommands.Add(c);
        root.Subcommands.Add(TaskCommand());
        // On SIGTERM or Ctrl-C a runner (or a Slurm task) tells its trainers to checkpoint and waits for them: give it
        // that time rather than System.CommandLine's default 2 s before exiting under them.
        return Hosting.CommandLineApp.Invoke(root, args, RunAttempt.TrainerStopWait + TimeSpan.FromSeconds(15));
    }

    private static Command RunCommand()
    {
        var spec = new Argument<FileInfo>("SPEC") { Description = "the campaign spec (YAML or JSON; docs/campaigns.md)" };
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "the campaign directory (default: campaigns/NAME); an existing one is resumed" };
        var engine = new Option<string?>("--engine") { Description = "where runs execute: local (processes on this machine) or slurm (one sbatch job array); default: the spec's engine.kind, else local" };
        engine.AcceptOnlyFromAmong([.. EngineSpec.Kinds]);
        var partition = new Option<string?>("--partition") { Description = "Slurm: the partition (overrides engine.partition)" };
        var timeLimit = new Option<string?>("--time-limit") { Description = "Slurm: each run's time limit, e.g. 2:00:00 (overrides engine.time_limit)" };
        var cpus = new Option<int?>("--cpus-per-run") { Description = "Slurm: CPUs per run (overrides engine.cpus_per_run; default 2)" };
        var detach = new Option<bool>("--detach") { Description = "Slurm: submit and return at once (campaign status DIR follows the runs)" };
        var command = new Command("run", "Run (or resume) a campaign: every configuration × seed, skipping runs already done (or, on Slurm, still queued or running)")
        {
            spec, dir, engine, partition, timeLimit, cpus, detach,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var specFile = parse.GetValue(spec)!;
            try
            {
                var loaded = CampaignSpec.Load(specFile.FullName);
                var settings = loaded.Engine with
                {
                    Kind = parse.GetValue(engine) ?? loaded.Engine.Kind,
                    Partition = Checked("--partition", parse.GetValue(partition), EngineSpec.NameProblem) ?? loaded.Engine.Partition,
                    TimeLimit = Checked("--time-limit", parse.GetValue(timeLimit), EngineSpec.TimeLimitProblem) ?? loaded.Engine.TimeLimit,
                    CpusPerRun = parse.GetValue(cpus) is { } c ? (c is >= 1 and <= 1024 ? c : throw new CampaignException($"--cpus-per-run: {c} is outside [1, 1024]")) : loaded.Engine.CpusPerRun,
                };
                var directory = parse.GetValue(dir)?.FullName ?? Path.Combine("campaigns", loaded.Name);
                using var campaign = Campaign.OpenForRun(specFile.FullName, directory);
                if (settings.Kind == EngineSpec.SlurmKind)
                {
                    Console.WriteLine($"campaign {campaign.Spec.Name} in {campaign.Directory}: {campaign.Plan.Runs.Count} runs (Slurm engine: one job array, {settings.CpusPerRun} CPU{(settings.CpusPerRun == 1 ? "" : "s")} per run)");
                    return await new SlurmEngine(campaign, settings, Console.Out) { Detach = parse.GetValue(detach) }.RunAsync(cancellation).ConfigureAwait(false);
                }
                Console.WriteLine($"campaign {campaign.Spec.Name} in {campaign.Directory}: {campaign.Plan.Runs.Count} runs, {campaign.Spec.Parallel} at a time (local engine)");
                return await new LocalEngine(campaign, Console.Out).RunAsync(cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CampaignSpecException or CampaignException or FileNotFoundException or InvalidDataException)
            {
                Console.Error.WriteLine($"campaign run: {e.Message}");
                return ConfigError;
            }
            catch (SlurmUnavailableException e)
            {
                Console.Error.WriteLine($"campaign run: Slurm does not answer, nothing was submitted: {e.Message}");
                return Unavailable;
            }
        });
        return command;
    }

    private static string? Checked(string option, string? value, Func<string, string?> problem) =>
        value is null ? null : problem(value) is { } why ? throw new CampaignException($"{option}: {why}") : value;

    private static Command StatusCommand()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "a campaign directory" };
        var command = new Command("status", "Show each run's state, progress and last evaluation (and, for Slurm, its task in squeue), and the campaign's summary") { dir };
        command.SetAction(parse =>
        {
            try
            {
                using var campaign = Campaign.Open(parse.GetValue(dir)!.FullName);
                if (!Directory.Exists(Path.Combine(campaign.Directory, SlurmEngine.Folder)))
                {
                    Console.Write(campaign.StatusTable());
                    return 0;
                }
                var (column, note) = SlurmColumn(campaign);
                Console.Write(campaign.StatusTable(column, "slurm"));
                if (note is not null) Console.WriteLine(note);
                return 0;
            }
            catch (Exception e) when (e is CampaignSpecException or CampaignException or InvalidDataException)
            {
                Console.Error.WriteLine($"campaign status: {e.Message}");
                return ConfigError;
            }
        });
        return command;
    }

    /// <summary>Exit code of a report that was written but is incomplete (a damaged input, a PNG that could not be made).</summary>
    public const int ReportIncomplete = 1;

    private static Command ReportCommand()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "a campaign directory" };
        var output = new Option<DirectoryInfo?>("--output") { Description = "where index.html, summary.json and the plots go (default: DIR/report)", HelpName = "DIR" };
        var command = new Command("report", "Write the campaign's report: one self-contained HTML page, summary.json and the plots as PNG files. " +
            "Exit 0: complete; 1: written but incomplete (a damaged input, or a PNG not made: listed on the page and on stderr); 2: could not write it; 78: not a campaign directory")
        {
            dir, output,
        };
        command.SetAction(parse =>
        {
            var directory = parse.GetValue(dir)!.FullName;
            try
            {
                var report = CampaignReport.Read(directory);
                var outcome = report.Write(parse.GetValue(output)?.FullName ?? Path.Combine(directory, CampaignReport.DirectoryName));
                foreach (var f in outcome.Files) Console.WriteLine($"wrote {f}");
                foreach (var p in outcome.Problems) Console.Error.WriteLine($"campaign report: {p.File}: {p.Problem}");
                return outcome.Problems.Count == 0 ? 0 : ReportIncomplete;
            }
            catch (CampaignException e)
            {
                Console.Error.WriteLine($"campaign report: {e.Message}");
                return ConfigError;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"campaign report: could not write the report: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>Each run's Slurm task as squeue shows it while it lives; afterwards (or when Slurm does not answer) the
    /// task its run.json names.</summary>
    private static (Dictionary<string, string> Column, string? Note) SlurmColumn(Campaign campaign)
    {
        var column = new Dictionary<string, string>(StringComparer.Ordinal);
        IReadOnlyList<SlurmTask>? live = null;
        string? note = null;
        try
        {
            live = SlurmCluster.LiveTasks(SlurmCluster.JobName(campaign));
        }
        catch (Exception e) when (e is CampaignException or SlurmUnavailableException)
        {
            note = $"Slurm not reachable ({e.Message}): states are the runs' own files";
        }
        for (var i = 0; i < campaign.Plan.Runs.Count; i++)
        {
            var run = campaign.Plan.Runs[i];
            var state = campaign.State(run);
            var task = live?.FirstOrDefault(t => t.Index == i);
            column[run.Id] = task is not null ? task.Describe()
                : live is not null && state.Status is RunStatus.Queued or RunStatus.Running ? $"{state.SlurmJob ?? "its task"} is not in Slurm's queue: campaign run submits it again"
                : state.SlurmJob ?? "-";
        }
        return (column, note);
    }

    private static Command TaskCommand()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "the campaign directory" };
        var index = new Argument<int>("INDEX") { Description = "the run's index in the campaign's plan (the array task id)" };
        var command = new Command("task", "What a Slurm array task of `campaign run --engine slurm` runs: one attempt at run INDEX (its sim worker and its trainer)") { dir, index };
        command.SetAction(async (parse, cancellation) =>
        {
            try
            {
                using var campaign = Campaign.Open(parse.GetValue(dir)!.FullName);
                return await SlurmEngine.RunTaskAsync(campaign, parse.GetValue(index), Console.Out, cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CampaignSpecException or CampaignException or FileNotFoundException or InvalidDataException)
            {
                Console.Error.WriteLine($"campaign task: {e.Message}");
                return ConfigError;
            }
        });
        return command;
    }
}
