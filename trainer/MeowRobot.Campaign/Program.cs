using System.CommandLine;
using MeowRobot.Campaign.Engines;
using MeowRobot.Campaign.Report;
using MeowRobot.Campaign.Spec;

namespace MeowRobot.Campaign;

/// <summary>`./meow campaign run SPEC | status DIR | report DIR | promote DIR | rollback DIR | stream serve`: the campaign engine's commands (docs/campaigns.md).</summary>
public static class Program
{
    /// <summary>Exit code of a spec or campaign that cannot be run (sysexits EX_CONFIG, as the services use).</summary>
    public const int ConfigError = 78;

    public static int Main(string[] args)
    {
        var root = new RootCommand("Sim-to-real campaigns: many randomised training runs from one spec (docs/campaigns.md)");
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(StatusCommand());
        root.Subcommands.Add(ReportCommand());
        foreach (var c in Promotion.PromotionCommands.Create()) root.Subcommands.Add(c);
        return root.Parse(args).Invoke();
    }

    private static Command RunCommand()
    {
        var spec = new Argument<FileInfo>("SPEC") { Description = "the campaign spec (YAML or JSON; docs/campaigns.md)" };
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "the campaign directory (default: campaigns/NAME); an existing one is resumed" };
        var engine = new Option<string>("--engine") { Description = "where runs execute: local (processes on this machine)", DefaultValueFactory = _ => "local" };
        engine.AcceptOnlyFromAmong("local");
        var command = new Command("run", "Run (or resume) a campaign: every configuration × seed, skipping runs already done") { spec, dir, engine };
        command.SetAction(async (parse, cancellation) =>
        {
            var specFile = parse.GetValue(spec)!;
            try
            {
                var directory = parse.GetValue(dir)?.FullName ?? Path.Combine("campaigns", CampaignSpec.Load(specFile.FullName).Name);
                using var campaign = Campaign.OpenForRun(specFile.FullName, directory);
                Console.WriteLine($"campaign {campaign.Spec.Name} in {campaign.Directory}: {campaign.Plan.Runs.Count} runs, {campaign.Spec.Parallel} at a time (local engine)");
                return await new LocalEngine(campaign, Console.Out).RunAsync(cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CampaignSpecException or CampaignException or FileNotFoundException or InvalidDataException)
            {
                Console.Error.WriteLine($"campaign run: {e.Message}");
                return ConfigError;
            }
        });
        return command;
    }

    private static Command StatusCommand()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "a campaign directory" };
        var command = new Command("status", "Show each run's state, progress and last evaluation, and the campaign's summary") { dir };
        command.SetAction(parse =>
        {
            try
            {
                using var campaign = Campaign.Open(parse.GetValue(dir)!.FullName);
                Console.Write(campaign.StatusTable());
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
}
