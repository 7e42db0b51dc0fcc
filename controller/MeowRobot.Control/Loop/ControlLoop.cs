using System.Diagnostics;
using System.Runtime;
using MeowRobot.Control.Handoff;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Native;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Loop;

/// <summary>
/// The fixed-rate control loop: one thread that, every period, reads the newest observation (<see cref="IRobotIo"/>), runs
/// the policy, arbitrates the mode (<see cref="ModeMachine"/>), shapes the action (<see cref="SafetyEnvelope"/>) and writes
/// it. Release times lie on an absolute grid (start + k·period): the loop sleeps until shortly before each one and spins
/// the rest; a tick that finishes after the next release is a miss, and releases already in the past are skipped and
/// counted, so the schedule never drifts. Everything the loop touches per tick is preallocated; other threads reach it
/// only through lock-free handoffs (<see cref="Policies"/>, <see cref="Teleop"/>, the command bits).
/// Hosting: construct, <see cref="Start"/>, watch <see cref="LastHealthyTickTimestamp"/> / <see cref="TryReadSnapshot"/>,
/// drain <see cref="Transitions"/> and <see cref="CollectRetiredPolicy"/> from a non-real-time thread, <see cref="Stop"/>.
/// </summary>
public sealed class ControlLoop : IDisposable
{
    private readonly ControlLoopOptions _options;
    private readonly IRobotIo _io;
    private readonly ControlCycle _cycle;
    private readonly SafetyEnvelope _envelope;
    private readonly ModeMachine _modes;
    private readonly Seqlock<LoopSnapshot> _snapshots = new();
    private readonly LatencyHistogram _jitter = new();
    private readonly LatencyHistogram _compute = new();
    private readonly long _period;
    private readonly long _spinMargin;
    private readonly long _snapshotEvery;
    private readonly long _stopTimeout;
    private Thread? _thread;
    private volatile bool _stopRequested;
    private int _commandBits;
    private long _lastHealthyTick;
    private Exception? _fault;
    private LoopSnapshot _snapshot;
    private long _allocationBaseline = -1;

    public ControlLoop(IRobotIo io, ControlLoopOptions options, SafetyEnvelopeOptions envelope, ModeOptions modes)
    {
        ArgumentNullException.ThrowIfNull(io);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(envelope);
        options.Validate();
        envelope.Validate(io.ActionSize, io.ObservationSize);
        _options = options;
        _io = io;
        _envelope = new SafetyEnvelope(envelope, io.ObservationSize, options.PeriodSeconds);
        _modes = new ModeMachine(modes);
        _cycle = new ControlCycle(io, _envelope, _modes,
            (long)(envelope.ObservationTimeoutSeconds * Stopwatch.Frequency),
            (long)(modes.TeleopTimeoutSeconds * Stopwatch.Frequency));
        _period = (long)Math.Round(Stopwatch.Frequency / options.RateHz);
        _spinMargin = (long)(options.SpinMarginMicroseconds * 1e-6 * Stopwatch.Frequency);
        _snapshotEvery = Math.Max(1, (long)Math.Round(options.SnapshotIntervalSeconds * options.RateHz));
        _stopTimeout = (long)(options.StopTimeoutSeconds * Stopwatch.Frequency);
        _snapshot.RateHz = options.RateHz;
    }

    public int ObservationSize => _io.ObservationSize;
    public int ActionSize => _io.ActionSize;
    public double RateHz => _options.RateHz;

    /// <summary>New policies go here (any thread); the loop adopts the newest at a tick boundary.</summary>
    public SwapSlot<ActivePolicy> Policies => _cycle.Policies;

    /// <summary>The operator link publishes here.</summary>
    public TeleopChannel Teleop => _cycle.Teleop;

    /// <summary>Mode transitions in order; drain from one non-real-time thread (and log them).</summary>
    public SpscRing<ModeTransition> Transitions => _modes.Transitions;

    public long TransitionCount(ControlMode from, ControlMode to) => _modes.TransitionCount(from, to);

    /// <summary>Policy → SafeStop transitions for <paramref name="reason"/> (<see cref="ModeMachine.SafeStopCount"/>).</summary>
    public long SafeStopCount(TransitionReason reason) => _modes.SafeStopCount(reason);

    /// <summary>Times the policy re-engaged by itself after a stall (<see cref="ModeOptions.StallReengageSeconds"/>).</summary>
    public long StallReengagements => _modes.StallReengagements;

