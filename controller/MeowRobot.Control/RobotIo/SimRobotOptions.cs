using System.ComponentModel.DataAnnotations;
using MeowRobot.Bridge.Sim;
using MeowRobot.Hosting.Configuration;

namespace MeowRobot.Control.RobotIo;

/// <summary>Section "Controller:SimRobot": a sim worker stepped as the robot's plant, in real time.</summary>
public sealed class SimRobotOptions : IValidatableObject
{
    /// <summary>Simulation steps per second of wall time: the task's own rate for real-time rehearsal (pendulum: 20).</summary>
    [Range(0.1, 100_000)]
    public double StepRateHz { get; set; } = 20;

    /// <summary>Episode i of the plant is reset with Seed + i; null: the worker's own seeds.</summary>
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
