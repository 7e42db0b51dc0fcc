using System.Runtime.InteropServices;
using MeowRobot.Bridge.Native;

namespace MeowRobot.Tasks.MuJoCo;

/// <summary>P/Invoke over libmujoco 2.2.2 and our accessor (native/meow_mujoco.c). Only what the tasks use.</summary>
internal static unsafe partial class MjNative
{
    public const int ObjBody = 1; // mjOBJ_BODY
    public const int ObjJoint = 3; // mjOBJ_JOINT
    public const int ObjGeom = 5; // mjOBJ_GEOM
    public const int ObjSite = 6; // mjOBJ_SITE
    public const int ObjActuator = 18; // mjOBJ_ACTUATOR

    [LibraryImport(NativeLibraries.MuJoCo, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr mj_loadXML(string filename, IntPtr vfs, byte* error, int errorSize);

    [LibraryImport(NativeLibraries.MuJoCo)]
    public static partial IntPtr mj_makeData(IntPtr model);

    [LibraryImport(NativeLibraries.MuJoCo)]
    public static partial void mj_deleteModel(IntPtr model);

    [LibraryImport(NativeLibraries.MuJoCo)]
    public static partial void mj_deleteData(IntPtr data);

    [LibraryImport(NativeLibraries.MuJoCo)]
    public static partial void mj_resetData(IntPtr model, IntPtr data);

    [LibraryImport(NativeLibraries.MuJoCo)]
    public static partial void mj_step(IntPtr model, IntPtr data);

    [LibraryImport(NativeLibraries.MuJoCo)]
    public static partial void mj_forward(IntPtr model, IntPtr data);

    [LibraryImport(NativeLibraries.MuJoCo, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mj_name2id(IntPtr model, int type, string name);

    [LibraryImport(NativeLibraries.MuJoCo)]
    public static partial int mj_version();

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial int meow_mj_check();

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial byte* meow_mj_name(IntPtr model, int type, int id);

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial int meow_mj_joint_dof(IntPtr model, int joint);

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial int meow_mj_actuator_joint(IntPtr model, int actuator);

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial int meow_mj_abi();

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial int meow_mj_model_view_size();

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial int meow_mj_data_view_size();

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial void meow_mj_model_view_fill(IntPtr model, MjModelView* view);

    [LibraryImport(NativeLibraries.MuJoCoAccessor)]
    public static partial void meow_mj_data_view_fill(IntPtr data, MjDataView* view);
}

/// <summary>Mirror of <c>meow_model_view</c> in native/meow_mujoco.c (our own struct; its size is checked at load).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MjModelView
{
    public int Abi, Nq, Nv, Nu, Na, NBody, NGeom, NJnt;
    public double* Timestep;
    public double* Qpos0;
    public double* BodyMass;
    public double* BodyInertia;
    public double* GeomFriction;
    public double* ActuatorGear;
    public double* ActuatorCtrlRange;
    public byte* ActuatorCtrlLimited;
    public double* DofDamping;
}

/// <summary>Mirror of <c>meow_data_view</c> in native/meow_mujoco.c.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MjDataView
{
    public int Abi, Pad;
    public double* Time;
    public double* Qpos;
    public double* Qvel;
    public double* Act;
    public double* Ctrl;
    public double* QaccWarmstart;
    public double* Xpos;
    public double* Xipos;
    public double* Cinert;
    public double* Cvel;
    public double* QfrcActuator;
    public double* CfrcExt;
}
