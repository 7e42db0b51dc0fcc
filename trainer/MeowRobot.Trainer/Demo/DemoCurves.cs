using System.Globalization;
using System.Text;
using MeowRobot.Trainer.Reporting;
using MeowRobot.Trainer.Reporting.Plotting;

namespace MeowRobot.Trainer.Demo;

/// <summary>
/// The demo's curves in its run directory: curves.csv (trainer rows and robot episodes on one time axis, with the env
/// steps reached at each point), robot_returns.csv, and two charts as SVG and PNG (returns against time and against env
/// steps), drawn by the same code as <c>trainer plot</c> (<see cref="RunPlot.Save"/>).
/// </summary>
internal static class DemoCurves
{
    public static (IReadOnlyList<string> Files, string? PngProblem) Write(string runDir, IReadOnlyList<TrainerMetrics> trainer, IReadOnlyList<RobotEpisode> robot)
    {
        var inv = CultureInfo.InvariantCulture;
        string N(double v) => double.IsFinite(v) ? v.ToString("0.###", inv) : "";
        // Env steps the trainer had reached when a robot episode ended: the last trainer row before it.
        long StepsAt(double seconds) => trainer.LastOrDefault(r => r.Seconds <= seconds).EnvSteps;

        var robotCsv = new StringBuilder("time_s,env_steps,episode,return,policy_version\n");
        foreach (var e in robot)
            robotCsv.Append(inv, $"{N(e.Seconds)},{StepsAt(e.Seconds)},{e.Episode},{N(e.Return)},{e.PolicyVersion}\n");

        var rows = trainer.Select(r => (r.Seconds, Line: $"{N(r.Seconds)},trainer,{r.EnvSteps},{r.Updates},{N(r.UpdatesPerSecond)},{N(r.EpisodeReturnMean)},{N(r.EvalReturnMean)},{r.PublishedVersion},,"))
            .Concat(robot.Select(e => (e.Seconds, Line: $"{N(e.Seconds)},robot,{StepsAt(e.Seconds)},,,,,,{N(e.Return)},{e.PolicyVersion}")))
            .OrderBy(r => r.Seconds);
        var curves = new StringBuilder("time_s,source,env_steps,updates,updates_per_s,episode_return_mean,eval_return_mean,published_version,robot_episode_return,robot_policy_version\n");
        foreach (var r in rows) curves.Append(r.Line).Append('\n');

        var evals = trainer.Where(r => double.IsFinite(r.EvalReturnMean)).ToList();
        Chart Returns(string title, string xLabel, Func<TrainerMetrics, double> trainerX, Func<RobotEpisode, double> robotX) => new(title, xLabel,
        [
            new Panel("Return", "return",
            [
                new Series("trainer evaluation return", "#1f5fa8", [.. evals.Select(r => (trainerX(r), r.EvalReturnMean))], SeriesStyle.LineAndMarkers)
                {
                    Spread = [.. evals.Select(r => double.IsFinite(r.EvalReturnStd) ? r.EvalReturnStd : 0)],
                    SpreadName = "± std over its episodes",
                },
                new Series("robot episode return", "#c4302b", [.. robot.Select(e => (robotX(e), e.Return))], SeriesStyle.LineAndMarkers),
            ]),
        ]);
        var charts = new[]
        {
            ("curves_time", Returns("MEow on the pendulum: trainer evaluation and robot episodes", "time (s)", r => r.Seconds, e => e.Seconds)),
            ("curves_env_steps", Returns("MEow on the pendulum: returns against env steps", "env steps", r => r.EnvSteps, e => StepsAt(e.Seconds))),
        };

        var files = new (string Name, string Text)[]
        {
            ("curves.csv", curves.ToString()), ("robot_returns.csv", robotCsv.ToString()),
        };
        foreach (var (name, text) in files) File.WriteAllText(Path.Combine(runDir, name), text);
        var written = files.Select(f => Path.Combine(runDir, f.Name)).ToList();
        string? pngProblem = null;
        foreach (var (name, chart) in charts)
        {
            var (saved, problem) = RunPlot.Save(chart, runDir, name);
            written.AddRange(saved);
            pngProblem ??= problem;
        }
        return (written, pngProblem);
    }
}
