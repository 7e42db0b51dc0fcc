namespace MeowRobot.Tasks.MuJoCo;

/// <summary>
/// Gymnasium v4's planar runners (Hopper-v4, Walker2d-v4, HalfCheetah-v4): the root's x is excluded from the observation
/// [qpos[1:], qvel] (velocities clipped to ±10 where v4 does), the reward is forward progress + healthy reward − control
/// cost, and the episode ends when the body leaves its healthy ranges (never, for the cheetah). docs/tasks.md.
/// </summary>
public sealed class PlanarRunner : MuJoCoTask
{
    /// <summary>One task's constants, as in Gymnasium v4's defaults.</summary>
    public sealed record Definition(
        string Name,
        int ObsDim,
        int ActDim,
        int FrameSkip,
        double CtrlCostWeight,
        double HealthyReward,
        (double Min, double Max)? HealthyZ,
        (double Min, double Max)? HealthyAngle,
        (double Min, double Max)? HealthyState,
        bool ClipVelocity,
        double ResetNoise,
        bool NormalVelocityNoise,
        string[] Bodies);

    public static readonly Definition Hopper = new("hopper", 11, 3, 4, 1e-3, 1.0, (0.7, double.PositiveInfinity), (-0.2, 0.2), (-100, 100), true, 5e-3, false, ["torso", "thigh", "leg", "foot"]);
    public static readonly Definition Walker2d = new("walker2d", 17, 6, 4, 1e-3, 1.0, (0.8, 2.0), (-1.0, 1.0), null, true, 5e-3, false, ["torso", "thigh", "leg", "foot", "thigh_left", "leg_left", "foot_left"]);
    public static readonly Definition HalfCheetah = new("half_cheetah", 17, 6, 5, 0.1, 0.0, null, null, null, false, 0.1, true, ["torso", "bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"]);

    private readonly Definition def;

    public PlanarRunner(Definition definition, string mjcfPath)
        : base(MjSimulation.Load(mjcfPath), definition.Name, definition.ObsDim, definition.ActDim, definition.FrameSkip, 1000)
    {
        def = definition;
        if (Sim.Nq + Sim.Nv - 1 != def.ObsDim)
            throw new MuJoCoException($"{def.Name}: model {mjcfPath} has nq={Sim.Nq}, nv={Sim.Nv}; expected an observation of {def.ObsDim}");
        // Walker2d and HalfCheetah have the same sizes (17, 6): the bodies tell one model from the other.
        var missing = def.Bodies.Where(b => !Sim.HasBody(b)).ToArray();
        if (missing.Length > 0)
            throw new MuJoCoException($"{def.Name}: model {mjcfPath} has no {string.Join(", ", missing.Select(b => $"'{b}'"))} bod{(missing.Length == 1 ? "y" : "ies")} ({def.Name} has {string.Join(", ", def.Bodies)}): is it another task's model?");
    }

    protected override void ResetModel(Rng rng) => ResetWithNoise(rng, def.ResetNoise, def.ResetNoise, def.NormalVelocityNoise);

    protected override (double Reward, bool Terminated) StepModel(ReadOnlySpan<float> u)
    {
        var xBefore = Sim.Qpos[0];
        Simulate(u);
        var xVelocity = (Sim.Qpos[0] - xBefore) / Dt;
        var healthy = IsHealthy();
        // v4 pays the healthy reward on every step when unhealthy states terminate the episode (its default).
        var reward = xVelocity + def.HealthyReward - def.CtrlCostWeight * SumOfSquares(u);
        return (reward, !healthy);
    }

    /// <summary>v4's <c>is_healthy</c>: z = qpos[1] and angle = qpos[2] inside open ranges, and (Hopper) every entry of
    /// state_vector()[2:] inside the state range.</summary>
    internal bool IsHealthy()
    {
        var qpos = Sim.Qpos;
        if (def.HealthyZ is { } z && !(z.Min < qpos[1] && qpos[1] < z.Max)) return false;
        if (def.HealthyAngle is { } a && !(a.Min < qpos[2] && qpos[2] < a.Max)) return false;
        if (def.HealthyState is { } s)
        {
            for (var i = 2; i < qpos.Length; i++) if (!(s.Min < qpos[i] && qpos[i] < s.Max)) return false;
            foreach (var v in Sim.Qvel) if (!(s.Min < v && v < s.Max)) return false;
        }
        return true;
    }

    protected override void Observe(Span<float> obs)
    {
        var qpos = Sim.Qpos;
        var k = 0;
        for (var i = 1; i < qpos.Length; i++) obs[k++] = (float)qpos[i];
        foreach (var v in Sim.Qvel) obs[k++] = (float)(def.ClipVelocity ? Math.Clamp(v, -10, 10) : v);
    }
}
