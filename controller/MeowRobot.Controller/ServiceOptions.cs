using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Control.WeightStream;
using System.ComponentModel.DataAnnotations;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using Microsoft.Extensions.Options;

namespace MeowRobot.Controller;

/// <summary>Configuration section "Controller" of <c>controller serve</c> (keys: docs/operations.md).</summary>
public sealed class ControllerOptions : IValidatableObject, IConfigurationWarnings
{
    public const string Section = "Controller";

    /// <summary>Policy file to run from the start (before, or instead of, the weight stream).</summary>
    [ExistingFile]
    public string? PolicyPath { get; set; }

    /// <summary>Where policy bundles come from.</summary>
    [ValidateObjectMembers]
    public WeightStreamOptions WeightStream { get; set; } = new();

    /// <summary>The robot: tcp:// or ipc:// for a simulated robot through the bridge, serial:///PATH (an absolute device path) for a microcontroller.</summary>
    [Required, Endpoint(AllowSerial = true)]
    public string Robot { get; set; } = "";

    /// <summary>This robot's name in bundle identities: a promotion stream addresses its bundles to it by this name
    /// (docs/campaigns.md, "Promotion"); default: the machine's host name.</summary>
    [RegularExpression("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", ErrorMessage = "a robot id of letters, digits, '_', '.' and '-' (at most 64)")]
    public string RobotId { get; set; } = Environment.MachineName;

    /// <summary>A serial robot's link (section Controller:SerialRobot): ignored for simulated robots.</summary>
    [ValidateObjectMembers]
    public SerialRobotOptions SerialRobot { get; set; } = new();

    /// <summary>A simulated robot's plant (section Controller:SimRobot): ignored for serial robots.</summary>
    [ValidateObjectMembers]
    public SimRobotOptions SimRobot { get; set; } = new();

    /// <summary>Where telemetry is published (ZeroMQ PUB bind); null: none.</summary>
    [Endpoint(Bind = true)]
    public string? Telemetry { get; set; } = "tcp://127.0.0.1:5800";

    /// <summary>The loop: RateHz (50–5000), CPU affinity, SCHED_FIFO priority, memory locking, timing (section Controller:Loop).</summary>
    public ControlLoopOptions Loop { get; set; } = new();

    /// <summary>The watchdog holds its pings when the last tick that met its deadline is older than this.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan MaxTickAge { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The operator's transmitter: a serial device path (e.g. /dev/ttyUSB1) carrying heartbeat, axes and button
    /// frames (docs/protocol.md); null: no teleop fallback. The link is reopened with backoff when the device goes away.</summary>
    public string? TeleopPort { get; set; }

    /// <summary>Teleop link timeout, resume hysteresis, arm at start (section Controller:Modes).</summary>
    public ModeOptions Modes { get; set; } = new();

    /// <summary>Action bounds, rate limits, safe action, staleness and state bounds (checked against the robot's sizes at start).</summary>
    public SafetyEnvelopeOptions Envelope { get; set; } = new();

    /// <summary>A serial robot: its sizes come from the policy file and nothing is asked of the line before the loop starts.</summary>
    public bool IsSerialRobot => Robot.StartsWith("serial://", StringComparison.Ordinal);

