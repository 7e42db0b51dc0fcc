using MeowRobot.Bridge.Sim;

namespace MeowRobot.Tasks;

/// <summary>
/// The 2-D point mass with four goals of Haarnoja et al. (2017), MEow's toy experiment (docs/tasks.md): a multi-modal
/// optimum, so a maximum-entropy policy should keep all four goals. obs = position; action = displacement in [−1, 1]².
/// </summary>
public sealed class MultiGoal : SimTask
{
    public const double Bound = 7.0;
    public const double GoalThreshold = 1.0;
    public const double GoalReward = 10.0;
    public const double ActionCost = 30.0;
    public const double InitStd = 0.1;

    /// <summary>The four goals (5, 0), (−5, 0), (0, 5), (0, −5).</summary>
    public static ReadOnlySpan<double> Goals => [5, 0, -5, 0, 0, 5, 0, -5];

    private double x, y;

    public MultiGoal()
        : base(new TaskSpec("multigoal", ObsDim: 2, ActDim: 2, ActLow: [-1f, -1f], ActHigh: [1f, 1f], MaxEpisodeSteps: 1000),
               [], maxObsNoiseStd: 1.0)
    {
    }

    public (double X, double Y) Position => (x, y);

    public void SetPosition(double newX, double newY)
    {
        x = newX;
        y = newY;
    }

    protected override void ResetState(Rng rng)
    {
        x = Math.Clamp(InitStd * rng.NextNormal(), -Bound, Bound);
        y = Math.Clamp(InitStd * rng.NextNormal(), -Bound, Bound);
    }

    protected override (double Reward, bool Terminated) Advance(ReadOnlySpan<float> u)
    {
        double ax = u[0], ay = u[1], gain = ActuatorGain;
        x = Math.Clamp(x + gain * ax, -Bound, Bound);
        y = Math.Clamp(y + gain * ay, -Bound, Bound);
        var nearest = double.PositiveInfinity;
        var goals = Goals;
        for (var i = 0; i < goals.Length; i += 2)
        {
            double dx = x - goals[i], dy = y - goals[i + 1];
            nearest = Math.Min(nearest, dx * dx + dy * dy);
        }
        var reward = -ActionCost * (ax * ax + ay * ay) - nearest;
        var reached = Math.Sqrt(nearest) < GoalThreshold;
        return (reached ? reward + GoalReward : reward, reached);
    }

    protected override void Observe(Span<float> obs)
    {
        obs[0] = (float)x;
        obs[1] = (float)y;
    }
}
