using System.Runtime.InteropServices;
using MeowRobot.Bridge.Native;

namespace MeowRobot.Trainer.Service;

/// <summary>
/// fsync(2) of a directory, so a rename inside it survives a power loss (the rename is an entry of the directory, which
/// FileStream.Flush(true) on the file does not write back). .NET has no API for it: open(O_RDONLY | O_DIRECTORY) +
/// fsync + close through libc.
/// </summary>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0;
    private const int CloseOnExec = 0x80000;

    // O_DIRECTORY differs by architecture: 0200000 on x86-64, 040000 on the ARM family.
    private static int Directory => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x4000 : 0x10000;

    /// <summary>Flushes <paramref name="directory"/>'s entries to disk; <see cref="IOException"/> with errno when it fails.</summary>
    public static void Flush(string directory)
    {
        if (!OperatingSystem.IsLinux()) return; // the services are Linux-only; elsewhere the rename's durability is the OS's
        var fd = Open(directory, ReadOnly | Directory | CloseOnExec);
        if (fd < 0) throw new IOException($"open({directory}, O_DIRECTORY) failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync({directory}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "close")]
    private static partial int Close(int fd);
}
