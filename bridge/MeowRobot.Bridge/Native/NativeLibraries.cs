using System.Reflection;
using System.Runtime.InteropServices;

namespace MeowRobot.Bridge.Native;

/// <summary>
/// The one place that maps the library names used in [DllImport]/[LibraryImport] to the files Debian installs,
/// so a missing package fails with its name instead of a bare DllNotFoundException.
/// Every assembly with P/Invoke calls <see cref="Register"/> from a module initializer.
/// </summary>
public static class NativeLibraries
{
    /// <summary>Name to use in <c>[LibraryImport]</c> for libzmq.</summary>
    public const string Zmq = "zmq";
    /// <summary>Name to use in <c>[LibraryImport]</c> for libmujoco.</summary>
    public const string MuJoCo = "mujoco";
    /// <summary>Name to use in <c>[LibraryImport]</c> for the C library (termios, poll, sockets, sched).</summary>
    public const string Libc = "libc";
    /// <summary>Our accessor over libmujoco, compiled at build time against the installed headers (sim/MeowRobot.Tasks).</summary>
    public const string MuJoCoAccessor = "meow_mujoco";

    private sealed record Entry(string[] Files, string DebianPackage);

    private static readonly Dictionary<string, Entry> Known = new(StringComparer.Ordinal)
    {
        [Zmq] = new(["libzmq.so.5"], "libzmq5"),
        [MuJoCo] = new(["libmujoco.so.2.2.2"], "libmujoco2.2.2"),
        [Libc] = new(["libc.so.6"], "libc6"),
        // Built beside the assembly when libmujoco-dev's headers and a C compiler were present at build time.
        [MuJoCoAccessor] = new([Path.Combine(AppContext.BaseDirectory, "libmeow_mujoco.so")], "libmujoco-dev"),
    };

    private static readonly HashSet<Assembly> Registered = [];
    private static readonly Lock Gate = new();

    /// <summary>Installs the resolver for <paramref name="assembly"/> (idempotent).</summary>
    public static void Register(Assembly assembly)
    {
        lock (Gate)
        {
            if (Registered.Add(assembly))
                NativeLibrary.SetDllImportResolver(assembly, Resolve);
        }
    }

    /// <summary>Loads a known library by its logical name, or throws <see cref="MissingNativeLibraryException"/>.</summary>
    public static IntPtr Load(string name)
    {
        if (!Known.TryGetValue(name, out var entry))
            throw new ArgumentException($"unknown native library '{name}'", nameof(name));
        foreach (var file in entry.Files)
        {
            if (NativeLibrary.TryLoad(file, out var handle))
                return handle;
        }
        throw new MissingNativeLibraryException(name, entry.Files[0], entry.DebianPackage);
    }

    /// <summary>True when the library can be loaded (tests use it to explain a skip).</summary>
    public static bool IsAvailable(string name)
    {
        try { Load(name); return true; }
        catch (MissingNativeLibraryException) { return false; }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        Known.ContainsKey(libraryName) ? Load(libraryName) : IntPtr.Zero;
}

/// <summary>A native library the system needs is not installed; the message names the Debian package.</summary>
public sealed class MissingNativeLibraryException(string name, string file, string debianPackage)
    : DllNotFoundException($"{file} ({name}) could not be loaded: install the Debian package '{debianPackage}' (apt-get install {debianPackage}); ./meow installs what is missing when it starts a command")
{
    public string LibraryName { get; } = name;
    public string DebianPackage { get; } = debianPackage;
}
