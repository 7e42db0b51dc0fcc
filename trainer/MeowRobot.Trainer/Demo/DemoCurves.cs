using System.Globalization;
using System.Text;
using MeowRobot.Trainer.Reporting;

namespace MeowRobot.Trainer.Demo;

/// <summary>
/// The demo's curves in its run directory: curves.csv (trainer rows and robot episodes on one time axis, with the env
/// steps reached at each point), robot_returns.csv, and two SVG charts (returns against time and against env steps).
/// </summary>
internal static class DemoCurves
{
    public static IReadOnlyList<string> Write(string runDir, IReadOnlyList<TrainerMetrics> trainer, IReadOnlyList<RobotEpisode> robot)
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
        var time = SvgPlot.Render("MEow on the pendulum: trainer evaluation and robot episodes", "time (s)", "return",
        [
            new SvgPlot.Series("trainer evaluation return", "#1f77b4", [.. evals.Select(r => (r.Seconds, r.EvalReturnMean))]),
            new SvgPlot.Series("robot episode return", "#d62728", [.. robot.Select(e => (e.Seconds, e.Return))]),
        ]);
        var steps = SvgPlot.Render("MEow on the pendulum: returns against env steps", "env steps", "return",
        [
            new SvgPlot.Series("trainer evaluation return", "#1f77b4", [.. evals.Select(r => ((double)r.EnvSteps, r.EvalReturnMean))]),
            new SvgPlot.Series("robot episode return", "#d62728", [.. robot.Select(e => ((double)StepsAt(e.Seconds), e.Return))]),
        ]);

        var files = new (string Name, string Text)[]
        {
            ("curves.csv", curves.ToString()), ("robot_returns.csv", robotCsv.ToString()),
            ("curves_time.svg", time), ("curves_env_steps.svg", steps),
        };
        foreach (var (name, text) in files) File.WriteAllText(Path.Combine(runDir, name), text);
        return [.. files.Select(f => Path.Combine(runDir, f.Name))];
    }
}
