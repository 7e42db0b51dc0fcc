using System.CommandLine;
using MeowRobot.Trainer.Reporting;

namespace MeowRobot.Trainer;

/// <summary><c>./meow trainer plot RUN [--out DIR]</c>: plot.svg and plot.png of any run directory (<see cref="RunPlot"/>).</summary>
public static class PlotCommand
{
    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var run = new Argument<DirectoryInfo>("RUN") { Description = "a run directory (with metrics.csv, or a demo's with trainer/metrics.csv)" };
        var output = new Option<DirectoryInfo?>("--out") { Description = "where plot.svg and plot.png go (default: RUN)" };
        var command = new Command("plot", "Plot a run: evaluation return with its std band, training episode returns, loss and gradient norm (SVG and PNG)")
        {
            run, output,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(run)!.FullName;
            try
            {
                var (files, problem) = RunPlot.Write(dir, parse.GetValue(output)?.FullName ?? dir);
                foreach (var f in files) Console.WriteLine($"wrote {f}");
                if (problem is null) return 0;
                Console.Error.WriteLine($"plot: {problem}");
                return 1;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"plot: {e.Message}");
                return 2;
            }
        });
        root.Subcommands.Add(command);
    }
}
