using System.CommandLine;

namespace MeowRobot.Controller;

/// <summary>Entry point: the subcommands of `./meow controller`. Each command lives in its own file and is added here.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("On-robot controller: runs the policy at a fixed rate inside a safety envelope");
        root.Subcommands.Add(ControllerServiceHost.ServeCommand());
        root.Subcommands.Add(ControllerServiceHost.KeysCommand());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(FakeDeviceCommand.Create());
        return Hosting.CommandLineApp.Invoke(root, args);
    }
}
