using MeowRobot.Bridge.Sim;

namespace MeowRobot.Tasks;

/// <summary>
/// Continuous cart-pole swing-up (docs/tasks.md has the equations): the pole starts hanging down and must be swung up
/// and balanced while the cart stays on a ±2.4 m track. θ = 0 is upright; obs [x, ẋ, cos θ, sin θ, θ̇]; the command
/// u ∈ [−1, 1] pushes the cart with u·10 N (times the actuator gain); 500 steps of 0.02 s.
/// </summary>
public sealed class CartPoleSwingUp : SimTask
{
    public const double Dt = 0.02;
    public const double MaxForce = 10.0;
    public const double TrackLimit = 2.4;
    public const double OffTrackPenalty = 10.0;

    private const int CartMass = 0, PoleMass = 1, PoleHalfLength = 2, CartDamping = 3, PoleDamping = 4, Gravity = 5;

    private static readonly TaskParameter[] Physical =
    [
        new("cart_mass", 1.0, 0.5, 2.0),
        new("pole_mass", 0.1, 0.05, 0.5),
        new("pole_half_length", 0.5, 0.25, 1.0),
        new("cart_damping", 0.0, 0.0, 1.0),
        new("pole_damping", 0.0, 0.0, 0.05),
        new("gravity", 9.8, 8.0, 12.0),
    ];

    /// <summary>The cart-pole's parameters (docs/tasks.md).</summary>
    public static TaskParameters ParameterSet { get; } = WithShared("cartpole", Physical, maxObsNoiseStd: 0.2);

    private double x, xDot, theta, thetaDot;

    public CartPoleSwingUp()
        : base(new TaskSpec("cartpole", ObsDim: 5, ActDim: 1, ActLow: [-1f], ActHigh: [1f], MaxEpisodeSteps: 500),
               ParameterSet)
    {
    }

    public (double X, double XDot, double Theta, double ThetaDot) State => (x, xDot, theta, thetaDot);

    public void SetState(double newX, double newXDot, double newTheta, double newThetaDot) =>
        (x, xDot, theta, thetaDot) = (newX, newXDot, newTheta, newThetaDot);

    protected override void ResetState(Rng rng)
    {
        x = rng.Uniform(-0.05, 0.05);
        xDot = rng.Uniform(-0.05, 0.05);
        theta = Math.PI + rng.Uniform(-0.05, 0.05);
        thetaDot = rng.Uniform(-0.05, 0.05);
    }

    protected override (double Reward, bool Terminated) Advance(ReadOnlySpan<float> u)
    {
        double mc = Parameter(CartMass), mp = Parameter(PoleMass), l = Parameter(PoleHalfLength);
        double bc = Parameter(CartDamping), bp = Parameter(PoleDamping), g = Parameter(Gravity);
        double command = u[0];
        var force = ActuatorGain * MaxForce * command - bc * xDot;
        var total = mc + mp;
        var poleMassLength = mp * l;
        double sin = Math.Sin(theta), cos = Math.Cos(theta);
        var temp = (force + poleMassLength * thetaDot * thetaDot * sin) / total;
        var thetaAcc = (g * sin - cos * temp - bp * thetaDot / poleMassLength) / (l * (4.0 / 3.0 - mp * cos * cos / total));
        var xAcc = temp - poleMassLength * thetaAcc * cos / total;
        // Semi-implicit Euler: velocities first, positions from the new velocities (keeps the swing's energy bounded).
        xDot += Dt * xAcc;
        x += Dt * xDot;
        thetaDot += Dt * thetaAcc;
        theta += Dt * thetaDot;
        var reward = (1 + Math.Cos(theta)) / 2 - 0.01 * command * command - 0.01 * x * x;
        var offTrack = Math.Abs(x) > TrackLimit;
        return (offTrack ? reward - OffTrackPenalty : reward, offTrack);
    }

    protected override void Observe(Span<float> obs)
    {
        obs[0] = (float)x;
        obs[1] = (float)xDot;
        obs[2] = (float)Math.Cos(theta);
        obs[3] = (float)Math.Sin(theta);
        obs[4] = (float)thetaDot;
    }
}
