using System.CommandLine;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Campaign.Spec;
using MeowRobot.Hosting;

namespace MeowRobot.Campaign.Promotion;

/// <summary>`campaign promote DIR --candidate ID [--force]`, `campaign rollback DIR [--robot NAME]…` and
/// `campaign stream serve --campaign DIR` (the promotion stream service).</summary>
public static class PromotionCommands
{
    public static IEnumerable<Command> Create() => [PromoteCommand(), RollbackCommand(), StreamCommand()];

    private static Command PromoteCommand()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "a campaign directory whose spec has a promotion: section" };
        var candidate = new Option<string>("--candidate") { Description = "the run whose final policy is promoted (a run id, e.g. alpha-0.1-s1)", Required = true };
        var force = new Option<bool>("--force") { Description = "promote a candidate whose gate verdict did not pass (or is missing); history.jsonl records it" };
        var command = new Command("promote", "Promote a candidate canary-first: the canary robots run it over the watch window, then it widens to the rest, or the canaries roll back (exit 0 widened, 1 rolled back)")
        {
            dir, candidate, force,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(Run("promote", parse.GetValue(dir)!, promoter =>
            promoter.Promote(parse.GetValue(candidate)!, parse.GetValue(force), cancellation))));
        return command;
    }

    private static Command RollbackCommand()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "a campaign directory" };
        var robots = new Option<string[]>("--robot") { Description = "roll back only this robot (repeatable; default: every robot with a promoted release)" };
        var command = new Command("rollback", "Give robots their previous release again, under a new version") { dir, robots };
        command.SetAction((parse, cancellation) => Task.FromResult(Run("rollback", parse.GetValue(dir)!, promoter =>
            promoter.Rollback(parse.GetValue(robots) ?? [], cancellation))));
        return command;
    }

    private static Command StreamCommand()
    {
        var command = new Command("stream", "The promotion stream: serves each robot the bundle promoted to it (a service: systemd/meow-promotion.service)");
        command.Subcommands.Add(ServiceHostBuilder.ServeCommand(PromotionStream.Service, PromotionStream.Configure));
        return command;
    }

    private static int Run(string name, DirectoryInfo dir, Func<Promoter, PromotionOutcome> act)
    {
        try
        {
            using var campaign = Campaign.Open(dir.FullName);
            return (int)act(new Promoter(campaign, Console.Out));
        }
        catch (PromotionInProgressException e)
        {
            Console.Error.WriteLine($"campaign {name}: {e.Message}");
            return (int)PromotionOutcome.Busy;
        }
        catch (Exception e) when (e is PromotionRefusedException or CampaignSpecException or CampaignException or InvalidDataException or ZmqKeyFileException)
        {
            Console.Error.WriteLine($"campaign {name}: {e.Message}");
            return (int)PromotionOutcome.Refused;
        }
    }
}
