using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Telemetry;
using MeowRobot.Trainer.Reporting;

namespace MeowRobot.Trainer.Demo;

/// <summary>
/// One demo run: keys, children, the progress loop, the orderly stop, the curves and the result line. Every child is
/// stopped (SIGTERM, then SIGKILL past its budget) on every way out: success, failure, Ctrl-C, SIGTERM, an exception.
/// </summary>
internal sealed class DemoRun
{
    private static readonly TimeSpan NoMetricsLimit = TimeSpan.FromSeconds(150);
    private readonly DemoPlan _plan;
    private readonly string _runDir;
    private readonly int _seed;
    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly DateTimeOffset _start = DateTimeOffset.UtcNow;
    private readonly bool _tty = !Console.IsOutputRedirected;
    private readonly List<ServiceChild> _children = [];

    private DemoRun(DemoPlan plan, string runDir, int seed, TextWriter output, TextWriter error)
    {
        _plan = plan;
        _runDir = runDir;
        _seed = seed;
        _out = output;
        _err = error;
    }

    /// <summary>Runs the demo; returns the exit code (0 ok, 1 failed, 130 interrupted).</summary>
    public static int Execute(DemoPlan plan, string runDir, int seed, TextWriter output, TextWriter error)
    {
        using var interrupted = new CancellationTokenSource();
        void Interrupt(PosixSignalContext context)
        {
            context.Cancel = true;   // the demo stops its children first, then exits
            interrupted.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Interrupt);
        return new DemoRun(plan, runDir, seed, output, error).Run(interrupted.Token);
    }

