using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;

namespace MeowRobot.Sim.Tests;

/// <summary>The S2AC paper's MultiGoal (task multigoal-maxent): goals (5, 0), (−4, 3), (−4, −3), radius 0.5, start at (0, 0)
/// exactly, 30-step episodes. Expected values by hand from s' = clip(s + clip(a, ±1), ±7), r = −30‖a‖² − min_g ‖s' − g‖²
/// (+10 on reaching a goal, which terminates).</summary>
public class MultiGoalMaxEntTests
{
    private static (float Reward, bool Terminated, float[] Obs) StepFrom(double x, double y, float ax, float ay)
    {
        var t = TaskCatalog.Create("multigoal-maxent");
        var obs = new float[2];
        t.Reset(0, obs);
        ((MultiGoal)t).SetPosition(x, y);
        var (r, term) = t.Step([ax, ay], obs);
        return (r, term, obs);
    }

    [Fact]
    public void Every_episode_starts_at_the_origin_exactly()
    {
        var t = TaskCatalog.Create("multigoal-maxent");
        var obs = new float[2];
        for (var seed = 0; seed < 200; seed++)
        {
            obs[0] = obs[1] = float.NaN;
            t.Reset(seed, obs);
            Assert.Equal([0f, 0f], obs);
        }
    }

    [Fact]
    public void The_right_goal_is_nearest_to_the_right()
    {
        // s' = (1, 0): (5, 0) at 16, (−4, ±3) at 25 + 9 = 34; r = −30·1 − 16 = −46
        var (r, term, obs) = StepFrom(0, 0, 1f, 0f);
        Assert.Equal(-46f, r, 1e-5f);
        Assert.False(term);
        Assert.Equal([1f, 0f], obs);
    }

    [Fact]
    public void The_upper_left_goal_is_nearest_up_and_left()
    {
        // s' = (−1, 0.5): (−4, 3) at 9 + 6.25 = 15.25, (−4, −3) at 21.25, (5, 0) at 36.25; r = −30·1.25 − 15.25 = −52.75
        var (r, term, _) = StepFrom(0, 0, -1f, 0.5f);
        Assert.Equal(-52.75f, r, 1e-4f);
        Assert.False(term);
    }

    [Fact]
    public void A_goal_is_reached_within_0_5_only()
    {
        // (−3.7, 2.8) is 0.36 from (−4, 3): reached; r = −0.13 + 10 = 9.87
        var (r, term, _) = StepFrom(-3.7, 2.8, 0f, 0f);
        Assert.Equal(9.87f, r, 1e-4f);
        Assert.True(term);
        // (4.4, 0) is 0.6 from (5, 0): inside the four-goal task's radius 1, not this one's; r = −0.36
        (r, term, _) = StepFrom(4.4, 0, 0f, 0f);
        Assert.Equal(-0.36f, r, 1e-4f);
        Assert.False(term);
        // The lower-left goal counts too: (−4, −3) itself, a = (0, −0.2) from (−4, −2.8); r = −30·0.04 + 10 = 8.8
        (r, term, _) = StepFrom(-4, -2.8, 0f, -0.2f);
        Assert.Equal(8.8f, r, 1e-4f);
        Assert.True(term);
    }

    [Fact]
    public void Actions_and_positions_are_clipped()
    {
        // a = (3, −2) → (1, −1); s' = clip((7.5, −7.8)) = (7, −7); (5, 0) at 4 + 49 = 53; r = −30·2 − 53 = −113
        var (r, term, obs) = StepFrom(6.5, -6.8, 3f, -2f);
        Assert.Equal(-113f, r, 1e-4f);
        Assert.False(term);
        Assert.Equal([7f, -7f], obs);
    }

    [Fact]
    public void Episodes_are_truncated_after_30_steps()
    {
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("multigoal-maxent"), 1, baseSeed: 3);
        Assert.Equal(30, env.Spec.MaxEpisodeSteps);
        var batch = new VectorBatch(1, 2);
        env.Reset(batch);
        for (var t = 1; t < 30; t++)
        {
            env.Step([0f, 0.1f], batch);
            Assert.Equal(0, batch.Truncated[0]);
        }
        env.Step([0f, 0.1f], batch);
        Assert.Equal(1, batch.Truncated[0]);
        Assert.Equal(0, batch.Terminated[0]);
        Assert.Equal(3f, batch.FinalObs[1], 1e-4f); // 30 steps of 0.1 up from the origin
        Assert.Equal([0f, 0f], batch.Obs); // the next episode starts at the origin again
    }
}
