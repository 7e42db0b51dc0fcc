namespace MeowRobot.Tasks.MuJoCo;

/// <summary>InvertedPendulum-v4: observation [qpos, qvel] (4), reward 1 per step, terminated when the observation is not
/// finite or the pole angle |qpos[1]| exceeds 0.2. docs/tasks.md.</summary>
public sealed class InvertedPendulum : MuJoCoTask
{
    public InvertedPendulum(string mjcfPath) : base(MjSimulation.Load(mjcfPath), "inverted_pendulum", 4, 1, 2, 1000) { }

    protected override void ResetModel(Rng rng) => ResetWithNoise(rng, 0.01, 0.01, normalQvel: false);

    protected override (double Reward, bool Terminated) StepModel(ReadOnlySpan<float> u)
    {
        Simulate(u);
        var finite = double.IsFinite(Sim.Qpos[0]) && double.IsFinite(Sim.Qpos[1]) && double.IsFinite(Sim.Qvel[0]) && double.IsFinite(Sim.Qvel[1]);
        return (1.0, !finite || Math.Abs(Sim.Qpos[1]) > 0.2);
    }

    protected override void Observe(Span<float> obs)
    {
        obs[0] = (float)Sim.Qpos[0];
        obs[1] = (float)Sim.Qpos[1];
        obs[2] = (float)Sim.Qvel[0];
        obs[3] = (float)Sim.Qvel[1];
    }
}
