using System.CommandLine;

namespace MeowRobot.Trainer.Demo;

/// <summary>
/// <c>./meow demo</c>: the whole system on one machine with no configuration. Two pendulum sim workers (8 envs for
/// training, 1 env as the robot's plant), <c>trainer serve</c> learning MEow and streaming bundles over CURVE, and
/// <c>controller serve</c> at 1 kHz driving the plant through the bridge with the streamed weights, all as child
/// processes; live progress once a second; curves saved to the run directory; one result line at the end.
/// </summary>
public static class DemoCommand
{
    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Subcommands.Add(Create());
    }

    private static Command Create()
    {
        var output = new Option<DirectoryInfo?>("--out") { Description = "run directory (default: runs/demo-<UTC timestamp> in the repository root)" };
        var quick = new Option<bool>("--quick") { Description = "a short smoke run (tiny step counts, a fast plant): checks the plumbing, not the learning" };
        var steps = new Option<long?>("--steps") { Description = "env steps to train for (default 20000; --quick 1600)" };
        var seed = new Option<int>("--seed") { Description = "seed of the trainer and the sim workers", DefaultValueFactory = _ => 1 };
        var command = new Command("demo",
            "Train a pendulum policy with MEow and drive a simulated robot with the streamed weights, live, on this machine")
        {
            output, quick, steps, seed,
        };
        command.SetAction(parse =>
        {
            var plan = parse.GetValue(quick) ? DemoPlan.Quick : DemoPlan.Full;
            if (parse.GetValue(steps) is { } s)
            {
                if (s is < 1 or > 10_000_000)
                {
                    Console.Error.WriteLine("demo: --steps must lie in 1..10000000");
                    return 2;
                }
                plan = plan with { TotalEnvSteps = s };
            }
            var (runDir, held) = Reporting.RunsDirectory.Claim(parse.GetValue(output)?.FullName, "demo");
            using var runLock = held;
            if (runLock is null)
            {
                Console.Error.WriteLine($"demo: --out {runDir} is in use by another process ({Path.Combine(runDir, Reporting.RunsDirectory.LockFileName)} is locked)");
                return 2;
            }
            return DemoRun.Execute(plan, runDir, parse.GetValue(seed), Console.Out, Console.Error);
        });
        return command;
    }
}

/// <summary>How big a demo run is.</summary>
/// <param name="RobotStepRateHz">The plant's simulation rate: 20 Hz is the pendulum's real time (10 s episodes).</param>
/// <param name="Deadline">The whole run, children's start included; past it the demo fails.</param>
/// <param name="RequireImprovement">Whether the robot's return must clearly improve for "ok" (not in a smoke run, which trains too little).</param>
internal sealed record DemoPlan(long TotalEnvSteps, int TrainEnvs, double UpdatesPerTransition, int PublishEveryUpdates, int? LearningStarts, int EvalEvery, int EvalEpisodes,
    int MetricsEveryEnvSteps, double RobotStepRateHz, TimeSpan Deadline, bool RequireImprovement)
{
    /// <summary>Pendulum learns in ~15–20k env steps. 8 envs stepped together with half an update per transition (4 per
    /// vector step) give ~9500 updates, published every 500: ~19 versions on the robot; the robot's plant runs in real
    /// time (10 s episodes) all along. How long it takes: the README (measured: docs/operations.md, "The demo").</summary>
    public static DemoPlan Full { get; } = new(20_000, 8, 0.5, 500, null, 2000, 5, 500, 20, TimeSpan.FromMinutes(15), RequireImprovement: true);

    public static DemoPlan Quick { get; } = new(1_600, 8, 0.125, 20, 400, 800, 1, 200, 100, TimeSpan.FromSeconds(150), RequireImprovement: false);

    /// <summary>Robot episodes averaged for robot_return_last.</summary>
    public const int LastEpisodes = 3;

    /// <summary>Episodes the robot runs after training ends (with the final weights) before the demo stops.</summary>
    public const int EpisodesAfterTraining = 2;
}
