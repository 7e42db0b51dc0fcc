using MeowRobot.Bridge.Sim;
using MeowRobot.Control.WeightStream;
using System.ComponentModel.DataAnnotations;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Safety;
using MeowRobot.Hosting.Configuration;
using Microsoft.Extensions.Options;

namespace MeowRobot.Controller;

/// <summary>Configuration section "Controller" of <c>controller serve</c> (keys: docs/operations.md).</summary>
public sealed class ControllerOptions : IValidatableObject
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

    /// <summary>A simulated robot's plant (section Controller:SimRobot): ignored for serial robots.</summary>
    [ValidateObjectMembers]
    public SimRobotOptions SimRobot { get; set; } = new();

    /// <summary>Where telemetry is published (ZeroMQ PUB bind); null: none.</summary>
    [Endpoint]
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

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PolicyPath is null && WeightStream.Endpoint is null)
            yield return new ValidationResult("no policy source: set PolicyPath, WeightStream:Endpoint or both", [nameof(PolicyPath)]);
        foreach (var p in Problems(Loop.Validate)) yield return new ValidationResult(p, [ProblemKeys.MemberOf(nameof(Loop), p, typeof(ControlLoopOptions))]);
        foreach (var p in Problems(Modes.Validate)) yield return new ValidationResult(p, [ProblemKeys.MemberOf(nameof(Modes), p, typeof(ModeOptions))]);
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

    /// <summary>This robot's CURVE secret key (`controller keys generate`); null: a fresh key pair per connection (fine unless the trainer allow-lists robots).</summary>
    [CurveKeyFile(Secret = true)]
    public string? SecretKeyFile { get; set; }

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

/// <summary>Section "Controller:SimRobot": a sim worker stepped as the robot's plant, in real time.</summary>
public sealed class SimRobotOptions : IValidatableObject
{
    /// <summary>Simulation steps per second of wall time: the task's own rate for real-time rehearsal (pendulum: 20).</summary>
    [Range(0.1, 100_000)]
    public double StepRateHz { get; set; } = 20;

    /// <summary>Seed of the plant's first reset; null: the worker's.</summary>
    public int? Seed { get; set; }

    /// <summary>The sim worker's CURVE public key: set, the controller connects as a CURVE client with
    /// <see cref="SecretKeyFile"/> (allow-listed by the worker); null: a plain connection (loopback/ipc workers).</summary>
    [CurveKeyFile]
    public string? ServerKeyFile { get; set; }

    /// <summary>This controller's CURVE secret key for the sim worker (e.g. the robot key of the weight stream).</summary>
    [CurveKeyFile(Secret = true)]
    public string? SecretKeyFile { get; set; }

    /// <summary>The sim client's CURVE keys, or null when not configured.</summary>
    public SimClientCurve? LoadCurve() => ServerKeyFile is null ? null : SimClientCurve.Load(SecretKeyFile!, ServerKeyFile);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if ((ServerKeyFile is null) != (SecretKeyFile is null))
            yield return new ValidationResult("ServerKeyFile and SecretKeyFile go together (CURVE to the sim worker)",
                [ServerKeyFile is null ? nameof(ServerKeyFile) : nameof(SecretKeyFile)]);
    }
}
