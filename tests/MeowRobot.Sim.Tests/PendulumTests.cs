using MeowRobot.Tasks;

namespace MeowRobot.Sim.Tests;

/// <summary>Expected values are worked out by hand from Gymnasium's Pendulum-v1 equations (see each comment).</summary>
public class PendulumTests
{
    private static (float Reward, float[] Obs, Pendulum P) StepFrom(double theta, double thetaDot, float u, Action<Pendulum>? setup = null)
    {
        var p = new Pendulum();
        setup?.Invoke(p);
        var obs = new float[3];
        p.Reset(0, obs);
        p.SetState(theta, thetaDot);
        var (r, term) = p.Step([u], obs);
        Assert.False(term);
        return (r, obs, p);
    }

    [Fact]
    public void Upright_push_follows_gymnasium_update_order()
    {
        // cost = 0 + 0 + 0.001·2² = 0.004; θ̇' = 0 + (15·sin 0 + 3·2)·0.05 = 0.3; θ' = 0 + 0.3·0.05 = 0.015
        var (r, obs, p) = StepFrom(0, 0, 2f);
        Assert.Equal(-0.004f, r, 1e-6f);
        Assert.Equal(0.3, p.State.ThetaDot, 1e-12);
        Assert.Equal(0.015, p.State.Theta, 1e-12);
        Assert.Equal([(float)Math.Cos(0.015), (float)Math.Sin(0.015), 0.3f], obs);
    }

    [Fact]
    public void Cost_is_on_the_state_before_the_update_and_the_angle_is_wrapped()
    {
        // θ = 3π/2 wraps to −π/2: cost = (π/2)² = 2.4674011, not (3π/2)²; θ̇' = (15·sin(3π/2))·0.05 = −0.75
        var (r, _, p) = StepFrom(3 * Math.PI / 2, 0, 0f);
        Assert.Equal(-2.4674011f, r, 1e-5f);
        Assert.Equal(-0.75, p.State.ThetaDot, 1e-12);
        Assert.Equal(3 * Math.PI / 2 - 0.0375, p.State.Theta, 1e-12);
    }

    [Fact]
    public void Speed_is_clipped_before_the_angle_moves_and_torque_beyond_the_limit_is_clipped()
    {
        // u = 5 → 2; cost = (π/2)² + 0.1·7.9² + 0.001·4 = 2.4674011 + 6.241 + 0.004 = 8.7124011
        // θ̇' = 7.9 + (15 + 6)·0.05 = 8.95 → 8; θ' = π/2 + 8·0.05 = π/2 + 0.4
        var (r, _, p) = StepFrom(Math.PI / 2, 7.9, 5f);
        Assert.Equal(-8.7124011f, r, 1e-5f);
        Assert.Equal(8.0, p.State.ThetaDot, 1e-12);
        Assert.Equal(Math.PI / 2 + 0.4, p.State.Theta, 1e-12);
    }

    [Fact]
    public void Mass_length_damping_and_gain_enter_the_dynamics()
    {
        // m 2, l 0.5, b 0.5, gain 1.5, θ = π/2, θ̇ = 1, u = 1:
        // θ̇' = 1 + (3·10/(2·0.5)·1 + 3/(2·0.25)·(1.5·1 − 0.5·1))·0.05 = 1 + (30 + 6)·0.05 = 2.8
        var (_, _, p) = StepFrom(Math.PI / 2, 1, 1f, q =>
        {
            q.SetParameter("mass", 2);
            q.SetParameter("length", 0.5);
            q.SetParameter("damping", 0.5);
            q.SetParameter("actuator_gain", 1.5);
        });
        Assert.Equal(2.8, p.State.ThetaDot, 1e-12);
    }

    [Fact]
    public void Action_delay_applies_each_command_that_many_steps_later()
    {
        var p = new Pendulum();
        p.SetParameter("action_delay", 2);
        var obs = new float[3];
        p.Reset(1, obs);
        p.SetState(0, 0);
        // Upright and at rest, only torque moves it: zero for two steps, then the first command (2 → θ̇ = 0.3).
        var (r1, _) = p.Step([2f], obs);
        Assert.Equal(0.0, p.State.ThetaDot);
        p.Step([-2f], obs);
        Assert.Equal(0.0, p.State.ThetaDot);
        var (r3, _) = p.Step([0f], obs);
        Assert.Equal(0.3, p.State.ThetaDot, 1e-12);
        Assert.Equal(0f, r1); // cost uses the torque actually applied (0), not the command sent
        Assert.Equal(-0.004f, r3, 1e-6f);
    }

    [Fact]
    public void Reset_draws_theta_in_pi_and_speed_in_one_and_is_reproducible_per_seed()
    {
        var p = new Pendulum();
        var a = new float[3];
        var b = new float[3];
        var thetas = new List<double>();
        for (var seed = 0; seed < 500; seed++)
        {
            p.Reset(seed, a);
            thetas.Add(p.State.Theta);
            Assert.InRange(p.State.Theta, -Math.PI, Math.PI);
            Assert.InRange(p.State.ThetaDot, -1, 1);
            Assert.Equal((float)Math.Cos(p.State.Theta), a[0]);
            p.Reset(seed, b);
            Assert.Equal(a, b);
        }
        Assert.True(thetas.Min() < -2.5 && thetas.Max() > 2.5, "θ should cover [−π, π]");
        Assert.Equal(500, thetas.Distinct().Count());
    }

    [Fact]
    public void Observation_noise_has_the_set_std_and_is_reproducible()
    {
        var clean = new Pendulum();
        var noisy = new Pendulum();
        noisy.SetParameter("obs_noise_std", 0.2);
        var c = new float[3];
        var n = new float[3];
        var diffs = new List<double>();
        for (var seed = 0; seed < 2000; seed++)
        {
            clean.Reset(seed, c);
            noisy.Reset(seed, n);
            Assert.Equal(clean.State, noisy.State); // noise does not disturb the state stream
            diffs.AddRange(c.Zip(n, (x, y) => (double)y - x));
        }
        Assert.Equal(0.0, diffs.Average(), 0.01);
        Assert.Equal(0.2, Math.Sqrt(diffs.Select(d => d * d).Average()), 0.01);
        noisy.Reset(5, n);
        var again = new float[3];
        noisy.Reset(5, again);
        Assert.Equal(n, again);
    }

    [Fact]
    public void Parameters_are_validated()
    {
        var p = new Pendulum();
        Assert.Equal(["mass", "length", "gravity", "damping", "actuator_gain", "obs_noise_std", "action_delay", "action_rate_limit"], p.Parameters.Select(q => q.Name));
        Assert.Throws<ArgumentOutOfRangeException>(() => p.SetParameter("mass", 2.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => p.SetParameter("mass", double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => p.SetParameter("action_delay", 1.5));
        Assert.Throws<ArgumentException>(() => p.SetParameter("colour", 1));
        Assert.Equal(1.0, p.GetParameter("mass"));
    }

    [Fact]
    public void Non_finite_actions_and_stepping_before_reset_are_rejected()
    {
        var p = new Pendulum();
        var obs = new float[3];
        Assert.Throws<InvalidOperationException>(() => p.Step([0f], obs));
        p.Reset(0, obs);
        Assert.Throws<ArgumentException>(() => p.Step([float.NaN], obs));
        Assert.Throws<ArgumentException>(() => p.Step([0f, 0f], obs));
    }
}