    /// <summary>
    /// Everything <c>serve</c> would refuse, found before any device or socket is opened: the policy file must load, a
    /// serial robot needs one, and the envelope must fit the robot (its sizes from the policy file; a simulated robot
    /// without one is checked for what needs no sizes here, and against the worker's sizes when it connects).
    /// </summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PolicyPath is null && WeightStream.Endpoint is null)
            yield return new ValidationResult("no policy source: set PolicyPath, WeightStream:Endpoint or both", [nameof(PolicyPath)]);
        PolicyFile? file = null;
        if (PolicyPath is not null && File.Exists(PolicyPath))
        {
            string? problem = null;
            try
            {
                file = PolicyFile.Load(PolicyPath);
                _ = PolicyRuntime.Create(file); // the runtime the service will run: an algorithm or actor it cannot run is refused here
            }
            catch (Exception e) when (e is PolicyFileException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException
                                          or UnsupportedPolicyException)
            {
                file = null;
                problem = $"unusable policy file '{PolicyPath}': {e.Message}";
            }
            if (problem is not null) yield return new ValidationResult(problem, [nameof(PolicyPath)]);
        }
        if (IsSerialRobot && PolicyPath is null)
            yield return new ValidationResult("a serial robot needs Controller:PolicyPath (its observation and action sizes come from the policy file)", [nameof(PolicyPath)]);
        foreach (var p in Problems(Loop.Validate)) yield return new ValidationResult(p, [ProblemKeys.MemberOf(nameof(Loop), p, typeof(ControlLoopOptions))]);
        foreach (var p in Problems(Modes.Validate)) yield return new ValidationResult(p, [ProblemKeys.MemberOf(nameof(Modes), p, typeof(ModeOptions))]);
        // Bounds left empty on a simulated robot are the worker's (ControllerService fills them in): the action size is
        // then not known until it connects, and the loop checks the envelope against it there.
        var envelope = Envelope;
        int? actions = IsSerialRobot || envelope.ActionLow.Length + envelope.ActionHigh.Length > 0 ? file?.Metadata.ActDim : null;
        foreach (var p in envelope.Problems(actions, file?.Metadata.ObsDim))
            yield return new ValidationResult(p, [ProblemKeys.MemberOf(nameof(Envelope), p, typeof(SafetyEnvelopeOptions))]);
    }

    public IEnumerable<string> Warnings()
    {
        if (Envelope.StateBounds.Length == 0)
        {
            yield return "Envelope:StateBounds: none set, so no sensor reading is range-checked (a value of 1e30 reaches the policy); " +
                "list each observation's physical range (docs/operations.md, \"Safety envelope\")";
        }
        // A simulated robot delivers an observation every plant period: a staleness threshold of a few periods judges
        // on-time observations stale and stops the policy (two periods: 5 safe stops in a 20-episode rehearsal where five
        // periods had 3, docs/benchmarks.md); `controller run` uses five periods unless told otherwise.
        if (!IsSerialRobot && Envelope.ObservationTimeoutSeconds < 5 / SimRobot.StepRateHz)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"Envelope:ObservationTimeoutSeconds {Envelope.ObservationTimeoutSeconds} s is under five periods of the simulated robot " +
                $"(SimRobot:StepRateHz {SimRobot.StepRateHz} Hz: {5000 / SimRobot.StepRateHz:0.#} ms): on-time observations late by a " +
                $"period or two will be judged stale and stop the policy; set it to {5 / SimRobot.StepRateHz} s or more");
        }
    }

    /// <summary>The control library's own checks list every problem in one exception.</summary>
    private static IReadOnlyList<string> Problems(Action validate)
    {
        try
        {
            validate();
            return [];
        }
        catch (InvalidControlOptionsException e)
        {
            return e.Problems;
        }
    }
}

/// <summary>Section "Controller:WeightStream": the trainer's CURVE-authenticated bundle stream.</summary>
public sealed class WeightStreamOptions : IValidatableObject
{
    /// <summary>The trainer's publish endpoint (tcp://trainer-host:5700); null: no live updates.</summary>
    [Endpoint]
    public string? Endpoint { get; set; }

    /// <summary>The trainer's snapshot ROUTER (late joiners and lost bundles); null: the trainer's default pair (publish port + 1; ipc://PATH.snapshot).</summary>
    [Endpoint]
    public string? SnapshotEndpoint { get; set; }

    /// <summary>The trainer's CURVE public key (Z85, from `trainer keys generate`): bundles from any other key are never heard.</summary>
    [CurveKeyFile]
    public string? TrainerPublicKeyFile { get; set; }

    /// <summary>This robot's CURVE secret key (`controller keys generate`); null: a fresh key pair per start, which a trainer
    /// without Trainer:AllowedRobotKeysDir admits and one with an allow-list refuses (the controller then warns why).</summary>
    [CurveKeyFile(Secret = true)]
    public string? SecretKeyFile { get; set; }

    /// <summary>Follow a training run live: accept every bundle the trainer publishes (addressed to any robot). Off by
    /// default: the robot then takes only bundles addressed to it by name (Controller:RobotId), which only a campaign's
    /// promotion stream sends (docs/campaigns.md, "Promotion"), so it never runs a candidate that was not promoted to it.</summary>
    public bool FollowLive { get; set; }

    /// <summary>A controller that has adopted no bundle from the stream this long after its start says why it thinks so
    /// (then again at twice the time, and so on).</summary>
    [Range(1, 86_400)]
    public int QuietWarningSeconds { get; set; } = 30;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Endpoint is not null && TrainerPublicKeyFile is null)
            yield return new ValidationResult("the trainer's public key file is required with WeightStream:Endpoint (bundles are only accepted from it)",
                [nameof(TrainerPublicKeyFile)]);
    }

    /// <summary>The snapshot endpoint in use: <see cref="SnapshotEndpoint"/>, or the one paired with the publish endpoint
    /// as Trainer:SnapshotEndpoint defaults (<see cref="WeightStreamEndpoints.DefaultSnapshot"/>).</summary>
    public string? EffectiveSnapshotEndpoint => SnapshotEndpoint ?? (Endpoint is null ? null : WeightStreamEndpoints.DefaultSnapshot(Endpoint));
}

/// <summary>Section "Controller:SerialRobot": a microcontroller on a serial line.</summary>
public sealed class SerialRobotOptions
{
    /// <summary>How much slower than the controller's clock the MCU's may run before its readings count as stale
    /// (a fraction: 0.005 = 0.5 %, a ceramic resonator's tolerance; a crystal-clocked MCU can use 0.0001).</summary>
    [Range(1e-6, MeowRobot.Control.Serial.SerialRobot.MaxClockDriftAllowance)]
    public double ClockDriftAllowance { get; set; } = MeowRobot.Control.Serial.SerialRobot.DefaultClockDriftAllowance;
}
