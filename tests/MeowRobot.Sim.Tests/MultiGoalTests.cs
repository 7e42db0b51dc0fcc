using MeowRobot.Tasks;

namespace MeowRobot.Sim.Tests;

/// <summary>Expected values by hand from s' = clip(s + clip(a, ±1), ±7), r = −30‖a‖² − min_g ‖s' − g‖² (+10 at a goal).</summary>
public class MultiGoalTests
{
    private static (float Reward, bool Terminated, float[] Obs) StepFrom(double x, double y, float ax, float ay)
    {
        var t = new MultiGoal();
        var obs = new float[2];
        t.Reset(0, obs);
        t.SetPosition(x, y);
        var (r, term) = t.Step([ax, ay], obs);
        return (r, term, obs);
    }

    [Fact]
    public void Reward_is_action_cost_plus_squared_distance_to_the_nearest_goal()
    {
        // s' = (1, 0); nearest goal (5, 0) at squared distance 16; r = −30·1 − 16 = −46
        var (r, term, obs) = StepFrom(0, 0, 1f, 0f);
        Assert.Equal(-46f, r, 1e-5f);
        Assert.False(term);
        Assert.Equal([1f, 0f], obs);
    }

    [Fact]
    public void Reaching_a_goal_terminates_with_the_bonus()
    {
        // s' = (0, −4.5) + (0, −0.5) = (0, −5): distance 0 < 1; r = −30·0.25 − 0 + 10 = 2.5
        var (r, term, _) = StepFrom(0, -4.5, 0f, -0.5f);
        Assert.Equal(2.5f, r, 1e-5f);
        Assert.True(term);
    }

    [Fact]
    public void Actions_and_positions_are_clipped()
    {
        // a = (3, −2) → (1, −1); s' = clip((7.5, −1)) = (7, −1); nearest (5, 0): 4 + 1 = 5; r = −30·2 − 5 = −65
        var (r, term, obs) = StepFrom(6.5, 0, 3f, -2f);
        Assert.Equal(-65f, r, 1e-5f);
        Assert.False(term);
        Assert.Equal([7f, -1f], obs);
    }

    [Fact]
    public void Reset_is_near_the_origin_with_std_0_1()
    {
        var t = new MultiGoal();
        var obs = new float[2];
        var xs = new List<double>();
        for (var seed = 0; seed < 2000; seed++)
        {
            t.Reset(seed, obs);
            xs.Add(obs[0]);
            xs.Add(obs[1]);
        }
        Assert.Equal(0.0, xs.Average(), 0.01);
        Assert.Equal(0.1, Math.Sqrt(xs.Select(v => v * v).Average()), 0.005);
    }
}
