using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;
using MeowRobot.Control.Telemetry;
using MeowRobot.Control.WeightStream;
using MeowRobot.Hosting;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Tasks;

namespace MeowRobot.Controller;

/// <summary>
/// <c>./meow controller run</c>: the controller in the foreground against a simulated robot (sim-to-real rehearsal): a sim
/// task in-process or a sim worker through the bridge (<c>--connect</c>), a policy from a file, a random one, or the
/// trainer's weight stream; prints the loop's statistics every second and a summary line at the end. With --episodes it is a
/// rehearsal: episode i is reset with seed S + i (as in <c>trainer policy eval</c>), and the last line is
/// <c>rehearsal: mean_return=X std_return=Y episodes=N safe_stops=K</c>. <c>--randomise NAME=DIST</c> draws task parameters
/// per episode from the episode's seed (checked against the task before anything starts: exit 78), and --output records
/// each episode's draws and safe stops by reason, and the controller's counts (safe stops in all, by kind — stall or
/// policy — and by reason, envelope interventions, deadline misses). A policy file
/// the controller cannot run (an SVGD-actor S2AC file) exits 78 before any socket opens, as <c>serve</c>.
/// </summary>
public static class RunCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "sim task to run in-process; with --connect, the task the worker must serve", DefaultValueFactory = _ => "pendulum" };
        var model = new Option<FileInfo?>("--model") { Description = "MJCF model of a MuJoCo task (in-process, and to check --randomise against)" };
        var connect = new Option<string?>("--connect") { Description = "a sim worker's endpoint (tcp://host:port or ipc://path) to drive through the bridge" };
        var loopback = new Option<bool>("--bridge-loopback") { Description = "serve --task from a sim worker started in this process on tcp loopback and drive it through the bridge (the full wire path without a second process)" };
        var weights = new Option<FileInfo?>("--weights") { Description = "policy file (safetensors with meow.* metadata)" };
        var randomPolicy = new Option<int?>("--random-policy") { Description = "a randomly initialised policy of the task's size, with this seed (rehearsal without training)" };
        var streamPub = new Option<string?>("--stream") { Description = "the trainer's weight-stream PUB endpoint" };
        var streamSnapshot = new Option<string?>("--stream-snapshot") { Description = "the trainer's snapshot ROUTER endpoint" };
        var trainerKey = new Option<FileInfo?>("--trainer-key") { Description = "the trainer's CURVE public key file (pinned)" };
        var robotKey = new Option<FileInfo?>("--robot-key") { Description = "this robot's CURVE secret key file (its public key is on the trainer's allow-list)" };
        var robotId = new Option<string>("--robot-id") { Description = "this robot's id in bundle identities", DefaultValueFactory = _ => Environment.MachineName };
        var followLive = new Option<bool>("--follow-live") { Description = "with --stream: accept bundles for any robot (a training run's live stream); without it only bundles promoted to --robot-id by name are run" };
        var rate = new Option<double?>("--rate") { Description = "loop rate in Hz (50–5000; default: --actuator's Controller:Loop:RateHz, else 1000)" };
        var simRate = new Option<double?>("--sim-rate") { Description = "simulation steps per second, the task's real-time rate for rehearsal (default: --actuator's Controller:SimRobot:StepRateHz, else 20)" };
        var seconds = new Option<double?>("--seconds") { Description = "how long to run (0: until Ctrl+C; default 10, or no limit with --episodes)" };
        var episodes = new Option<int?>("--episodes") { Description = "stop after this many robot episodes and report their returns (the rehearsal line)" };
        var episodeSeed = new Option<int>("--seed") { Description = "episode i of the plant is reset with seed S + i, as in `trainer policy eval`", DefaultValueFactory = _ => 0 };
        var output = new Option<FileInfo?>("--output") { Description = "write the episodes as JSON (the format of `trainer policy eval --output`)" };
        var parameters = new Option<string[]>("--param") { Description = "task parameter NAME=VALUE for every episode (repeatable)", AllowMultipleArgumentsPerToken = false };
        var randomise = new Option<string[]>("--randomise") { Description = "per-episode randomisation NAME=DIST of the plant, as `trainer learn --randomise` (repeatable): each episode draws from its seed; --output records the draws" };
        var actuator = new Option<FileInfo?>("--actuator") { Description = "controller configuration (JSON) whose Controller:Envelope, Loop:RateHz and SimRobot:StepRateHz are the robot's actuator; default: an envelope that passes the policy's action within one tick, as the trainer's envs without an actuator model" };
        var telemetry = new Option<string?>("--telemetry") { Description = "PUB endpoint for telemetry, e.g. tcp://127.0.0.1:5580" };
        var cpu = new Option<int[]?>("--cpu") { Description = "pin the loop thread to these CPUs", AllowMultipleArgumentsPerToken = true };
        var fifo = new Option<int?>("--fifo") { Description = "SCHED_FIFO priority for the loop thread (1–99; needs CAP_SYS_NICE)" };
        var command = new Command("run", "Run the controller against a simulated robot and print loop statistics (with --episodes: a rehearsal of N seeded episodes)");
        foreach (var o in new Option[] { task, model, connect, loopback, weights, randomPolicy, streamPub, streamSnapshot, trainerKey, robotKey, robotId, followLive, rate, simRate, seconds, episodes, episodeSeed, output, parameters, randomise, actuator, telemetry, cpu, fifo })
            command.Options.Add(o);
        command.Validators.Add(r =>
        {
            var sources = (r.GetValue(weights) is not null ? 1 : 0) + (r.GetValue(randomPolicy) is not null ? 1 : 0) + (r.GetValue(streamPub) is not null ? 1 : 0);
            if (sources != 1) r.AddError("give exactly one of --weights, --random-policy, --stream");
            if (r.GetValue(streamPub) is not null && (r.GetValue(streamSnapshot) is null || r.GetValue(trainerKey) is null || r.GetValue(robotKey) is null))
                r.AddError("--stream needs --stream-snapshot, --trainer-key and --robot-key");
        });
        command.SetAction(parse =>
        {
            var taskOptions = new TaskOptions(parse.GetValue(model)?.FullName);
            // With --connect the task is the worker's; named explicitly, it is checked (and the randomisation against it).
            var namedTask = parse.GetValue(connect) is null || parse.GetResult(task) is { Implicit: false } ? parse.GetValue(task) : null;
            IReadOnlyList<ParameterDistribution> randomisation;
            try
            {
                randomisation = TaskCatalog.Randomisation(namedTask, taskOptions, parse.GetValue(randomise) ?? []);
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                Console.Error.WriteLine("controller run: --randomise: " + e.Message);
                return ServiceHostBuilder.ConfigurationErrorExitCode;
            }
            try
            {
                var actuatorModel = parse.GetValue(actuator) is { } file ? ActuatorModel.Load(file.FullName) : null;
                var plan = new Rehearsal(
                    parse.GetValue(rate) ?? actuatorModel?.LoopRateHz ?? 1000,
                    parse.GetValue(simRate) ?? actuatorModel?.StepRateHz ?? 20,
                    parse.GetValue(seconds) ?? (parse.GetValue(episodes) is null ? 10 : 0),
                    parse.GetValue(episodes), parse.GetValue(episodeSeed), parse.GetValue(output)?.FullName,
                    EpisodeReport.ParseParameters(parse.GetValue(parameters)), randomisation, actuatorModel);
                if (plan.SimRateHz is not (> 0 and <= 100_000) || plan.Seconds is not (>= 0 and <= 86_400) || plan.Episodes is < 1 or > 1_000_000)
                {
                    Console.Error.WriteLine("--sim-rate must lie in (0, 100000], --seconds in [0, 86400] and --episodes in [1, 1000000]");
                    return 2;
                }
                // The policy file is loaded, and its runtime made, before any socket opens: a file this controller cannot
                // run is the configuration's fault.
                var filePolicy = parse.GetValue(weights) is { } w ? RuntimeActionPolicy.Load(w.FullName) : null;
                using var worker = parse.GetValue(loopback) && parse.GetValue(connect) is null
                    ? SimWorker.Start(new SimService(new LocalVectorEnv([TaskCatalog.Create(parse.GetValue(task)!, taskOptions)])), "tcp://127.0.0.1:*")
                    : null;
                return Run(parse.GetValue(task)!, taskOptions, namedTask, worker?.Endpoint ?? parse.GetValue(connect), filePolicy, parse.GetValue(randomPolicy),
                    parse.GetValue(streamPub), parse.GetValue(streamSnapshot), parse.GetValue(trainerKey), parse.GetValue(robotKey),
                    (parse.GetValue(robotId)!, parse.GetValue(followLive)), new ControlLoopOptions { RateHz = plan.LoopRateHz, CpuAffinity = parse.GetValue(cpu) is { Length: > 0 } cpus ? cpus : null, RealtimePriority = parse.GetValue(fifo) },
                    plan, parse.GetValue(telemetry));
            }
            catch (UnsupportedPolicyException e)
            {
                Console.Error.WriteLine($"controller run: {parse.GetValue(weights)?.FullName}: {e.Message}");
                return MeowRobot.Hosting.ServiceHostBuilder.ConfigurationErrorExitCode;
            }
            catch (Exception e) when (e is InvalidControlOptionsException or PolicyFileException or IOException or ZmqException or ArgumentException or InvalidOperationException or TimeoutException)
            {
                Console.Error.WriteLine("controller run: " + e.Message);
                return 2;
            }
        });
        return command;
    }

    /// <summary>What a run does beyond the loop's options: the plant's rate, when to stop, the episodes' seeds,
    /// parameters and randomisation, where the report goes, and the robot's actuator model (null: unshaped).</summary>
    private sealed record Rehearsal(double LoopRateHz, double SimRateHz, double Seconds, int? Episodes, int Seed, string? Output,
        IReadOnlyDictionary<string, double>? Parameters, IReadOnlyList<ParameterDistribution> Randomisation, ActuatorModel? Actuator);

    private static int Run(string taskName, TaskOptions taskOptions, string? namedTask, string? connect, ActivePolicy? filePolicy, int? randomSeed, string? streamPub, string? streamSnapshot,
        FileInfo? trainerKey, FileInfo? robotKey, (string Id, bool FollowLive) robotId, ControlLoopOptions loopOptions, Rehearsal plan, string? telemetryEndpoint)
    {
        var simRate = plan.SimRateHz;
        using var robot = new SimBridgeRobot(
            connect is null ? () => new LocalVectorEnv([TaskCatalog.Create(taskName, taskOptions)]) : () => new VectorEnvClient([connect]),
            simRate, plan.Episodes is null ? null : plan.Seed, parameters: plan.Parameters, randomisation: plan.Randomisation);
        var spec = robot.Spec;
        if (namedTask is not null && spec.Name != namedTask)
            throw new ArgumentException($"the sim worker serves '{spec.Name}', not '{namedTask}'");
        Console.WriteLine($"robot: {(connect is null ? "in-process" : connect)} task {spec.Name} ({spec.ObsDim}, {spec.ActDim}), sim {simRate:0.#} Hz; loop {loopOptions.RateHz:0.#} Hz");
        if (plan.Randomisation.Count > 0) Console.WriteLine($"randomised per episode: {ParameterDistribution.FormatList(plan.Randomisation)}");

        var envelope = plan.Actuator?.EnvelopeFor(spec) ?? ActuatorModel.UnshapedEnvelope(spec, loopOptions.RateHz);
        // An observation is due every plant period, so the staleness threshold must span several: five by default (a
        // robot's configuration, --actuator, decides for itself, with a warning when it is under two periods).
        if (plan.Actuator is null) envelope.ObservationTimeoutSeconds = Math.Clamp(5 / simRate, 0.005, 10);
        else if (envelope.ObservationTimeoutSeconds < 2 / simRate)
            Console.Error.WriteLine($"controller run: warning: Controller:Envelope:ObservationTimeoutSeconds {envelope.ObservationTimeoutSeconds} s is under two plant periods ({2000 / simRate:0.#} ms): on-time observations will be judged stale");
        Console.WriteLine(plan.Actuator is { } model
            ? $"actuator: {model.Describe()}; staleness {envelope.ObservationTimeoutSeconds * 1000:0.#} ms"
            : $"actuator: unshaped (the action's full range per tick, as a training env without an actuator model; --actuator FILE for the robot's limits); staleness {envelope.ObservationTimeoutSeconds * 1000:0.#} ms");
        using var loop = new ControlLoop(robot, loopOptions, envelope, new ModeOptions { ArmOnStart = true });
        using var telemetry = new ControllerTelemetry(loop, telemetryEndpoint, TimeSpan.FromMilliseconds(200), Console.WriteLine);
        if (telemetry.Endpoint is { } bound) Console.WriteLine($"telemetry: {bound}");

        WeightStreamSubscriber? stream = null;
        if (filePolicy is not null)
        {
            loop.OfferPolicy(filePolicy);
            Console.WriteLine($"policy: {filePolicy.Source} (version {filePolicy.Version})");
        }
        else if (randomSeed is { } seed)
        {
            var file = PolicyFile.Initialized(new PolicyMetadata { ObsDim = spec.ObsDim, ActDim = spec.ActDim, Task = spec.Name }, seed);
            loop.OfferPolicy(new ActivePolicy(new RuntimeActionPolicy(PolicyRuntime.Create(file)), 0, $"random policy (seed {seed})"));
            Console.WriteLine($"policy: random, seed {seed}");
        }
        else
        {
            stream = new WeightStreamSubscriber(new WeightStreamSubscriberOptions
            {
                PublishEndpoints = [streamPub!],
                SnapshotEndpoints = [streamSnapshot!],
                TrainerPublicKey = ZmqCurveKeyPair.LoadPublicKey(trainerKey!.FullName),
                RobotKeys = ZmqCurveKeyPair.Load(robotKey!.FullName),
                Identity = new PolicyIdentity(spec.Name, spec.ObsDim, spec.ActDim, robotId.Id),
                RequireAddressed = !robotId.FollowLive,
            }, loop.OfferPolicy, telemetry.Report);
            telemetry.Attach(stream);
            Console.WriteLine($"policy: weight stream {streamPub} (robot key {Z85.Encode(stream.RobotPublicKey)})");
        }

        using var done = new ManualResetEventSlim();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.Set(); };
        var finished = new List<EpisodeResult>();
        // Each episode carries the safe stops counted since the one before it was taken (this thread polls every 50 ms, so
        // a stop within 50 ms of an episode's end may fall to its neighbour); those after the last one go to the last one.
        var stopsTaken = new long[SafeStopReason.Causes.Count];
        Dictionary<string, long> StopsSinceLast()
        {
            var stops = new Dictionary<string, long>(StringComparer.Ordinal);
            for (var i = 0; i < stopsTaken.Length; i++)
            {
                var now = loop.SafeStopCount(SafeStopReason.Causes[i]);
                if (now > stopsTaken[i]) stops[SafeStopReason.Name(SafeStopReason.Causes[i])] = now - stopsTaken[i];
                stopsTaken[i] = now;
            }
            return stops;
        }
        loop.Start();
        var started = Stopwatch.GetTimestamp();
        var nextLine = TimeSpan.FromSeconds(1);
        while (!done.Wait(TimeSpan.FromMilliseconds(50)))
        {
            while (robot.TryTakeEpisode(out var episode) && finished.Count < (plan.Episodes ?? int.MaxValue)) finished.Add(episode with { SafeStops = StopsSinceLast() });
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed >= nextLine)
            {
                if (loop.TryReadSnapshot(out var s)) Console.WriteLine(Line(s));
                nextLine += TimeSpan.FromSeconds(1);
            }
            if (loop.Fault is not null || robot.Fault is not null) break;
            if (plan.Episodes is { } n && finished.Count >= n) break;
            if (plan.Seconds > 0 && elapsed.TotalSeconds >= plan.Seconds) break;
        }
        var lastStops = StopsSinceLast();   // before the orderly stop's own one
        if (finished.Count > 0)
            finished[^1] = finished[^1] with { SafeStops = finished[^1].SafeStops!.Concat(lastStops).GroupBy(x => x.Key).ToDictionary(g => g.Key, g => g.Sum(x => x.Value), StringComparer.Ordinal) };
        var safeStops = stopsTaken.Sum();   // every Policy → SafeStop transition: each has one of the causes
        var stopsByReason = SafeStopReason.Causes.Select((c, i) => KeyValuePair.Create(SafeStopReason.Name(c), stopsTaken[i])).ToArray();
        var stallStops = stopsByReason.Where(x => SafeStopReason.IsStall(x.Key)).Sum(x => x.Value);
        loop.Stop(TimeSpan.FromSeconds(5));
        stream?.Dispose();
        if (robot.Fault is { } simFault) Console.Error.WriteLine("simulation failed: " + simFault.Message);
        if (loop.Fault is { } loopFault) Console.Error.WriteLine("loop failed: " + loopFault);
        if (!loop.TryReadSnapshot(out var last)) return 1;
        Console.WriteLine($"episodes: {robot.Episodes} last_return: {robot.LastEpisodeReturn.ToString("0.##", CultureInfo.InvariantCulture)} sim_steps: {robot.Steps}");
        var missRate = last.Tick == 0 ? 0 : (double)last.Misses / last.Tick;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ticks: {last.Tick} misses: {last.Misses} miss_rate: {missRate:0.######} skipped: {last.SkippedPeriods} jitter_p50_us: {last.JitterP50Us:0.#} jitter_p99_us: {last.JitterP99Us:0.#} jitter_max_us: {last.JitterMaxUs:0.#} compute_p50_us: {last.ComputeP50Us:0.#} compute_p99_us: {last.ComputeP99Us:0.#} loop_alloc_bytes: {last.LoopAllocatedBytes} gc: {last.Gen0Collections}/{last.Gen1Collections}/{last.Gen2Collections}"));
        var ok = loop.Fault is null && robot.Fault is null;
        if (plan.Episodes is { } wanted)
        {
            // What the gates read (docs/campaigns.md): the rehearsal's counts beside its episodes.
            var report = new EpisodeReport(finished,
            [
                new("safe_stops", safeStops), new("envelope_interventions", last.EnvelopeInterventions), new("deadline_misses", last.Misses),
                new("ticks", last.Tick), new("non_finite_actions", last.NonFiniteActions), new("non_finite_observations", last.NonFiniteObservations),
                new("stale_observation_ticks", last.StaleObservationTicks), new("stall_reengagements", loop.StallReengagements),
                new("stale_action_steps", robot.StaleActionSteps),
                new("stall_safe_stops", stallStops), new("policy_safe_stops", safeStops - stallStops),
                .. stopsByReason.Select(x => KeyValuePair.Create("safe_stops_" + x.Key, x.Value)),
            ]);
            if (plan.Output is { } path) report.Save(path);
            Console.WriteLine($"envelope: interventions={last.EnvelopeInterventions} (non_finite_actions={last.NonFiniteActions} non_finite_observations={last.NonFiniteObservations} stale_observation_ticks={last.StaleObservationTicks}) deadline_misses={last.Misses}");
            Console.WriteLine($"hand-off: stale_action_steps={robot.StaleActionSteps} stall_reengagements={loop.StallReengagements} sim_steps={robot.Steps}");
            Console.WriteLine($"safe stops: {string.Join(" ", stopsByReason.Select(x => $"{x.Key}={x.Value}"))} (stall={stallStops} policy={safeStops - stallStops})");
            Console.WriteLine($"rehearsal: {report.Summary()} safe_stops={safeStops}");
            if (finished.Count < wanted)
            {
                Console.Error.WriteLine($"controller run: only {finished.Count} of {wanted} episodes finished");
                ok = false;
            }
        }
        return ok ? 0 : 1;
    }

    internal static string Line(in LoopSnapshot s) => string.Create(CultureInfo.InvariantCulture,
        $"tick {s.Tick} mode {s.Mode} policy v{s.PolicyVersion} misses {s.Misses} jitter p50/p99/max {s.JitterP50Us:0.#}/{s.JitterP99Us:0.#}/{s.JitterMaxUs:0.#} µs compute p99 {s.ComputeP99Us:0.#} µs gc {s.Gen0Collections}/{s.Gen1Collections}/{s.Gen2Collections} realtime {s.Realtime}");
}
