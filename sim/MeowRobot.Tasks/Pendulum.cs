using MeowRobot.Bridge.Sim;

namespace MeowRobot.Tasks;

/// <summary>
/// Gymnasium's Pendulum-v1, step for step at the default parameters (docs/tasks.md): swing a pendulum up and hold it.
/// θ = 0 is upright; obs [cos θ, sin θ, θ̇]; torque u ∈ [−2, 2]; 200 steps of 0.05 s.
/// </summary>
public sealed class Pendulum : SimTask
{
    public const double Dt = 0.05;
    public const double MaxSpeed = 8.0;
    public const double MaxTorque = 2.0;

    private const int Mass = 0, Length = 1, Gravity = 2, Damping = 3;

    private static readonly TaskParameter[] Physical =
    [
        new("mass", 1.0, 0.5, 2.0),
        new("length", 1.0, 0.5, 2.0),
        new("gravity", 10.0, 8.0, 12.0),
        new("damping", 0.0, 0.0, 0.5),
    ];

    /// <summary>The pendulum's parameters (docs/tasks.md).</summary>
    public static TaskParameters ParameterSet { get; } = WithShared("pendulum", Physical, maxObsNoiseStd: 0.5);

    private double theta, thetaDot;

    public Pendulum()
        : base(new TaskSpec("pendulum", ObsDim: 3, ActDim: 1, ActLow: [(float)-MaxTorque], ActHigh: [(float)MaxTorque], MaxEpisodeSteps: 200),
               ParameterSet)
    {
    }

    /// <summary>The state (θ, θ̇); θ is not wrapped, as in Gymnasium.</summary>
    public (double Theta, double ThetaDot) State => (theta, thetaDot);

    /// <summary>Puts the pendulum in a given state (tests, and evaluation from chosen starts).</summary>
    public void SetState(double newTheta, double newThetaDot)
    {
        theta = newTheta;
        thetaDot = newThetaDot;
    }

    /// <summary>θ wrapped into [−π, π): ((θ + π) mod 2π) − π with a floored modulo, as Gymnasium's angle_normalize.</summary>
    public static double NormalizeAngle(double x) => x + Math.PI - 2 * Math.PI * Math.Floor((x + Math.PI) / (2 * Math.PI)) - Math.PI;

    protected override void ResetState(Rng rng)
    {
        theta = rng.Uniform(-Math.PI, Math.PI);
        thetaDot = rng.Uniform(-1.0, 1.0);
    }

    protected override (double Reward, bool Terminated) Advance(ReadOnlySpan<float> u)
    {
        double m = Parameter(Mass), l = Parameter(Length), g = Parameter(Gravity), b = Parameter(Damping);
        double torque = u[0];
        var th = NormalizeAngle(theta);
        // Cost on the state before the update, as Gymnasium does.
        var cost = th * th + 0.1 * thetaDot * thetaDot + 0.001 * torque * torque;
        var newThetaDot = thetaDot + (3 * g / (2 * l) * Math.Sin(theta) + 3.0 / (m * l * l) * (ActuatorGain * torque - b * thetaDot)) * Dt;
        newThetaDot = Math.Clamp(newThetaDot, -MaxSpeed, MaxSpeed);
        theta += newThetaDot * Dt;
        thetaDot = newThetaDot;
        return (-cost, false);
    }

    protected override void Observe(Span<float> obs)
    {
        obs[0] = (float)Math.Cos(theta);
        obs[1] = (float)Math.Sin(theta);
        obs[2] = (float)thetaDot;
    }
}
