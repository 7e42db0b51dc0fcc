using System.CommandLine;

namespace MeowRobot.Trainer;

/// <summary>Entry point: the subcommands of `./meow trainer`. Each command lives in its own file and is added here.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("MeowRobot trainer: learns MEow, S2AC or SAC policies against sim workers and streams weights to robots");
        root.Subcommands.Add(TrainerServiceHost.ServeCommand());
        root.Subcommands.Add(TrainerServiceHost.KeysCommand());
        PolicyQueryCommand.AddTo(root);
        Export.PolicyExportCommand.AddTo(root.Subcommands.Single(c => c.Name == "policy"));
        PolicyEvalCommand.AddTo(root);
        BenchUpdateCommand.AddTo(root);
        LearnCommand.AddTo(root);
        PlotCommand.AddTo(root);
        Demo.DemoCommand.AddTo(root);
        return Hosting.CommandLineApp.Invoke(root, args);
    }
}
