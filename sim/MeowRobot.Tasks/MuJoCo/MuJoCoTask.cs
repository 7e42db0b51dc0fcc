using MeowRobot.Bridge.Sim;

namespace MeowRobot.Tasks.MuJoCo;

/// <summary>
/// What the MuJoCo tasks share on top of <see cref="SimTask"/> (action clipping, delay, actuator gain, observation noise):
/// a loaded model, Gymnasium's frame skip, and the physical randomisation parameters applied to the model itself.
/// Scales always multiply the values the MJCF file gave (kept at load), so setting a scale back to 1 restores the model
/// exactly. They take effect at the next step or reset.
/// </summary>
public abstract class MuJoCoTask : SimTask
{
    public const string BodyMassScaleName = "body_mass_scale";
    public const string FrictionScaleName = "friction_scale";
    public const string GearScaleName = "gear_scale";
    public const string JointDampingScaleName = "joint_damping_scale";

    private static readonly TaskParameter[] Physical =
    [
        new(BodyMassScaleName, 1.0, 0.25, 4.0),
        new(FrictionScaleName, 1.0, 0.25, 4.0),
        new(GearScaleName, 1.0, 0.25, 4.0),
        new(JointDampingScaleName, 1.0, 0.0, 10.0),
    ];

    private readonly double[] nominalMass, nominalInertia, nominalFriction, nominalGear, nominalDamping;
    private readonly double[] appliedScale = [1, 1, 1, 1];

    /// <summary>The parameters every MuJoCo task has (docs/tasks.md); no model is needed to know them.</summary>
    public static TaskParameters ParameterSetFor(string task) => WithShared(task, Physical, maxObsNoiseStd: 1.0);

    /// <param name="actDim">The task's actuator count: a model with another (another task's model) is refused.</param>
    protected MuJoCoTask(MjSimulation sim, string name, int obsDim, int actDim, int frameSkip, int maxEpisodeSteps)
        : base(SpecOf(sim, name, obsDim, actDim, maxEpisodeSteps), ParameterSetFor(name))
    {
        Sim = sim;
        FrameSkip = frameSkip;
        InitQpos = sim.Qpos0.ToArray();
        nominalMass = sim.BodyMass.ToArray();
        nominalInertia = sim.BodyInertia.ToArray();
        nominalFriction = sim.GeomFriction.ToArray();
        nominalGear = sim.ActuatorGear.ToArray();
        nominalDamping = sim.DofDamping.ToArray();
    }

    protected internal MjSimulation Sim { get; }
    protected int FrameSkip { get; }
    /// <summary>Gymnasium's <c>init_qpos</c> (the model's qpos0); <c>init_qvel</c> is zero.</summary>
    protected double[] InitQpos { get; }
    /// <summary>Time covered by one env step (Gymnasium's <c>dt</c>).</summary>
    protected double Dt => Sim.Timestep * FrameSkip;

    protected sealed override void ResetState(Rng rng)
    {
        ApplyScales();
        Sim.Reset();
        ResetModel(rng);
        Sim.Forward();
    }

    protected sealed override (double Reward, bool Terminated) Advance(ReadOnlySpan<float> u)
    {
        ApplyScales();
        return StepModel(u);
    }

    /// <summary>Writes the new episode's qpos/qvel (Gymnasium's <c>reset_model</c> noise) into <see cref="Sim"/>.</summary>
    protected abstract void ResetModel(Rng rng);

    /// <summary>Computes reward and termination around <see cref="Simulate"/> as the Gymnasium v4 task does.</summary>
    protected abstract (double Reward, bool Terminated) StepModel(ReadOnlySpan<float> u);

    /// <summary>Gymnasium's <c>do_simulation</c>: hold the controls for the frame skip.</summary>
    protected void Simulate(ReadOnlySpan<float> u)
    {
        var ctrl = Sim.Ctrl;
        for (var i = 0; i < u.Length; i++) ctrl[i] = u[i] * ActuatorGain;
        Sim.Step(FrameSkip);
    }

    protected static double SumOfSquares(ReadOnlySpan<float> u)
    {
        double s = 0;
        foreach (var x in u) s += (double)x * x;
        return s;
    }

    /// <summary>qpos = init_qpos + U(±<paramref name="qposNoise"/>); qvel = U(±<paramref name="qvelNoise"/>) or, with
    /// <paramref name="normalQvel"/>, <paramref name="qvelNoise"/>·N(0, 1). The draw order is Gymnasium's: qpos then qvel.</summary>
    protected void ResetWithNoise(Rng rng, double qposNoise, double qvelNoise, bool normalQvel)
    {
        var qpos = Sim.Qpos;
        for (var i = 0; i < qpos.Length; i++) qpos[i] = InitQpos[i] + rng.Uniform(-qposNoise, qposNoise);
        var qvel = Sim.Qvel;
        for (var i = 0; i < qvel.Length; i++) qvel[i] = normalQvel ? qvelNoise * rng.NextNormal() : rng.Uniform(-qvelNoise, qvelNoise);
    }

    public override void Dispose()
    {
        Sim.Dispose();
        base.Dispose();
    }

    private void ApplyScales()
    {
        // Parameter(i) is the i-th entry of Physical; a scale is re-applied only when it changed.
        if (Changed(0)) { Scale(nominalMass, Sim.BodyMass, appliedScale[0]); Scale(nominalInertia, Sim.BodyInertia, appliedScale[0]); }
        if (Changed(1)) Scale(nominalFriction, Sim.GeomFriction, appliedScale[1]);
        if (Changed(2)) Scale(nominalGear, Sim.ActuatorGear, appliedScale[2]);
        if (Changed(3)) Scale(nominalDamping, Sim.DofDamping, appliedScale[3]);
    }

    private bool Changed(int slot)
    {
        var value = Parameter(slot);
        if (appliedScale[slot] == value) return false;
        appliedScale[slot] = value;
        return true;
    }

    private static void Scale(double[] nominal, Span<double> target, double scale)
    {
        for (var i = 0; i < target.Length; i++) target[i] = nominal[i] * scale;
    }

    private static TaskSpec SpecOf(MjSimulation sim, string name, int obsDim, int actDim, int maxEpisodeSteps)
    {
        if (sim.Nu != actDim)
        {
            sim.Dispose();
            throw new MuJoCoException($"{name}: the model has {sim.Nu} actuators, {name} has {actDim}: is it another task's model?");
        }
        var low = new float[sim.Nu];
        var high = new float[sim.Nu];
        var range = sim.ActuatorCtrlRange;
        for (var i = 0; i < sim.Nu; i++)
        {
            if (!sim.ActuatorCtrlLimited(i))
                throw new MuJoCoException($"{name}: actuator {i} has no ctrlrange; the tasks need bounded actions");
            low[i] = (float)range[2 * i];
            high[i] = (float)range[2 * i + 1];
        }
        return new TaskSpec(name, obsDim, sim.Nu, low, high, maxEpisodeSteps);
    }
}
