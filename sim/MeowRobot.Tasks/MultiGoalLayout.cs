namespace MeowRobot.Tasks;

/// <summary>
/// Where the goals of a <see cref="MultiGoal"/> point-mass task lie and how an episode starts and ends. Dynamics and
/// reward are the same for every layout: s′ = clip(s + clip(a, ±1), ±7), r = −30‖a‖² − min_g ‖s′ − g‖², and +10 on the
/// step that comes within <see cref="GoalRadius"/> of a goal, which terminates the episode (docs/tasks.md).
/// </summary>
/// <param name="Goals">x, y of each goal, flattened.</param>
/// <param name="StartStd">Standard deviation of the start position around (0, 0); 0 starts at (0, 0) exactly.</param>
public sealed record MultiGoalLayout(string Name, double[] Goals, double GoalRadius, double StartStd, int EpisodeSteps)
{
    /// <summary>Haarnoja et al. (2017), MEow's toy experiment: four goals at distance 5, radius 1, start N(0, 0.1²),
    /// 1000-step episodes.</summary>
    public static MultiGoalLayout Haarnoja { get; } = new("multigoal", [5, 0, -5, 0, 0, 5, 0, -5], 1.0, 0.1, 1000);

    /// <summary>The S2AC paper's variant: goals (5, 0), (−4, 3), (−4, −3), radius 0.5, start at (0, 0) exactly,
    /// 30-step episodes. The two left goals together hold more entropy than the right one, so a maximum-entropy policy
    /// sends more episodes left.</summary>
    public static MultiGoalLayout MaxEnt { get; } = new("multigoal-maxent", [5, 0, -4, 3, -4, -3], 0.5, 0.0, 30);

    /// <summary>The goal nearest to (x, y) and its squared distance.</summary>
    public (int Goal, double SquaredDistance) Nearest(double x, double y)
    {
        var best = (Goal: -1, SquaredDistance: double.PositiveInfinity);
        for (var i = 0; i < Goals.Length; i += 2)
        {
            double dx = x - Goals[i], dy = y - Goals[i + 1], d = dx * dx + dy * dy;
            if (d < best.SquaredDistance) best = (i / 2, d);
        }
        return best;
    }
}
