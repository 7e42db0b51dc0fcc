namespace MeowRobot.Tasks.MuJoCo;

/// <summary>
/// Ant-v4 with its defaults (use_contact_forces = false): observation [qpos[2:], qvel] (27), reward = torso x velocity
/// + 1 (healthy) − 0.5·‖u‖², no contact cost (v4 adds it only with use_contact_forces), terminated when the state is not
/// finite or the torso height leaves [0.2, 1.0]. docs/tasks.md.
/// </summary>
public sealed class Ant : MuJoCoTask
{
    private readonly int torso;

    public Ant(string mjcfPath) : base(MjSimulation.Load(mjcfPath), "ant", 27, 8, 5, 1000)
    {
        torso = Sim.BodyId("torso");
    }

    protected override void ResetModel(Rng rng) => ResetWithNoise(rng, 0.1, 0.1, normalQvel: true);

    protected override (double Reward, bool Terminated) StepModel(ReadOnlySpan<float> u)
    {
        var xBefore = Sim.Xpos[3 * torso];
        Simulate(u);
        var xVelocity = (Sim.Xpos[3 * torso] - xBefore) / Dt;
        var reward = xVelocity + 1.0 - 0.5 * SumOfSquares(u);
        return (reward, !IsHealthy());
    }

    internal bool IsHealthy()
    {
        foreach (var q in Sim.Qpos) if (!double.IsFinite(q)) return false;
        foreach (var v in Sim.Qvel) if (!double.IsFinite(v)) return false;
        var z = Sim.Qpos[2];
        return z >= 0.2 && z <= 1.0;
    }

    protected override void Observe(Span<float> obs)
    {
        var k = 0;
        var qpos = Sim.Qpos;
        for (var i = 2; i < qpos.Length; i++) obs[k++] = (float)qpos[i];
        foreach (var v in Sim.Qvel) obs[k++] = (float)v;
    }
}