    private int Run(CancellationToken interrupted)
    {
        var sockets = Directory.CreateTempSubdirectory("meow-demo-");
        string? failure = null;
        Summary? summary = null;
        RobotWatch? watch = null;
        MetricsTail? metrics = null;
        try
        {
            var endpoints = Prepare(sockets.FullName);
            _out.WriteLine($"demo: run directory {_runDir}");
            StartChildren(endpoints);
            watch = new RobotWatch(endpoints.Telemetry, _clock);
            metrics = new MetricsTail(Path.Combine(_runDir, "trainer", "metrics.csv"), _start);
            (failure, summary) = Monitor(watch, metrics, interrupted);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ZmqException or InvalidOperationException or DemoSetupException
                                      or System.ComponentModel.Win32Exception)
        {
            failure = e.Message;
        }
        finally
        {
            if (_tty) _out.WriteLine();
            var stopProblems = StopChildren();
            failure ??= stopProblems;
            metrics?.Poll();
            watch?.Dispose();
            foreach (var c in _children) c.Dispose();
            sockets.Delete(recursive: true);
        }
        // An interrupt that lands while the demo judges or stops its children still ends it as interrupted: the user
        // asked to stop before the result was out.
        if (interrupted.IsCancellationRequested) failure ??= "interrupted";

        if (metrics is not null && watch is not null && Directory.Exists(_runDir))
        {
            var (files, pngProblem) = DemoCurves.Write(_runDir, metrics.Rows, watch.Episodes);
            _out.WriteLine($"demo: curves {string.Join(", ", files.Select(f => Path.GetRelativePath(_runDir, f)))} in {_runDir}");
            if (pngProblem is not null) _out.WriteLine($"demo: {pngProblem}");
        }
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"demo: took {_clock.Elapsed.TotalSeconds:F0} s"));
        if (failure is not null)
        {
            _out.WriteLine("demo: failed " + failure);
            return interrupted.IsCancellationRequested ? 130 : 1;
        }
        var s = summary!.Value;
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"demo: ok robot_return_first={s.First:F1} robot_return_last={s.Last:F1} trainer_eval_last={s.TrainerEvalLast:F1} weight_swaps={s.Swaps} deadline_misses={s.Misses} mode_changes={s.ModeChanges}"));
        return 0;
    }

    private readonly record struct Endpoints(string TrainSim, string RobotSim, string Weights, string Telemetry);

    /// <param name="TrainerEvalLast">The trainer's last deterministic evaluation, to set the robot's returns against.</param>
    /// <param name="ModeChanges">The controller's mode transitions over the run (2 without a fault: Idle → SafeStop while
    /// waiting for weights → Policy); Policy/SafeStop flapping shows here.</param>
    private readonly record struct Summary(double First, double Last, double TrainerEvalLast, long Swaps, long Misses, long ModeChanges);

    private sealed class DemoSetupException(string message) : Exception(message);

    /// <summary>The run directory, CURVE keys (trainer, robot; the robot's public key on the trainer's allow-list), endpoints.</summary>
    private Endpoints Prepare(string sockets)
    {
        foreach (var d in new[] { "keys", Path.Combine("keys", "robots"), "logs", "trainer" })
            Directory.CreateDirectory(Path.Combine(_runDir, d));
        var keys = Path.Combine(_runDir, "keys");
        ZmqCurveKeyPair.Generate().Save(Path.Combine(keys, "trainer.key_secret"), Path.Combine(keys, "trainer.key"));
        ZmqCurveKeyPair.Generate().Save(Path.Combine(keys, "robot.key_secret"), Path.Combine(keys, "robot.key"));
        File.Copy(Path.Combine(keys, "robot.key"), Path.Combine(keys, "robots", "robot.key"));
        // An empty site file, so that a machine's /etc/meowrobot/*.json never changes what the demo runs.
        File.WriteAllText(Path.Combine(_runDir, "site.json"), "{}\n");
        return new Endpoints("ipc://" + Path.Combine(sockets, "train"), "ipc://" + Path.Combine(sockets, "robot"),
            "ipc://" + Path.Combine(sockets, "weights"), "ipc://" + Path.Combine(sockets, "telemetry"));
    }

    private void StartChildren(Endpoints e)
    {
        var inv = CultureInfo.InvariantCulture;
        var site = Path.Combine(_runDir, "site.json");
        var keys = Path.Combine(_runDir, "keys");
        var sim = Built("Sim");
        var controller = Built("Controller");
        var trainer = Path.Combine(AppContext.BaseDirectory, "MeowRobot.Trainer.dll");
        var robotConfig = WriteRobotConfig();

        Start("sim-train", sim, ["--Sim:Task=pendulum", $"--Sim:Envs={_plan.TrainEnvs}", $"--Sim:Bind={e.TrainSim}", $"--Sim:Seed={_seed}"]);
        Start("sim-robot", sim, ["--Sim:Task=pendulum", "--Sim:Envs=1", $"--Sim:Bind={e.RobotSim}", $"--Sim:Seed={_seed + 1000}"]);
        var trainerArgs = new List<string>
        {
            $"--Trainer:SimEndpoints:0={e.TrainSim}",
            $"--Trainer:RunDir={Path.Combine(_runDir, "trainer")}",
            $"--Trainer:PublishEndpoint={e.Weights}",
            $"--Trainer:SecretKeyFile={Path.Combine(keys, "trainer.key_secret")}",
            $"--Trainer:AllowedRobotKeysDir={Path.Combine(keys, "robots")}",
            string.Create(inv, $"--Trainer:Learner:UpdatesPerTransition={_plan.UpdatesPerTransition}"),
            string.Create(inv, $"--Trainer:PublishEveryUpdates={_plan.PublishEveryUpdates}"),
            string.Create(inv, $"--Trainer:TotalEnvSteps={_plan.TotalEnvSteps}"),
            string.Create(inv, $"--Trainer:Seed={_seed}"),
            string.Create(inv, $"--Trainer:EvalEvery={_plan.EvalEvery}"),
            string.Create(inv, $"--Trainer:EvalEpisodes={_plan.EvalEpisodes}"),
            string.Create(inv, $"--Trainer:MetricsEveryEnvSteps={_plan.MetricsEveryEnvSteps}"),
            "--Trainer:StopWhenDone=true",
            // The robot's actuator (its envelope at the loop's rate) applied to the training envs: the limits it learns with.
            $"--Trainer:ActuatorConfig={robotConfig}",
        };
        if (_plan.LearningStarts is { } starts) trainerArgs.Add(string.Create(inv, $"--Trainer:Learner:LearningStarts={starts}"));
        Start("trainer", trainer, trainerArgs);
        Start("controller", controller,
        [
            "--config", robotConfig,
            $"--Controller:Robot={e.RobotSim}",
            $"--Controller:WeightStream:Endpoint={e.Weights}",
            $"--Controller:WeightStream:TrainerPublicKeyFile={Path.Combine(keys, "trainer.key")}",
            $"--Controller:WeightStream:SecretKeyFile={Path.Combine(keys, "robot.key_secret")}",
            // The demo's robot follows the training run live: every version the trainer publishes (docs/campaigns.md, "Promotion").
            "--Controller:WeightStream:FollowLive=true",
            $"--Controller:Telemetry={e.Telemetry}",
            "--Controller:Modes:ArmOnStart=true",
        ]);

        void Start(string name, string assembly, List<string> args)
        {
            args.InsertRange(0, ["serve", "--config", site]);
            var child = ServiceChild.Start(name, assembly, args, Path.Combine(_runDir, "logs", name + ".log"));
            _children.Add(child);
            _out.WriteLine($"demo: started {name} (pid {child.Id}, log {Path.GetRelativePath(_runDir, child.LogPath)})");
        }
    }

    /// <summary>The robot's configuration (robot.json in the run directory): loop, plant rate, envelope and modes. The
    /// controller reads it as a site file and the trainer as its actuator model, so both see the same limits.</summary>
    private string WriteRobotConfig()
    {
        // Staleness spans five plant periods (at least 0.25 s): an observation is due every period. The pendulum's policy
        // is nearly bang-bang, so the torque may swing its full range (4 N·m) in 4 ms, within one plant step (the
        // default, full range in 0.5 s, cripples a policy trained without it: docs/benchmarks.md). After a stall (a loaded
        // machine starving the plant) the policy re-engages once observations have been fresh for 0.25 s.
        var path = Path.Combine(_runDir, "robot.json");
        var inv = CultureInfo.InvariantCulture;
        File.WriteAllLines(path,
        [
            "{",
            "  \"Controller\": {",
            "    \"Loop\": { \"RateHz\": 1000 },",
            string.Create(inv, $"    \"SimRobot\": {{ \"StepRateHz\": {_plan.RobotStepRateHz} }},"),
            string.Create(inv, $"    \"Envelope\": {{ \"ObservationTimeoutSeconds\": {Math.Max(0.25, 5 / _plan.RobotStepRateHz)}, \"MaxRatePerSecond\": [ 1000 ] }},"),
            "    \"Modes\": { \"StallReengageSeconds\": 0.25 }",
            "  }",
            "}",
        ]);
        return path;
    }

    /// <summary>A service executable built beside this one (artifacts/bin/MeowRobot.X/&lt;configuration&gt;/MeowRobot.X.dll).</summary>
    private static string Built(string project)
    {
        var own = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var path = Path.Combine(own.Parent!.Parent!.FullName, "MeowRobot." + project, own.Name, $"MeowRobot.{project}.dll");
        return File.Exists(path) ? path : throw new DemoSetupException($"MeowRobot.{project} is not built at {path} (run ./meow build)");
    }

    /// <summary>The progress loop, once a second, until the robot has run a few episodes on the final weights, a child dies,
    /// the deadline passes or the user interrupts.</summary>
    private (string? Failure, Summary? Summary) Monitor(RobotWatch watch, MetricsTail metrics, CancellationToken interrupted)
    {
        var trainer = _children.Single(c => c.Name == "trainer");
        long? episodesAtTrainingEnd = null;
        double trainingEndedAt = 0;
        var episodeSeconds = 200 / _plan.RobotStepRateHz;
        while (!interrupted.WaitHandle.WaitOne(TimeSpan.FromSeconds(1)))
        {
            metrics.Poll();
            Progress(watch, metrics);
            var now = _clock.Elapsed;
            foreach (var child in _children.Where(c => c.HasExited))
            {
                if (interrupted.IsCancellationRequested) return ("interrupted", null);   // Ctrl-C on a terminal reaches the children too
                if (child == trainer && child.ExitCode == 0) continue;   // Trainer:StopWhenDone: finished its env steps
                return (Died(child), null);
            }
            if (!metrics.Exists && now > NoMetricsLimit)
            {
                var log = trainer.Tail(200);
                return (log.Contains("NOT WIRED", StringComparison.Ordinal)
                    ? $"trainer serve is not wired yet: {log.Split('\n').First(l => l.Contains("NOT WIRED", StringComparison.Ordinal)).Trim()}"
                    : $"the trainer wrote no metrics within {NoMetricsLimit.TotalSeconds:F0} s (log {trainer.LogPath})", null);
            }
            if (now > _plan.Deadline)
                return ($"timed out after {now.TotalSeconds:F0} s (trainer at {metrics.Rows.LastOrDefault().EnvSteps} of {_plan.TotalEnvSteps} env steps)", null);

            var episodes = watch.Episodes;
            if (episodesAtTrainingEnd is null && trainer.HasExited)
            {
                episodesAtTrainingEnd = episodes.Count;
                trainingEndedAt = now.TotalSeconds;
            }
            if (episodesAtTrainingEnd is { } atEnd)
            {
                var enough = episodes.Count >= atEnd + DemoPlan.EpisodesAfterTraining;
                var waitedTooLong = now.TotalSeconds - trainingEndedAt > (DemoPlan.EpisodesAfterTraining + 2) * episodeSeconds + 10;
                if (enough || waitedTooLong) return Judge(watch, metrics, waitedTooLong && !enough);
            }
        }
        return ("interrupted", null);
    }

    private string Died(ServiceChild child)
    {
        var tail = child.Tail(3).ReplaceLineEndings(" | ");
        return $"{child.Name} exited with code {child.ExitCode} (log {child.LogPath}){(tail.Length > 0 ? ": " + tail : "")}";
    }

    /// <summary>The result: the first robot episode (no policy yet, or the first weights) against the mean of the last few.</summary>
    private (string? Failure, Summary? Summary) Judge(RobotWatch watch, MetricsTail metrics, bool robotStalled)
    {
        var episodes = watch.Episodes;
        if (watch.Latest is not { } last) return ("no telemetry from the controller", null);
        if (episodes.Count < 2)
            return ($"the robot finished {episodes.Count} episode(s){(robotStalled ? " and stalled" : "")}; at least 2 are needed to compare", null);
        var first = episodes[0].Return;
        var lastMean = episodes.TakeLast(Math.Min(DemoPlan.LastEpisodes, episodes.Count - 1)).Average(e => e.Return);
        var trainerEval = metrics.Rows.Select(r => r.EvalReturnMean).LastOrDefault(double.IsFinite, double.NaN);
        var summary = new Summary(first, lastMean, trainerEval, last.PolicySwaps, last.Misses, last.Transitions);
        if (last.PolicySwaps < 1) return ("the robot never adopted a policy from the weight stream (weight_swaps=0)", summary);
        // "Clearly improved": a third of the way from the first return toward zero (the pendulum's best), and by 100 at least.
        if (_plan.RequireImprovement && !(lastMean >= first + Math.Max(100, Math.Abs(first) / 3)))
            return (string.Create(CultureInfo.InvariantCulture, $"the robot's return did not clearly improve (first {first:F1}, last {lastMean:F1})"), summary);
        return (null, summary);
    }

    private void Progress(RobotWatch watch, MetricsTail metrics)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = metrics.Rows;
        double Latest(Func<TrainerMetrics, double> field) => rows.Select(field).LastOrDefault(double.IsFinite, double.NaN);
        var trainer = rows.Count == 0
            ? "trainer starting"
            : string.Create(inv, $"env {rows[^1].EnvSteps}/{_plan.TotalEnvSteps}, {Number(Latest(r => r.UpdatesPerSecond), "F1")} upd/s, eval {Number(Latest(r => r.EvalReturnMean), "F1")}, published v{rows[^1].PublishedVersion}");
        var robot = watch.Latest is not { } t
            ? "robot starting"
            : string.Create(inv, $"robot v{t.PolicyVersion} {t.Mode}, p99 jitter {t.JitterP99Us:F0} µs, {t.Misses} misses, return {Number(t.RobotLastReturn, "F1")} ({Math.Max(0, t.RobotEpisodes)} ep)");
        var line = string.Create(inv, $"[{_clock.Elapsed.TotalSeconds,4:F0} s] {trainer} | {robot}");
        if (_tty) _out.Write("\r" + line + "\u001b[K");
        else _out.WriteLine(line);
        _out.Flush();
    }

    private static string Number(double value, string format) => double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "-";

    /// <summary>Controller first (it ramps the robot to its safe action), then the trainer (its final checkpoint), then the
    /// sim workers. Returns what went wrong, if anything: a child that exited badly on SIGTERM or had to be killed.</summary>
    private string? StopChildren()
    {
        var problems = new List<string>();
        foreach (var (name, budget) in new[] { ("controller", 10), ("trainer", 60), ("sim-robot", 10), ("sim-train", 10) })
        {
            if (_children.FirstOrDefault(c => c.Name == name) is not { } child) continue;
            var wasRunning = !child.HasExited;
            child.Stop(TimeSpan.FromSeconds(budget));
            if (child.Killed) problems.Add($"{name} ignored SIGTERM for {budget} s and was killed");
            else if (wasRunning && child.ExitCode != 0) problems.Add($"{name} exited with code {child.ExitCode} on SIGTERM (log {child.LogPath})");
        }
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }
}
