using MeowRobot.Tasks;

namespace MeowRobot.Sim.Tests;

/// <summary>Expected values from the equations in docs/tasks.md, evaluated independently (Python, double precision).</summary>
public class CartPoleSwingUpTests
{
    private static (float Reward, bool Terminated, CartPoleSwingUp Task) StepFrom(double x, double xDot, double theta, double thetaDot, float u)
    {
        var t = new CartPoleSwingUp();
        var obs = new float[5];
        t.Reset(0, obs);
        t.SetState(x, xDot, theta, thetaDot);
        var (r, term) = t.Step([u], obs);
        Assert.Equal([(float)t.State.X, (float)t.State.XDot, (float)Math.Cos(t.State.Theta), (float)Math.Sin(t.State.Theta), (float)t.State.ThetaDot], obs);
        return (r, term, t);
    }

    [Fact]
    public void Full_push_from_upright_rest()
    {
        // F = 10, M = 1.1: temp = 9.0909; θ̈ = −temp / (0.5·(4/3 − 0.1/1.1)) = −14.634146; ẍ = temp − 0.05·θ̈/1.1 = 9.756098
        var (r, term, t) = StepFrom(0, 0, 0, 0, 1f);
        Assert.False(term);
        Assert.Equal(0.1951219512195122, t.State.XDot, 1e-12);
        Assert.Equal(0.0039024390243902443, t.State.X, 1e-12);
        Assert.Equal(-0.2926829268292683, t.State.ThetaDot, 1e-12);
        Assert.Equal(-0.005853658536585366, t.State.Theta, 1e-12);
        Assert.Equal(0.9899912814045916f, r, 1e-6f);
    }

    [Fact]
    public void Pole_falls_from_horizontal_under_gravity()
    {
        // θ = π/2: θ̈ = 9.8 / (0.5·4/3) = 14.7 → θ̇' = 0.294, θ' = π/2 + 0.00588; r = (1 + cos θ')/2
        var (r, _, t) = StepFrom(0, 0, Math.PI / 2, 0, 0f);
        Assert.Equal(0.294, t.State.ThetaDot, 1e-12);
        Assert.Equal(Math.PI / 2 + 0.00588, t.State.Theta, 1e-12);
        Assert.Equal(0.4970600169414267f, r, 1e-6f);
    }

    [Fact]
    public void Leaving_the_track_terminates_with_the_penalty()
    {
        // x' = 2.39 + 0.02·2 = 2.43 > 2.4; r = 1 − 0.01·2.43² − 10 = −9.059049
        var (r, term, _) = StepFrom(2.39, 2, 0, 0, 0f);
        Assert.True(term);
        Assert.Equal(-9.059049f, r, 1e-5f);
    }

    [Fact]
    public void Episodes_start_hanging_down()
    {
        var t = new CartPoleSwingUp();
        var obs = new float[5];
        for (var seed = 0; seed < 100; seed++)
        {
            t.Reset(seed, obs);
            Assert.InRange(t.State.Theta, Math.PI - 0.05, Math.PI + 0.05);
            Assert.InRange(obs[2], -1f, -0.99f);
        }
    }
}
