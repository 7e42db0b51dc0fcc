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

    /// <summary>Prefixes of the per-name parameters: <c>body_mass.torso</c> (kg), <c>geom_friction.foot_geom</c> (sliding
    /// friction), <c>joint_damping.thigh_joint</c> (hinge and slide joints), <c>actuator_gear.thigh_joint</c> (an unnamed
    /// actuator goes by the joint it drives). Defaults are the model's values.</summary>
    public const string BodyMassPrefix = "body_mass.", GeomFrictionPrefix = "geom_friction.", JointDampingPrefix = "joint_damping.",
        ActuatorGearPrefix = "actuator_gear.";

    private static readonly TaskParameter[] Scales =
    [
        new(BodyMassScaleName, 1.0, 0.25, 4.0),
        new(FrictionScaleName, 1.0, 0.25, 4.0),
        new(GearScaleName, 1.0, 0.25, 4.0),
        new(JointDampingScaleName, 1.0, 0.0, 10.0),
    ];

    private enum Target { Mass, Friction, Gear, Damping }

    /// <summary>A per-name parameter: what it sets and the index (body, geom, actuator or dof) it sets it on.</summary>
    private sealed record Named(TaskParameter Parameter, Target Target, int Index);

    private readonly double[] nominalMass, nominalInertia, nominalFriction, nominalGear, nominalDamping;
    private readonly Named[] named;
    private readonly double[] applied; // the physical parameters' values when the model was last written
    private readonly double[] mass, friction, gear, damping; // per element: the named value, or the model's

    /// <summary>The parameters every MuJoCo task has (docs/tasks.md); no model is needed to know them. The per-name ones
    /// (<see cref="BodyMassPrefix"/> and the rest) depend on the model: names under their prefixes are checked once it is loaded.</summary>
    public static TaskParameters ParameterSetFor(string task) =>
        new(task, WithShared(task, Scales, maxObsNoiseStd: 1.0).All, [BodyMassPrefix, GeomFrictionPrefix, JointDampingPrefix, ActuatorGearPrefix]);

    /// <param name="actDim">The task's actuator count: a model with another (another task's model) is refused.</param>
    protected MuJoCoTask(MjSimulation sim, string name, int obsDim, int actDim, int frameSkip, int maxEpisodeSteps)
        : this(sim, name, obsDim, actDim, frameSkip, maxEpisodeSteps, NamedParameters(sim))
    {
    }

    private MuJoCoTask(MjSimulation sim, string name, int obsDim, int actDim, int frameSkip, int maxEpisodeSteps, Named[] named)
        : base(SpecOf(sim, name, obsDim, actDim, maxEpisodeSteps),
            new TaskParameters(name, WithShared(name, [.. Scales, .. named.Select(n => n.Parameter)], maxObsNoiseStd: 1.0).All,
                [BodyMassPrefix, GeomFrictionPrefix, JointDampingPrefix, ActuatorGearPrefix]))
    {
        Sim = sim;
        FrameSkip = frameSkip;
        InitQpos = sim.Qpos0.ToArray();
        nominalMass = sim.BodyMass.ToArray();
        nominalInertia = sim.BodyInertia.ToArray();
        nominalFriction = sim.GeomFriction.ToArray();
        nominalGear = sim.ActuatorGear.ToArray();
        nominalDamping = sim.DofDamping.ToArray();
        this.named = named;
        mass = [.. nominalMass];
        friction = Enumerable.Range(0, sim.NGeom).Select(g => nominalFriction[3 * g]).ToArray();
        gear = Enumerable.Range(0, sim.Nu).Select(a => nominalGear[6 * a]).ToArray();
        damping = [.. nominalDamping];
        applied = [.. Scales.Select(p => p.Default), .. named.Select(n => n.Parameter.Default)];
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

    /// <summary>Writes the physical parameters into the model when any changed since the last write: each element's
    /// named value (or the model's) times its kind's global scale; inertia, spin and roll friction and the gear's other
    /// components follow their element's ratio to the model's value. At the defaults this is the model exactly.</summary>
    private void ApplyScales()
    {
        var changed = false;
        for (var i = 0; i < applied.Length; i++)
        {
            var value = Parameter(i);
            if (applied[i] == value) continue;
            applied[i] = value;
            changed = true;
            if (i >= Scales.Length) Set(named[i - Scales.Length], value);
        }
        if (!changed) return;
        double massScale = applied[0], frictionScale = applied[1], gearScale = applied[2], dampingScale = applied[3];
        var bodyMass = Sim.BodyMass;
        var inertia = Sim.BodyInertia;
        for (var b = 0; b < bodyMass.Length; b++)
        {
            var ratio = nominalMass[b] == 0 ? 1 : mass[b] / nominalMass[b];
            bodyMass[b] = mass[b] * massScale;
            for (var k = 0; k < 3; k++) inertia[3 * b + k] = nominalInertia[3 * b + k] * ratio * massScale;
        }
        Spread(Sim.GeomFriction, nominalFriction, friction, 3, frictionScale);
        Spread(Sim.ActuatorGear, nominalGear, gear, 6, gearScale);
        var dofDamping = Sim.DofDamping;
        for (var v = 0; v < dofDamping.Length; v++) dofDamping[v] = damping[v] * dampingScale;
    }

    private void Set(Named n, double value)
    {
        var values = n.Target switch { Target.Mass => mass, Target.Friction => friction, Target.Gear => gear, _ => damping };
        values[n.Index] = value;
    }

    /// <summary>Rows of <paramref name="width"/>: the first component is the element's value × scale, the rest follow its ratio.</summary>
    private static void Spread(Span<double> target, double[] nominal, double[] first, int width, double scale)
    {
        for (var e = 0; e < first.Length; e++)
        {
            var ratio = nominal[width * e] == 0 ? 1 : first[e] / nominal[width * e];
            target[width * e] = first[e] * scale;
            for (var k = 1; k < width; k++) target[width * e + k] = nominal[width * e + k] * ratio * scale;
        }
    }

    /// <summary>The model's per-name parameters (elements with a name, and a non-zero value where a range is relative to it).</summary>
    private static Named[] NamedParameters(MjSimulation sim)
    {
        var list = new List<Named>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string prefix, string element, double value, double min, double max, Target target, int index)
        {
            if (element.Length == 0 || !seen.Add(prefix + element)) return;
            list.Add(new Named(new TaskParameter(prefix + element, value, min, max), target, index));
        }
        var bodyMass = sim.BodyMass;
        for (var b = 1; b < sim.NBody; b++) // body 0 is the world
        {
            if (bodyMass[b] > 0) Add(BodyMassPrefix, sim.Name(MjNative.ObjBody, b), bodyMass[b], 0.25 * bodyMass[b], 4 * bodyMass[b], Target.Mass, b);
        }
        var geomFriction = sim.GeomFriction;
        for (var g = 0; g < sim.NGeom; g++)
        {
            var f = geomFriction[3 * g];
            if (f > 0) Add(GeomFrictionPrefix, sim.Name(MjNative.ObjGeom, g), f, 0.25 * f, 4 * f, Target.Friction, g);
        }
        var dofDamping = sim.DofDamping;
        for (var j = 0; j < sim.NJnt; j++)
        {
            if (sim.JointDof(j) is var dof and >= 0)
                Add(JointDampingPrefix, sim.Name(MjNative.ObjJoint, j), dofDamping[dof], 0, Math.Max(10, 10 * dofDamping[dof]), Target.Damping, dof);
        }
        var actuatorGear = sim.ActuatorGear;
        for (var a = 0; a < sim.Nu; a++)
        {
            var g0 = actuatorGear[6 * a];
            var name = sim.Name(MjNative.ObjActuator, a);
            if (name.Length == 0 && sim.ActuatorJoint(a) is var joint and >= 0) name = sim.Name(MjNative.ObjJoint, joint);
            if (g0 != 0) Add(ActuatorGearPrefix, name, g0, Math.Min(0.25 * g0, 4 * g0), Math.Max(0.25 * g0, 4 * g0), Target.Gear, a);
        }
        return [.. list];
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
