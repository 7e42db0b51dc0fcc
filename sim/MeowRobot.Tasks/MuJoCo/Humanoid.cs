namespace MeowRobot.Tasks.MuJoCo;

/// <summary>
/// Humanoid-v4: observation [qpos[2:], qvel, cinert, cvel, qfrc_actuator, cfrc_ext] (376, every body including the
/// world, as v4 does), reward = 1.25 · x velocity of the centre of mass + 5 (healthy) − 0.1·‖u‖² (v4 computes a contact
/// cost but does not subtract it), terminated when the torso height leaves (1.0, 2.0). As in Gymnasium v4 on MuJoCo ≥ 2,
/// cfrc_ext is read after mj_step without mj_rnePostConstraint, so those 84 entries are zero. docs/tasks.md.
/// </summary>
public sealed class Humanoid : MuJoCoTask
{
    public Humanoid(string mjcfPath) : base(MjSimulation.Load(mjcfPath), "humanoid", 376, 17, 5, 1000)
    {
        var dim = (Sim.Nq - 2) + Sim.Nv + Sim.NBody * (10 + 6 + 6) + Sim.Nv;
        if (dim != 376) throw new MuJoCoException($"humanoid: model {mjcfPath} gives an observation of {dim}, expected 376");
    }

    protected override void ResetModel(Rng rng) => ResetWithNoise(rng, 1e-2, 1e-2, normalQvel: false);

    protected override (double Reward, bool Terminated) StepModel(ReadOnlySpan<float> u)
    {
        var xBefore = MassCenterX();
        Simulate(u);
        var xVelocity = (MassCenterX() - xBefore) / Dt;
        var reward = 1.25 * xVelocity + 5.0 - 0.1 * SumOfSquares(u);
        var z = Sim.Qpos[2];
        return (reward, !(1.0 < z && z < 2.0));
    }

    /// <summary>x of the centre of mass: Σ mass·xipos / Σ mass.</summary>
    internal double MassCenterX()
    {
        var mass = Sim.BodyMass;
        var xipos = Sim.Xipos;
        double total = 0, moment = 0;
        for (var b = 0; b < mass.Length; b++)
        {
            total += mass[b];
            moment += mass[b] * xipos[3 * b];
        }
        return moment / total;
    }

    protected override void Observe(Span<float> obs)
    {
        var k = 0;
        var qpos = Sim.Qpos;
        for (var i = 2; i < qpos.Length; i++) obs[k++] = (float)qpos[i];
        k = Append(obs, k, Sim.Qvel);
        k = Append(obs, k, Sim.Cinert);
        k = Append(obs, k, Sim.Cvel);
        k = Append(obs, k, Sim.QfrcActuator);
        Append(obs, k, Sim.CfrcExt);
    }

    private static int Append(Span<float> obs, int k, ReadOnlySpan<double> values)
    {
        foreach (var v in values) obs[k++] = (float)v;
        return k;
    }
}
