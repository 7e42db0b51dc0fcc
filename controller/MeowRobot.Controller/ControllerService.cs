using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Loop;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;
using MeowRobot.Control.Serial;
using MeowRobot.Control.Teleop;
using MeowRobot.Control.Telemetry;
using MeowRobot.Control.WeightStream;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Hosting.Systemd;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeowRobot.Controller;

/// <summary>
/// The body of <c>controller serve</c>: the robot's I/O (a sim worker through the bridge, stepped in real time, or a
/// microcontroller on a serial line), the <see cref="ControlLoop"/> on its own thread, the policy from a file and/or the
/// trainer's CURVE weight stream, and telemetry. The systemd watchdog follows the loop (<see cref="ControlLoopHealth"/>
/// reads <see cref="Loop"/>). On stop the loop ramps to the safe action and writes it a last time, then the outputs stop.
/// </summary>
public sealed partial class ControllerService(IOptions<ControllerOptions> options, SystemdNotifier notifier, ILogger<ControllerService> logger)
    : BackgroundService
{
    private static readonly TimeSpan TelemetryInterval = TimeSpan.FromMilliseconds(200);
    private ControlLoop? _loop;

    /// <summary>The running loop (null before it starts), for the watchdog probe.</summary>
    public ControlLoop? Loop => Volatile.Read(ref _loop);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();   // connecting to the robot blocks; the host's start must not wait on it
        var o = options.Value;
        var file = o.PolicyPath is null ? null : PolicyFile.Load(o.PolicyPath);
        using var robot = OpenRobot(o, file, logger, out var identity);
        var envelope = o.Envelope;
        if (envelope.ActionLow.Length == 0 && envelope.ActionHigh.Length == 0 && robot is SimBridgeRobot sim)
        {
            envelope.ActionLow = sim.Spec.ActLow;
            envelope.ActionHigh = sim.Spec.ActHigh;
        }
        using var loop = CreateLoop(robot, o, envelope);
        using var telemetry = new ControllerTelemetry(loop, o.Telemetry, TelemetryInterval, line => LogTelemetry(logger, line));
        using var teleop = o.TeleopPort is { } teleopPort
            ? new TeleopLink(new SerialPortOptions { Path = teleopPort }, loop.Teleop,
                new TeleopLinkOptions { HeartbeatTimeout = TimeSpan.FromSeconds(o.Modes.TeleopTimeoutSeconds) })
            : null;
        if (teleop is not null)
        {
            teleop.Changed += e => LogTeleop(logger, o.TeleopPort!, e.Kind.ToString(), e.Detail);
            teleop.Start();
        }
        if (robot is IEpisodeReturns episodes) telemetry.Attach(episodes);
        if (file is not null)
        {
            loop.OfferPolicy(new ActivePolicy(new RuntimeActionPolicy(PolicyRuntime.Create(file)), (long)(file.Metadata.Version ?? 0), o.PolicyPath!));
            LogPolicyFile(logger, o.PolicyPath!, file.Metadata.Version ?? 0);
        }
        using var stream = o.WeightStream.Endpoint is { } endpoint
            ? new WeightStreamSubscriber(new WeightStreamSubscriberOptions
            {
                PublishEndpoints = [endpoint],
                SnapshotEndpoints = [o.WeightStream.EffectiveSnapshotEndpoint!],
                TrainerPublicKey = ZmqCurveKeyPair.LoadPublicKey(o.WeightStream.TrainerPublicKeyFile!),
                RobotKeys = o.WeightStream.SecretKeyFile is { } secret ? ZmqCurveKeyPair.Load(secret) : null,
                Identity = identity,
                InitialVersion = file?.Metadata.Version ?? 0,
                RequireAddressed = !o.WeightStream.FollowLive,
            }, loop.OfferPolicy, telemetry.Report)
            : null;
        if (stream is not null)
        {
            telemetry.Attach(stream);
            LogStream(logger, o.WeightStream.Endpoint!, o.WeightStream.EffectiveSnapshotEndpoint!, Z85.Encode(stream.RobotPublicKey));
        }

        loop.Start();
        Volatile.Write(ref _loop, loop);
        LogStarted(logger, o.Robot, identity.Task, robot.ObservationSize, robot.ActionSize, o.Loop.RateHz, telemetry.Endpoint ?? "off");
        var started = System.Diagnostics.Stopwatch.StartNew();
        var quietWarningAt = TimeSpan.FromSeconds(o.WeightStream.QuietWarningSeconds);
        try
        {
            // Once a second: systemd's STATUS= line, and the checks that end the service on a fault (Restart=on-failure).
            while (!stoppingToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(1)))
            {
                if (stream is not null && stream.AcceptedVersion == (file?.Metadata.Version ?? 0) && started.Elapsed >= quietWarningAt)
                {
                    // Nothing adopted from the stream yet: say what the subscriber's counters point to, then again less often.
                    LogNoBundle(logger, (long)started.Elapsed.TotalSeconds, o.WeightStream.Endpoint!, WhyNoBundle(stream, o.WeightStream));
                    quietWarningAt += quietWarningAt;
                }
                if (loop.Fault is { } fault) throw new InvalidOperationException("the control loop failed: " + fault.Message, fault);
                if (robot is SimBridgeRobot { Fault: { } simFault }) throw new InvalidOperationException("the simulated robot failed: " + simFault.Message, simFault);
                if (loop.TryReadSnapshot(out var s)) notifier.Status(Status(s, stream));
            }
        }
        finally
        {
            notifier.Status("stopping: ramping to the safe action");
            var stopped = loop.Stop(TimeSpan.FromSeconds(o.Loop.StopTimeoutSeconds + 1));
            Volatile.Write(ref _loop, null);
            if (loop.TryReadSnapshot(out var last)) LogStopped(logger, stopped ? "safe action written, outputs stopped" : "the loop did not end in time", last.Tick, last.Misses, last.PolicySwaps);
        }
    }

    /// <summary>The loop, whose envelope is checked against the robot's sizes: a simulated robot's are known only now,
    /// and an envelope that does not fit them is the configuration's fault (exit 78), not a crash to restart.</summary>
    private static ControlLoop CreateLoop(IRobotIo robot, ControllerOptions o, SafetyEnvelopeOptions envelope)
    {
        try
        {
            return new ControlLoop(robot, o.Loop, envelope, o.Modes);
        }
        catch (InvalidControlOptionsException e)
        {
            throw new ConfigurationProblemException(
                $"{ControllerOptions.Section}:Envelope does not fit the robot {o.Robot} (action {robot.ActionSize}, observation {robot.ObservationSize}): {string.Join("; ", e.Problems)}", e);
        }
    }

    /// <summary>The robot named by Controller:Robot, and who it is for the weight stream.</summary>
    private static IRobotIo OpenRobot(ControllerOptions o, PolicyFile? file, ILogger logger, out PolicyIdentity identity)
    {
        const string serial = "serial://";
        if (o.Robot.StartsWith(serial, StringComparison.Ordinal))
        {
            // A microcontroller does not say its sizes: the policy file does, and the envelope's bounds must be configured.
            if (file is null)
                throw new InvalidOperationException("a serial robot needs Controller:PolicyPath (its observation and action sizes come from the policy file)");
            var m = file.Metadata;
            identity = new PolicyIdentity(m.Task ?? "", m.ObsDim, m.ActDim, o.RobotId);
            var mcu = new SerialRobot(new SerialPortOptions { Path = o.Robot[serial.Length..] }, m.ObsDim, m.ActDim, o.SerialRobot.ClockDriftAllowance);
            mcu.LinkChanged += (up, detail) => LogRobotLink(logger, o.Robot, up ? "up" : $"down ({detail})");
            mcu.Start();   // its I/O thread opens the line (and reopens it after an unplug); without it nothing is read or sent
            return mcu;
        }
        var endpoint = o.Robot;
        var curve = o.SimRobot.LoadCurve();
        var robot = new SimBridgeRobot(() => new VectorEnvClient([endpoint], new VectorEnvClientOptions { Curve = curve }), o.SimRobot.StepRateHz, o.SimRobot.Seed);
        identity = new PolicyIdentity(robot.Spec.Name, robot.Spec.ObsDim, robot.Spec.ActDim, o.RobotId);
        return robot;
    }

    /// <summary>Why the controller thinks no bundle arrived. The snapshot DEALER queues requests only to a trainer whose CURVE
    /// handshake completed (Immediate), so no request sent means no handshake; heartbeats mean the publish side is heard.</summary>
    internal static string WhyNoBundle(WeightStreamSubscriber stream, WeightStreamOptions o)
    {
        if (stream.SnapshotRequests == 0)
            return $"no CURVE handshake with the trainer completed: it is not running or not reachable at {o.EffectiveSnapshotEndpoint}, or it " +
                $"refuses this robot's key {Z85.Encode(stream.RobotPublicKey)} (a trainer with Trainer:AllowedRobotKeysDir admits only the keys in it; " +
                (o.SecretKeyFile is null
                    ? "this robot has no Controller:WeightStream:SecretKeyFile, so its key is a fresh one each start and cannot be on that list"
                    : $"this robot's public key is the one beside {o.SecretKeyFile}") +
                "), or Controller:WeightStream:TrainerPublicKeyFile is not that trainer's public key";
        if (stream.Heartbeats == 0)
            return $"the trainer's snapshot socket completed the handshake but no heartbeat came on {o.Endpoint}: is it the trainer's Trainer:PublishEndpoint?";
        if (stream.Rejected > 0)
            return $"{stream.Rejected} bundle(s) were rejected (see the warnings above: task, sizes or robot do not match this robot)";
        return "the trainer is heard (heartbeats) but has published no newer policy yet: it publishes every Trainer:PublishEveryUpdates updates once learning has started";
    }

    private static string Status(in LoopSnapshot s, WeightStreamSubscriber? stream) => string.Create(CultureInfo.InvariantCulture,
        $"{s.Mode}, policy v{s.PolicyVersion}{(stream is null ? "" : $" (stream v{stream.AcceptedVersion}, {stream.Rejected} rejected)")}, " +
        $"{s.Tick} ticks, {s.Misses} missed, jitter p99 {s.JitterP99Us:0} µs");

    [LoggerMessage(1, LogLevel.Information, "controlling {Robot} ({Task}, observation {ObsDim}, action {ActDim}) at {RateHz} Hz; telemetry {Telemetry}")]
    private static partial void LogStarted(ILogger logger, string robot, string task, int obsDim, int actDim, double rateHz, string telemetry);

    [LoggerMessage(2, LogLevel.Information, "policy file {Path} (version {Version})")]
    private static partial void LogPolicyFile(ILogger logger, string path, ulong version);

    [LoggerMessage(3, LogLevel.Information, "weight stream {Endpoint} (snapshot {Snapshot}), robot key {RobotKey}")]
    private static partial void LogStream(ILogger logger, string endpoint, string snapshot, string robotKey);

    [LoggerMessage(4, LogLevel.Information, "{Event}")]
    private static partial void LogTelemetry(ILogger logger, string @event);

    [LoggerMessage(6, LogLevel.Information, "teleop {Port}: {Kind} {Detail}")]
    private static partial void LogTeleop(ILogger logger, string port, string kind, string detail);

    [LoggerMessage(7, LogLevel.Information, "robot {Robot}: link {State}")]
    private static partial void LogRobotLink(ILogger logger, string robot, string state);

    [LoggerMessage(5, LogLevel.Information, "stopped: {Outcome} after {Ticks} ticks ({Misses} missed, {Swaps} policy swaps)")]
    private static partial void LogStopped(ILogger logger, string outcome, long ticks, long misses, long swaps);

    [LoggerMessage(8, LogLevel.Warning, "no policy bundle from the trainer at {Endpoint} in {Seconds} s: {Why}")]
    private static partial void LogNoBundle(ILogger logger, long seconds, string endpoint, string why);
}
