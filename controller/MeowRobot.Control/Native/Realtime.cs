using System.Diagnostics;
using System.Runtime.InteropServices;
using MeowRobot.Bridge.Native;

namespace MeowRobot.Control.Native;

/// <summary>Linux scheduling for the loop thread through libc: CPU affinity, SCHED_FIFO, memory locking, and absolute
/// sleeps on CLOCK_MONOTONIC (the clock <see cref="Stopwatch"/> reads on Linux). Each request reports its outcome instead of
/// throwing: an unprivileged controller still runs, and says so.</summary>
internal static partial class Realtime
{
    private const int SchedFifo = 1;
    private const int ClockMonotonic = 1;
    private const int TimerAbstime = 1;
    private const int McLCurrent = 1;
    private const int McLFuture = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static unsafe partial int SchedSetAffinity(int pid, nuint size, byte* mask);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static unsafe partial int SchedSetScheduler(int pid, int policy, int* priority);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "mlockall", SetLastError = true)]
    private static partial int MLockAll(int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "clock_nanosleep")]
    private static unsafe partial int ClockNanosleep(int clock, int flags, TimeSpec* request, TimeSpec* remain);

    /// <summary>True when Stopwatch ticks are CLOCK_MONOTONIC nanoseconds, so absolute sleeps can target them.</summary>
    public static bool CanSleepAbsolute { get; } = OperatingSystem.IsLinux() && Stopwatch.Frequency == 1_000_000_000 && Probe();

    private static unsafe bool Probe()
    {
        try
        {
            var ts = new TimeSpec();
            return ClockNanosleep(ClockMonotonic, TimerAbstime, &ts, null) == 0; // a time in the past returns at once
        }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }

    /// <summary>Sleeps the calling thread until <paramref name="stopwatchTicks"/> (absolute, so no drift).</summary>
    public static unsafe void SleepUntil(long stopwatchTicks)
    {
        var ts = new TimeSpec { Seconds = stopwatchTicks / 1_000_000_000, Nanoseconds = stopwatchTicks % 1_000_000_000 };
        ClockNanosleep(ClockMonotonic, TimerAbstime, &ts, null); // EINTR: the caller re-checks the clock and spins
    }

    /// <summary>Pins the calling thread to <paramref name="cpus"/>; null on success, else why not.</summary>
    public static unsafe string? PinCurrentThread(IReadOnlyList<int> cpus)
    {
        if (!OperatingSystem.IsLinux()) return "CPU affinity needs Linux";
        Span<byte> mask = stackalloc byte[128];
        mask.Clear();
        foreach (var cpu in cpus)
        {
            if (cpu < 0 || cpu >= mask.Length * 8) return $"CPU {cpu} out of range";
            mask[cpu / 8] |= (byte)(1 << (cpu % 8));
        }
        fixed (byte* p = mask)
        {
            return SchedSetAffinity(0, (nuint)mask.Length, p) == 0 ? null : $"sched_setaffinity failed: {Marshal.GetLastPInvokeErrorMessage()}";
        }
    }

    /// <summary>Makes the calling thread SCHED_FIFO at <paramref name="priority"/>; null on success, else why not
    /// (usually EPERM without CAP_SYS_NICE or an RT rlimit).</summary>
    public static unsafe string? MakeCurrentThreadFifo(int priority)
    {
        if (!OperatingSystem.IsLinux()) return "SCHED_FIFO needs Linux";
        var p = priority;
        return SchedSetScheduler(0, SchedFifo, &p) == 0 ? null : $"sched_setscheduler(SCHED_FIFO, {priority}) failed: {Marshal.GetLastPInvokeErrorMessage()}";
    }

    /// <summary>Locks the process's memory (no page faults on the loop path); null on success, else why not.</summary>
    public static string? LockMemory()
    {
        if (!OperatingSystem.IsLinux()) return "mlockall needs Linux";
        return MLockAll(McLCurrent | McLFuture) == 0 ? null : $"mlockall failed: {Marshal.GetLastPInvokeErrorMessage()}";
    }
}
