using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Loop;

/// <summary>Timing and scheduling of the control loop (validated at start).</summary>
public sealed class ControlLoopOptions
{
    public const double MinRateHz = 50;
    public const double MaxRateHz = 5000;

    /// <summary>Ticks per second (50–5000).</summary>
    public double RateHz { get; set; } = 1000;

    /// <summary>The loop sleeps until this long before a tick's release time and spins the rest (sleep wake-ups are late by
    /// tens of µs on a stock kernel).</summary>
    public double SpinMarginMicroseconds { get; set; } = 200;

    /// <summary>CPUs to pin the loop thread to (sched_setaffinity); null leaves it free.</summary>
    public int[]? CpuAffinity { get; set; }

    /// <summary>SCHED_FIFO priority (1–99) for the loop thread; null keeps the normal scheduler. Needs CAP_SYS_NICE or an
    /// RT rlimit; refused requests are reported in the snapshot, not fatal.</summary>
    public int? RealtimePriority { get; set; }

    /// <summary>mlockall(MCL_CURRENT | MCL_FUTURE) at start (reported, not fatal).</summary>
    public bool LockMemory { get; set; }

    /// <summary>How often the loop publishes a telemetry snapshot.</summary>
    public double SnapshotIntervalSeconds { get; set; } = 0.1;

    /// <summary>On stop, the loop keeps ticking toward the safe action at most this long before it stops writing.</summary>
    public double StopTimeoutSeconds { get; set; } = 1.0;

    /// <summary>Ticks after which the loop takes its allocation baseline (JIT tiering and first-call work settle first).</summary>
    public int WarmupTicks { get; set; } = 1000;

    public double PeriodSeconds => 1.0 / RateHz;

    public void Validate()
    {
        var problems = new List<string>();
        if (!(RateHz >= MinRateHz && RateHz <= MaxRateHz))
            problems.Add($"RateHz must be in [{MinRateHz}, {MaxRateHz}] (is {RateHz})");
        if (!(SpinMarginMicroseconds >= 0 && SpinMarginMicroseconds <= 1e6 / MinRateHz))
            problems.Add($"SpinMarginMicroseconds must be in [0, {1e6 / MinRateHz}] (is {SpinMarginMicroseconds})");
        if (RealtimePriority is { } p && (p < 1 || p > 99))
            problems.Add($"RealtimePriority must be in [1, 99] (is {p})");
        if (CpuAffinity is { Length: 0 })
            problems.Add("CpuAffinity must list at least one CPU (or be null)");
        if (CpuAffinity?.Any(c => c < 0 || c >= 1024) == true)
            problems.Add("CpuAffinity entries must be in [0, 1024)");
        if (!(SnapshotIntervalSeconds > 0 && SnapshotIntervalSeconds <= 10))
            problems.Add($"SnapshotIntervalSeconds must be in (0, 10] (is {SnapshotIntervalSeconds})");
        if (!(StopTimeoutSeconds >= 0 && StopTimeoutSeconds <= 60))
            problems.Add($"StopTimeoutSeconds must be in [0, 60] (is {StopTimeoutSeconds})");
        if (WarmupTicks < 0)
            problems.Add($"WarmupTicks must be ≥ 0 (is {WarmupTicks})");
        if (problems.Count > 0)
            throw new InvalidControlOptionsException(problems);
    }
}