    /// <summary>Stopwatch timestamp of the end of the last tick that met its deadline; 0 before the first. A systemd
    /// watchdog pings only while this is recent, so a stuck or starved loop stops the pings.</summary>
    public long LastHealthyTickTimestamp => Volatile.Read(ref _lastHealthyTick);

    /// <summary>The exception that ended the loop thread, if one did (the outputs were left at the last action).</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    public bool IsRunning => _thread is { IsAlive: true };

    /// <summary>The newest snapshot (any thread).</summary>
    public bool TryReadSnapshot(out LoopSnapshot snapshot) => _snapshots.TryRead(out snapshot);

    /// <summary>Offers a policy (checks its sizes first); an earlier offer not yet taken is disposed.</summary>
    public void OfferPolicy(ActivePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.Policy.ObservationSize != ObservationSize || policy.Policy.ActionSize != ActionSize)
            throw new ArgumentException($"policy is ({policy.Policy.ObservationSize}, {policy.Policy.ActionSize}), the robot ({ObservationSize}, {ActionSize})", nameof(policy));
        Policies.Offer(policy)?.Dispose();
    }

    /// <summary>Disposes the policy the loop let go of, if any (call from a non-real-time thread now and then).</summary>
    public void CollectRetiredPolicy() => Policies.TakeRetired()?.Dispose();

    public void RequestEStop() => Command(TeleopButtons.EStop);
    public void ResetEStop() => Command(TeleopButtons.Reset);
    public void Arm() => Command(TeleopButtons.Arm);
    public void Disarm() => Command(TeleopButtons.Disarm);
    public void Resume() => Command(TeleopButtons.Resume);

    private void Command(TeleopButtons bit)
    {
        int seen, next;
        do
        {
            seen = Volatile.Read(ref _commandBits);
            next = seen | (int)bit;
        } while (Interlocked.CompareExchange(ref _commandBits, next, seen) != seen);
    }

    /// <summary>Starts the loop thread.</summary>
    public void Start()
    {
        if (_thread is not null)
            throw new InvalidOperationException("the loop was already started");
        _thread = new Thread(Run) { IsBackground = true, Name = "meow-control-loop", Priority = ThreadPriority.Highest };
        _thread.Start();
    }

    /// <summary>Drives the safe action (rate-limited, up to <see cref="ControlLoopOptions.StopTimeoutSeconds"/>), writes it a last
    /// time and ends the thread. Returns false when the thread did not end within <paramref name="timeout"/>.</summary>
    public bool Stop(TimeSpan timeout)
    {
        _stopRequested = true;
        return _thread is null || _thread.Join(timeout);
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(_options.StopTimeoutSeconds + 5));
        Policies.TakePending()?.Dispose();
        CollectRetiredPolicy();
        _cycle.DetachPolicy()?.Dispose();
    }

    private void Run()
    {
        try
        {
            GCSettings.LatencyMode = GCLatencyMode.SustainedLowLatency;
            _snapshot.Realtime = ApplyScheduling();
            RunTicks();
        }
        catch (Exception e)
        {
            Volatile.Write(ref _fault, e);
        }
        finally
        {
            _snapshot.Running = false;
            _snapshots.Write(_snapshot);
        }
    }

    private RealtimeStatus ApplyScheduling()
    {
        var status = Realtime.CanSleepAbsolute ? RealtimeStatus.AbsoluteSleep : RealtimeStatus.None;
        if (_options.CpuAffinity is { } cpus)
        {
            status |= RealtimeStatus.AffinityRequested;
            if (Realtime.PinCurrentThread(cpus) is null) status |= RealtimeStatus.AffinityApplied;
        }
        if (_options.RealtimePriority is { } priority)
        {
            status |= RealtimeStatus.FifoRequested;
            if (Realtime.MakeCurrentThreadFifo(priority) is null) status |= RealtimeStatus.FifoApplied;
        }
        if (_options.LockMemory)
        {
            status |= RealtimeStatus.MemoryLockRequested;
            if (Realtime.LockMemory() is null) status |= RealtimeStatus.MemoryLocked;
        }
        return status;
    }

    private void RunTicks()
    {
        var absoluteSleep = Realtime.CanSleepAbsolute;
        var release = Stopwatch.GetTimestamp() + _period;
        long tick = 0;
        long stopDeadline = long.MaxValue;
        var consecutiveMisses = 0;
        long misses = 0, skipped = 0;
        _snapshot.Running = true;
        PublishSnapshot(0, Stopwatch.GetTimestamp(), 0, 0, 0);
        while (true)
        {
            WaitUntil(release, absoluteSleep);
            var start = Stopwatch.GetTimestamp();
            _jitter.Record(start - release);

            var stopping = _stopRequested;
            if (stopping && stopDeadline == long.MaxValue)
                stopDeadline = start + _stopTimeout;

            var commands = (TeleopButtons)Interlocked.Exchange(ref _commandBits, 0);
            _cycle.Run(tick, start, consecutiveMisses, commands, stopping);

            var end = Stopwatch.GetTimestamp();
            _compute.Record(end - start);
            var next = release + _period;
            if (end > next)
            {
                var late = (end - release) / _period;   // later releases already in the past: skipped, not run late
                misses++;
                skipped += late;
                consecutiveMisses++;
                next = release + (late + 1) * _period;
            }
            else
            {
                consecutiveMisses = 0;
                Volatile.Write(ref _lastHealthyTick, end);
            }
            release = next;
            tick++;

            if (tick == _options.WarmupTicks)
                _allocationBaseline = GC.GetAllocatedBytesForCurrentThread();
            var done = stopping && (_envelope.AtRest || end >= stopDeadline);
            if (tick % _snapshotEvery == 0 || done)
                PublishSnapshot(tick, end, misses, skipped, consecutiveMisses);
            if (done)
                break;
        }
        // The safe action was written on the last tick; the outputs stop here.
    }

    private void WaitUntil(long release, bool absoluteSleep)
    {
        var now = Stopwatch.GetTimestamp();
        if (release - now > _spinMargin)
        {
            if (absoluteSleep)
                Realtime.SleepUntil(release - _spinMargin);
            else
            {
                var ms = (int)((release - _spinMargin - now) * 1000 / Stopwatch.Frequency);
                if (ms > 0) Thread.Sleep(ms);
            }
        }
        while (Stopwatch.GetTimestamp() < release)
            Thread.SpinWait(20);
    }

    private void PublishSnapshot(long tick, long now, long misses, long skipped, int consecutiveMisses)
    {
        ref var s = ref _snapshot;
        s.Tick = tick;
        s.Timestamp = now;
        s.Mode = _modes.Mode;
        s.Armed = _modes.Armed;
        s.Engaged = _modes.Engaged;
        s.EStopLatched = _modes.EStopLatched;
        s.PolicySwaps = _cycle.PolicySwaps;
        s.PolicyVersion = _cycle.PolicyVersion;
        s.TeleopAlive = _cycle.TeleopAlive;
        s.PolicyFault = _cycle.PolicyFault;
        s.ObservationFault = _cycle.ObservationFault;
        s.NonFiniteObservations = _cycle.NonFiniteObservations;
        s.NonFiniteActions = _cycle.NonFiniteActions;
        s.StaleObservationTicks = _cycle.StaleObservationTicks;
        s.Misses = misses;
        s.SkippedPeriods = skipped;
        s.ConsecutiveMisses = consecutiveMisses;
        s.JitterP50Us = _jitter.PercentileMicroseconds(0.5);
        s.JitterP99Us = _jitter.PercentileMicroseconds(0.99);
        s.JitterMaxUs = _jitter.MaxMicroseconds;
        s.ComputeP50Us = _compute.PercentileMicroseconds(0.5);
        s.ComputeP99Us = _compute.PercentileMicroseconds(0.99);
        s.ComputeMaxUs = _compute.MaxMicroseconds;
        s.TransitionTotal = _modes.TransitionTotal;
        s.TransitionsDropped = _modes.Transitions.Dropped;
        s.Gen0Collections = GC.CollectionCount(0);
        s.Gen1Collections = GC.CollectionCount(1);
        s.Gen2Collections = GC.CollectionCount(2);
        s.GcPauseTotalMs = GC.GetTotalPauseDuration().TotalMilliseconds;
        s.LoopAllocatedBytes = _allocationBaseline < 0 ? -1 : GC.GetAllocatedBytesForCurrentThread() - _allocationBaseline;
        s.LastHealthyTickTimestamp = Volatile.Read(ref _lastHealthyTick);
        _snapshots.Write(s);
    }
}
