namespace MeowRobot.Tasks.MuJoCo;

/// <summary>
/// Reacher-v4: observation [cos θ, sin θ, target xy, θ̇, fingertip − target (xyz)] (11), reward −‖fingertip − target‖
/// − ‖u‖², computed before the step as v4 does, 50-step episodes, no termination; the target is drawn uniformly in the
/// disc of radius 0.2. docs/tasks.md.
/// </summary>
public sealed class Reacher : MuJoCoTask
{
    private readonly int fingertip, target;

    public Reacher(string mjcfPath) : base(MjSimulation.Load(mjcfPath), "reacher", 11, 2, 2, 50)
    {
        fingertip = Sim.BodyId("fingertip");
        target = Sim.BodyId("target");
    }

    protected override void ResetModel(Rng rng)
    {
        ResetWithNoise(rng, 0.1, 0.005, normalQvel: false);
        double gx, gy;
        do
        {
            gx = rng.Uniform(-0.2, 0.2);
            gy = rng.Uniform(-0.2, 0.2);
        } while (gx * gx + gy * gy >= 0.04);
        var qpos = Sim.Qpos;
        qpos[^2] = gx;
        qpos[^1] = gy;
        Sim.Qvel[^2] = 0;
        Sim.Qvel[^1] = 0;
    }

    protected override (double Reward, bool Terminated) StepModel(ReadOnlySpan<float> u)
    {
        double dist = 0;
        for (var i = 0; i < 3; i++)
        {
            var d = Sim.Xpos[3 * fingertip + i] - Sim.Xpos[3 * target + i];
            dist += d * d;
        }
        var reward = -Math.Sqrt(dist) - SumOfSquares(u);
        Simulate(u);
        return (reward, false);
    }

    protected override void Observe(Span<float> obs)
    {
        var qpos = Sim.Qpos;
        obs[0] = (float)Math.Cos(qpos[0]);
        obs[1] = (float)Math.Cos(qpos[1]);
        obs[2] = (float)Math.Sin(qpos[0]);
        obs[3] = (float)Math.Sin(qpos[1]);
        obs[4] = (float)qpos[2];
        obs[5] = (float)qpos[3];
        obs[6] = (float)Sim.Qvel[0];
        obs[7] = (float)Sim.Qvel[1];
        for (var i = 0; i < 3; i++) obs[8 + i] = (float)(Sim.Xpos[3 * fingertip + i] - Sim.Xpos[3 * target + i]);
    }
}
