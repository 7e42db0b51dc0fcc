using System.Text;

namespace MeowRobot.Tasks.MuJoCo;

/// <summary>The MuJoCo model or library could not be used (bad MJCF, version mismatch, unknown name).</summary>
public sealed class MuJoCoException(string message) : Exception(message);

/// <summary>
/// One MuJoCo model and its data (libmujoco 2.2.2), with the fields the tasks read and write exposed as spans over the
/// library's own arrays. Each environment owns one, so domain randomisation of model parameters stays per environment.
/// Not thread-safe: one owner at a time.
/// </summary>
public sealed unsafe class MjSimulation : IDisposable
{
    private IntPtr model, data;
    private readonly MjModelView m;
    private readonly MjDataView d;

    private MjSimulation(IntPtr model, IntPtr data, MjModelView m, MjDataView d)
    {
        this.model = model;
        this.data = data;
        this.m = m;
        this.d = d;
    }

    /// <summary>Loads an MJCF file. Fails with <see cref="MuJoCoException"/> naming the file and MuJoCo's message.</summary>
    public static MjSimulation Load(string mjcfPath)
    {
        if (!File.Exists(mjcfPath)) throw new FileNotFoundException($"MJCF model not found: {mjcfPath}", mjcfPath);
        CheckLibrary();
        var error = stackalloc byte[1000];
        var model = MjNative.mj_loadXML(Path.GetFullPath(mjcfPath), IntPtr.Zero, error, 1000);
        if (model == IntPtr.Zero)
            throw new MuJoCoException($"MuJoCo could not load {mjcfPath}: {Encoding.UTF8.GetString(new ReadOnlySpan<byte>(error, 1000)).TrimEnd('\0').Trim()}");
        var data = MjNative.mj_makeData(model);
        if (data == IntPtr.Zero)
        {
            MjNative.mj_deleteModel(model);
            throw new MuJoCoException($"MuJoCo could not allocate data for {mjcfPath}");
        }
        MjModelView mv;
        MjDataView dv;
        MjNative.meow_mj_model_view_fill(model, &mv);
        MjNative.meow_mj_data_view_fill(data, &dv);
        return new MjSimulation(model, data, mv, dv);
    }

    private static bool libraryChecked;

    /// <summary>Refuses a library whose version differs from the headers the accessor was compiled against, and an accessor
    /// whose view layout differs from our mirror: never silently wrong.</summary>
    private static void CheckLibrary()
    {
        if (libraryChecked) return;
        var check = MjNative.meow_mj_check();
        if (check != 0)
            throw new MuJoCoException($"libmujoco reports version {MjNative.mj_version()} but the accessor was built for 2.2.2 headers (check {check}); rebuild against matching libmujoco-dev");
        if (MjNative.meow_mj_abi() != 1 || MjNative.meow_mj_model_view_size() != sizeof(MjModelView) || MjNative.meow_mj_data_view_size() != sizeof(MjDataView))
            throw new MuJoCoException("libmeow_mujoco.so does not match this build's view layout; rebuild the solution");
        libraryChecked = true;
    }

    public int Nq => m.Nq;
    public int Nv => m.Nv;
    public int Nu => m.Nu;
    public int NBody => m.NBody;
    public int NGeom => m.NGeom;

    public double Timestep { get => *m.Timestep; set => *m.Timestep = value; }
    public double Time => *d.Time;

    public Span<double> Qpos0 => new(m.Qpos0, m.Nq);
    public Span<double> BodyMass => new(m.BodyMass, m.NBody);
    public Span<double> BodyInertia => new(m.BodyInertia, m.NBody * 3);
    public Span<double> GeomFriction => new(m.GeomFriction, m.NGeom * 3);
    public Span<double> ActuatorGear => new(m.ActuatorGear, m.Nu * 6);
    public Span<double> ActuatorCtrlRange => new(m.ActuatorCtrlRange, m.Nu * 2);
    public bool ActuatorCtrlLimited(int i) => m.ActuatorCtrlLimited[i] != 0;
    public Span<double> DofDamping => new(m.DofDamping, m.Nv);

    public Span<double> Qpos => new(d.Qpos, m.Nq);
    public Span<double> Qvel => new(d.Qvel, m.Nv);
    public Span<double> Ctrl => new(d.Ctrl, m.Nu);
    public ReadOnlySpan<double> Xpos => new(d.Xpos, m.NBody * 3);
    public ReadOnlySpan<double> Xipos => new(d.Xipos, m.NBody * 3);
    public ReadOnlySpan<double> Cinert => new(d.Cinert, m.NBody * 10);
    public ReadOnlySpan<double> Cvel => new(d.Cvel, m.NBody * 6);
    public ReadOnlySpan<double> QfrcActuator => new(d.QfrcActuator, m.Nv);
    public ReadOnlySpan<double> CfrcExt => new(d.CfrcExt, m.NBody * 6);

    public int NJnt => m.NJnt;

    /// <summary>Name of object <paramref name="id"/> of a type (<see cref="MjNative.ObjBody"/>, …), "" when unnamed.</summary>
    internal string Name(int type, int id) => System.Runtime.InteropServices.Marshal.PtrToStringUTF8((IntPtr)MjNative.meow_mj_name(model, type, id)) ?? "";

    /// <summary>The degree of freedom of a hinge or slide joint, or -1 (free and ball joints have several).</summary>
    public int JointDof(int joint) => MjNative.meow_mj_joint_dof(model, joint);

    /// <summary>The joint an actuator drives, or -1 when its transmission is not a joint.</summary>
    public int ActuatorJoint(int actuator) => MjNative.meow_mj_actuator_joint(model, actuator);

    /// <summary>Id of a named body; <see cref="MuJoCoException"/> when the model has none of that name.</summary>
    public int BodyId(string name)
    {
        var id = MjNative.mj_name2id(model, MjNative.ObjBody, name);
        return id >= 0 ? id : throw new MuJoCoException($"the model has no body named '{name}'");
    }

    /// <summary>Whether the model has a body of that name.</summary>
    public bool HasBody(string name) => MjNative.mj_name2id(model, MjNative.ObjBody, name) >= 0;

    /// <summary>mj_resetData: qpos = qpos0, qvel = 0, time = 0, controls cleared.</summary>
    public void Reset() => MjNative.mj_resetData(model, data);

    /// <summary>mj_forward: recomputes derived quantities after qpos/qvel were written.</summary>
    public void Forward() => MjNative.mj_forward(model, data);

    /// <summary>Holds the current controls for <paramref name="frames"/> physics steps (Gymnasium's frame skip).</summary>
    public void Step(int frames)
    {
        for (var i = 0; i < frames; i++) MjNative.mj_step(model, data);
    }

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    ~MjSimulation() => Release();

    private void Release()
    {
        if (data != IntPtr.Zero) { MjNative.mj_deleteData(data); data = IntPtr.Zero; }
        if (model != IntPtr.Zero) { MjNative.mj_deleteModel(model); model = IntPtr.Zero; }
    }
}
