using System.CommandLine;

namespace MeowRobot.Sim;

/// <summary>Entry point: the subcommands of `./meow sim`. Each command lives in its own file and is added here.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("Sim worker: serves simulated tasks over sim protocol v1");
        root.Subcommands.Add(SimServiceHost.ServeCommand());
        root.Subcommands.Add(SimBenchCommand.Create());
        root.Subcommands.Add(SimProtocolFuzz.Create());
        root.Subcommands.Add(MeowRobot.Hosting.KeysCommand.Create("sim"));
        return root.Parse(args).Invoke();
    }
}
