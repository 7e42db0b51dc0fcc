using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;

namespace MeowRobot.Sim.Tests;

public class LocalVectorEnvTests
{
    [Fact]
    public void Env_i_starts_from_base_seed_plus_i_and_matches_a_single_task()
    {
        using var env = new LocalVectorEnv(() => new Pendulum(), 3, baseSeed: 40);
        var batch = new VectorBatch(3, 3);
        env.Reset(batch);
        for (var i = 0; i < 3; i++)
        {
            using var single = new Pendulum();
            var obs = new float[3];
            single.Reset(40 + i, obs);
            Assert.Equal(obs, batch.ObsRow(i).ToArray());
        }
    }

    [Fact]
    public void Truncates_at_the_horizon_resets_in_the_same_step_and_fills_final_obs()
    {
        using var env = new LocalVectorEnv(() => new Pendulum(), 2);
        using var reference = new Pendulum();
        var batch = new VectorBatch(2, 3);
        var refObs = new float[3];
        env.Reset(batch, seeds: [9, 10]);
        reference.Reset(9, refObs);
        var actions = new float[] { 0.5f, -0.5f };
        for (var t = 1; t <= 200; t++)
        {
            env.Step(actions, batch);
            var (r, _) = reference.Step([0.5f], refObs);
            Assert.Equal(r, batch.Reward[0]);
            Assert.Equal(0, batch.Terminated[0]);
            Assert.Equal(t == 200 ? 1 : 0, batch.Truncated[0]);
            Assert.Equal(t == 200 ? 1 : 0, batch.Truncated[1]);
        }
        // Step 200 ended both episodes: final_obs is the reference's last observation, obs a fresh episode's (its
        // stream continued from seed 9, so it matches the reference's next unseeded reset).
        Assert.Equal(refObs, batch.FinalObsRow(0).ToArray());
        reference.Reset(null, refObs);
        Assert.Equal(refObs, batch.ObsRow(0).ToArray());
        env.Step(actions, batch);
        Assert.Equal(0, batch.Truncated[0]); // the step counter restarted
    }

    [Fact]
    public void Termination_resets_only_that_env()
    {
        using var env = new LocalVectorEnv(() => new MultiGoal(), 2, baseSeed: 1);
        var batch = new VectorBatch(2, 2);
        env.Reset(batch);
        // Push env 0 right by 0.9 a step from near the origin (|s0| ≪ 0.4): 3.6 after 4 steps (not within 1 of (5, 0)),
        // 4.5 after 5 (within 1): terminal. Env 1 stays put.
        for (var t = 0; t < 4; t++)
        {
            env.Step([0.9f, 0f, 0f, 0f], batch);
            Assert.Equal([0, 0], batch.Terminated);
        }
        env.Step([0.9f, 0f, 0f, 0f], batch);
        Assert.Equal([1, 0], batch.Terminated);
        Assert.Equal([0, 0], batch.Truncated);
        Assert.InRange(batch.FinalObs[0], 4.1f, 4.9f);
        Assert.InRange(batch.Obs[0], -0.5f, 0.5f); // a new episode near the origin
        // r = −30·0.81 − d² + 10 with d² = (5 − x)² + y² ≤ 0.9² + 0.4²
        Assert.InRange(batch.Reward[0], -14.3f - 0.97f, -14.3f - 0.01f);
    }

    [Fact]
    public void Parameters_apply_to_every_env_all_or_nothing()
    {
        using var env = new LocalVectorEnv(() => new Pendulum(), 2);
        var batch = new VectorBatch(2, 3);
        env.Reset(batch, parameters: new Dictionary<string, double> { ["mass"] = 1.5 });
        Assert.Equal(1.5, env.GetParameter("mass"));
        Assert.Throws<ArgumentException>(() => env.SetParameters(new Dictionary<string, double> { ["length"] = 0.7, ["mass"] = 9 }));
        Assert.Equal(1.0, env.GetParameter("length")); // nothing applied
        Assert.Throws<InvalidOperationException>(() => new LocalVectorEnv(() => new Pendulum(), 1).Step([0f], new VectorBatch(1, 3)));
    }

    [Fact]
    public void A_non_finite_action_anywhere_leaves_every_env_unstepped()
    {
        using var env = new LocalVectorEnv(() => new Pendulum(), 2);
        var batch = new VectorBatch(2, 3);
        env.Reset(batch, seeds: [1, 2]);
        var before = batch.Obs.ToArray();
        Assert.Throws<ArgumentException>(() => env.Step([1f, float.PositiveInfinity], batch));
        env.Step([0f, 0f], batch);
        using var reference = new Pendulum();
        var obs = new float[3];
        reference.Reset(1, obs);
        Assert.Equal(before[..3], obs);
        reference.Step([0f], obs); // env 0 took exactly one step, the zero-torque one
        Assert.Equal(obs, batch.ObsRow(0).ToArray());
    }
}
