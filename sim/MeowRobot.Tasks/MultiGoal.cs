using MeowRobot.Bridge.Sim;

namespace MeowRobot.Tasks;

/// <summary>
/// A 2-D point mass among goals (docs/tasks.md): a multi-modal optimum, so a maximum-entropy policy should keep every
/// goal. obs = position; action = displacement in [−1, 1]². The layout (<see cref="MultiGoalLayout"/>) is Haarnoja et al.'s
/// four goals (task <c>multigoal</c>, MEow's toy experiment) by default, or the S2AC paper's three
/// (<c>multigoal-maxent</c>).
/// </summary>
public sealed class MultiGoal : SimTask
{
    public const double Bound = 7.0;
    public const double GoalReward = 10.0;
    public const double ActionCost = 30.0;

    /// <summary>Only the shared parameters: the point mass has no physics to randomise.</summary>
    public static TaskParameters ParameterSetFor(string task) => WithShared(task, [], maxObsNoiseStd: 1.0);

    private double x, y;

    public MultiGoal()
        : this(MultiGoalLayout.Haarnoja)
    {
    }

    public MultiGoal(MultiGoalLayout layout)
        : base(new TaskSpec((layout ?? throw new ArgumentNullException(nameof(layout))).Name, ObsDim: 2, ActDim: 2, ActLow: [-1f, -1f], ActHigh: [1f, 1f],
               MaxEpisodeSteps: layout.EpisodeSteps), ParameterSetFor(layout.Name))
    {
        Layout = layout;
    }

    public MultiGoalLayout Layout { get; }

    public (double X, double Y) Position => (x, y);

    public void SetPosition(double newX, double newY)
    {
        x = newX;
        y = newY;
    }

    protected override void ResetState(Rng rng)
    {
        if (Layout.StartStd == 0)
        {
            (x, y) = (0, 0); // no draw: the start is exact, not a zero-width distribution
            return;
        }
        x = Math.Clamp(Layout.StartStd * rng.NextNormal(), -Bound, Bound);
        y = Math.Clamp(Layout.StartStd * rng.NextNormal(), -Bound, Bound);
    }

    protected override (double Reward, bool Terminated) Advance(ReadOnlySpan<float> u)
    {
        double ax = u[0], ay = u[1], gain = ActuatorGain;
        x = Math.Clamp(x + gain * ax, -Bound, Bound);
        y = Math.Clamp(y + gain * ay, -Bound, Bound);
        var (_, nearest) = Layout.Nearest(x, y);
        var reward = -ActionCost * (ax * ax + ay * ay) - nearest;
        var reached = Math.Sqrt(nearest) < Layout.GoalRadius;
        return (reached ? reward + GoalReward : reward, reached);
    }

    protected override void Observe(Span<float> obs)
    {
        obs[0] = (float)x;
        obs[1] = (float)y;
    }
}
