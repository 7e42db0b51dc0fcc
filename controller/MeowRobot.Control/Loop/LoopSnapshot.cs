using MeowRobot.Control.Modes;
using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Loop;

/// <summary>Scheduling requests and their outcome (reported, not fatal).</summary>
[Flags]
public enum RealtimeStatus : byte
{
    None = 0,
    AffinityRequested = 1,
    AffinityApplied = 2,
    FifoRequested = 4,
    FifoApplied = 8,
    MemoryLockRequested = 16,
    MemoryLocked = 32,
    AbsoluteSleep = 64,
}

/// <summary>
/// What the loop reports every snapshot interval (a plain struct, copied through a seqlock; telemetry publishes it).
/// Durations in µs; latency percentiles are since start.
/// </summary>
public struct LoopSnapshot
{
    public long Tick;
    public long Timestamp;
    public double RateHz;
    public ControlMode Mode;
    public bool Armed;
    public bool Engaged;
    public bool EStopLatched;
    public bool TeleopAlive;
    public TransitionReason PolicyFault;
    public ObservationFault ObservationFault;
    public long PolicyVersion;
    public long PolicySwaps;

    /// <summary>Ticks that finished after their deadline (the next release).</summary>
    public long Misses;
    /// <summary>Release times skipped after overruns (the schedule stays on the absolute grid).</summary>
    public long SkippedPeriods;
    public int ConsecutiveMisses;

    /// <summary>Wake-up lateness against the release time.</summary>
    public double JitterP50Us, JitterP99Us, JitterMaxUs;
    /// <summary>Read → policy → envelope → write.</summary>
    public double ComputeP50Us, ComputeP99Us, ComputeMaxUs;

    public long NonFiniteObservations;
    public long NonFiniteActions;
    public long StaleObservationTicks;

    /// <summary>Envelope interventions: ticks on which the safety envelope replaced or withheld the policy's action
    /// because of what it judged: a non-finite action (the safe action instead), a non-finite observation, a stale one
    /// (the sum of the three counters above; telemetry's <c>non_finite_actions + non_finite_observations +
    /// stale_observation_ticks</c>). A state bound crossed is a safe stop (a Policy → SafeStop transition), counted there.</summary>
    public readonly long EnvelopeInterventions => NonFiniteObservations + NonFiniteActions + StaleObservationTicks;
    public long TransitionTotal;
    public long TransitionsDropped;

    public int Gen0Collections, Gen1Collections, Gen2Collections;
    public double GcPauseTotalMs;
    /// <summary>Bytes the loop thread allocated since the end of warm-up (0 in a healthy steady state); -1 during warm-up.</summary>
    public long LoopAllocatedBytes;

    /// <summary>Stopwatch timestamp of the last tick that finished on time (the watchdog's evidence).</summary>
    public long LastHealthyTickTimestamp;
    public RealtimeStatus Realtime;
    public bool Running;
}
