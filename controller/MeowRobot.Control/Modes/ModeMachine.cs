using System.Diagnostics;
using MeowRobot.Control.Handoff;

namespace MeowRobot.Control.Modes;

/// <summary>What the mode machine needs to know each tick.</summary>
public struct ModeInputs
{
    /// <summary>None while the policy may drive, else why not (no weights, non-finite output, stale or bad observations,
    /// deadline-miss budget spent).</summary>
    public TransitionReason PolicyFault;

    /// <summary>The operator link's heartbeat is younger than the teleop timeout.</summary>
    public bool TeleopAlive;

    /// <summary>The operator's buttons (levels) as last received. Ignored, except a held e-stop, while the link is dead.</summary>
    public TeleopButtons Buttons;

    /// <summary>Commands from the controller's API (services, CLI), one-shot this tick.</summary>
    public TeleopButtons Commands;

    /// <summary>The controller is stopping: drive the safe action.</summary>
    public bool Stopping;
}

/// <summary>
/// PX4-like arbitration between the policy, the operator and the safe action (issue 7). Each tick the mode is derived
/// from three latched facts (e-stop latched, armed, engaged) and the inputs, highest priority first:
/// e-stop latched → EStop; not armed → Idle; override held on a live link → OperatorOverride; engaged and healthy policy →
/// Policy; live link → Teleop; else SafeStop.
/// "Engaged" is the operator's wish for the policy to drive. Arm and resume set it. It is cleared when the policy is
/// unhealthy while driving (or while the operator overrides it) and whenever the operator falls back to Teleop, so
/// returning to the policy after a failure needs resume (or, if configured, a hysteresis of continuous health).
/// A policy that becomes healthy for the first time after arming (weights arrive) engages by itself unless the operator is
/// driving.
/// <para>Re-engaging after a stall (the rule a transient must not outlast): when the policy was driving and a stall —
/// stale or missing observations, or the deadline-miss budget spent — drops the robot into SafeStop, the machine
/// remembers it. Once the policy has been healthy without a break for <see cref="ModeOptions.StallReengageSeconds"/>
/// (fresh observations again: at a 20 Hz plant, 0.25 s is five new ones), it re-engages by itself
/// (<see cref="TransitionReason.ReengagedAfterStall"/>). Nothing else re-engages: a stall during which the operator took
/// over (Teleop) leaves the robot with the operator, any other fault (non-finite values, a state bound) needs resume,
/// and after <see cref="ModeOptions.StallReengagesPerMinute"/> re-engagements within 60 s the next stall does too.</para> E-stop (button held or API) latches; a reset (button or API, with the e-stop button released) returns to Idle.
/// Loop thread only; never allocates: transitions go into a preallocated ring drained off the loop.
/// </summary>
public sealed class ModeMachine
{
    private const int ModeCount = 6;

    /// <summary>Upper bound of <see cref="ModeOptions.StallReengagesPerMinute"/> (the machine keeps that many timestamps).</summary>
    public const int MaxStallReengagesPerMinute = 1000;

    private readonly long _hysteresisTicks;
    private readonly long _stallReengageTicks;
    private readonly long[] _stallReengagedAt;   // ring of the last re-engagements' timestamps
    private int _stallReengageCount;
    private bool _stalled;
    private readonly long[] _counts = new long[ModeCount * ModeCount];
    private readonly long[] _safeStops = new long[Enum.GetValues<TransitionReason>().Length];
    private TeleopButtons _previousButtons;
    private bool _estopLatched;
    private TransitionReason _estopReason;
    private bool _armed;
    private bool _engaged;
    private long _healthySince = -1;
    private long _transitionTotal;

    public ModeMachine(ModeOptions options, int transitionCapacity = 256)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _hysteresisTicks = options.ResumeHysteresisSeconds > 0
            ? (long)(options.ResumeHysteresisSeconds * Stopwatch.Frequency)
            : -1;
        _stallReengageTicks = options.StallReengageSeconds > 0 && options.StallReengagesPerMinute > 0
            ? (long)(options.StallReengageSeconds * Stopwatch.Frequency)
            : -1;
        _stallReengagedAt = new long[Math.Max(1, options.StallReengagesPerMinute)];
        _armed = options.ArmOnStart;
        _engaged = options.ArmOnStart;
        Mode = ControlMode.Idle;
        Transitions = new SpscRing<ModeTransition>(transitionCapacity);
    }

    public ControlMode Mode { get; private set; }

    public bool EStopLatched => _estopLatched;
    public bool Armed => _armed;
    public bool Engaged => _engaged;

    /// <summary>Times the policy re-engaged by itself after a stall.</summary>
    public long StallReengagements => Volatile.Read(ref _stallReengagements);
    private long _stallReengagements;

    /// <summary>Whether a fault is a stall (transient: the data stopped coming) rather than bad data or a bad policy.</summary>
    public static bool IsStall(TransitionReason fault) =>
        fault is TransitionReason.ObservationStale or TransitionReason.ObservationMissing or TransitionReason.DeadlineMissBudget;

    /// <summary>Transitions in order (drain from one non-real-time thread).</summary>
    public SpscRing<ModeTransition> Transitions { get; }

    /// <summary>Transitions so far (all pairs).</summary>
    public long TransitionTotal => Volatile.Read(ref _transitionTotal);

    /// <summary>How many times the mode went from <paramref name="from"/> to <paramref name="to"/> (read from any thread).</summary>
    public long TransitionCount(ControlMode from, ControlMode to) => Volatile.Read(ref _counts[(int)from * ModeCount + (int)to]);

    /// <summary>How many times the policy was stopped (Policy → SafeStop) for <paramref name="reason"/> (read from any thread).</summary>
    public long SafeStopCount(TransitionReason reason) => Volatile.Read(ref _safeStops[(int)reason]);

    /// <summary>Advances one tick and returns the mode to act in.</summary>
    public ControlMode Step(in ModeInputs inputs, long tick, long timestamp)
    {
        var buttons = inputs.TeleopAlive ? inputs.Buttons : inputs.Buttons & TeleopButtons.EStop;
        var pressed = (buttons & ~_previousButtons) | inputs.Commands;
        _previousButtons = buttons;
        var healthy = inputs.PolicyFault == TransitionReason.None;
        var from = Mode;
        var resumeReason = TransitionReason.PolicyEngaged;
        var reset = false;

        if ((buttons & TeleopButtons.EStop) != 0 && !_estopLatched)
        {
            _estopLatched = true;
            _estopReason = TransitionReason.EStopPressed;
        }
        if ((inputs.Commands & TeleopButtons.EStop) != 0 && !_estopLatched)
        {
            _estopLatched = true;
            _estopReason = TransitionReason.EStopRequested;
        }
        if (_estopLatched && (pressed & TeleopButtons.Reset) != 0 && (buttons & TeleopButtons.EStop) == 0
            && (inputs.Commands & TeleopButtons.EStop) == 0)
        {
            _estopLatched = false;
            _armed = false;
            _engaged = false;
            _stalled = false;
            reset = true;
        }

        if (!_estopLatched && !reset)   // a reset lands in Idle; arming needs a later press
        {
            if ((pressed & TeleopButtons.Disarm) != 0 || inputs.Stopping)
            {
                _armed = false;
                _engaged = false;
                _stalled = false;
            }
            else if ((pressed & TeleopButtons.Arm) != 0 && !_armed)
            {
                _armed = true;
                _engaged = true;
            }
            if (_armed && (pressed & TeleopButtons.Resume) != 0 && !_engaged && healthy)   // a resume never waits for later health
            {
                _engaged = true;
                resumeReason = TransitionReason.Resumed;
            }
        }

        if (!healthy)
            _healthySince = -1;
        else if (_healthySince < 0)
            _healthySince = timestamp;
        if (_engaged || !_armed)
            _stalled = false;
        else if (_stalled && healthy && timestamp - _healthySince >= _stallReengageTicks)
        {
            _stalled = false;
            if (StallBudgetLeft(timestamp))
            {
                _stallReengagedAt[_stallReengageCount++ % _stallReengagedAt.Length] = timestamp;
                Interlocked.Increment(ref _stallReengagements);
                _engaged = true;
                resumeReason = TransitionReason.ReengagedAfterStall;
            }
        }
        if (_armed && !_engaged && _hysteresisTicks > 0 && healthy && timestamp - _healthySince >= _hysteresisTicks)
        {
            _engaged = true;
            resumeReason = TransitionReason.ResumedByHysteresis;
        }

        ControlMode to;
        if (_estopLatched)
            to = ControlMode.EStop;
        else if (inputs.Stopping)
            to = from is ControlMode.Idle ? ControlMode.Idle : ControlMode.SafeStop;
        else if (!_armed)
            to = ControlMode.Idle;
        else if (inputs.TeleopAlive && (buttons & TeleopButtons.Override) != 0)
            to = ControlMode.OperatorOverride;
        else if (_engaged && healthy)
            to = ControlMode.Policy;
        else if (inputs.TeleopAlive)
            to = ControlMode.Teleop;
        else
            to = ControlMode.SafeStop;

        if (!healthy && (from is ControlMode.Policy or ControlMode.OperatorOverride || to is ControlMode.OperatorOverride))
        {
            if (_engaged && from == ControlMode.Policy && to == ControlMode.SafeStop && IsStall(inputs.PolicyFault) && _stallReengageTicks > 0)
                _stalled = true;
            _engaged = false;
        }
        if (_stalled && !healthy && !IsStall(inputs.PolicyFault) && inputs.PolicyFault != TransitionReason.None)
            _stalled = false;   // bad data or a bad policy while stalled: a real fault, resume is needed
        if (to == ControlMode.Teleop)
        {
            _engaged = false;
            _stalled = false;   // the operator has the robot
        }

        if (to != from)
        {
            var reason = inputs.Stopping && to is ControlMode.SafeStop or ControlMode.Idle
                ? TransitionReason.Stopping
                : Why(from, to, inputs, resumeReason);
            Mode = to;
            Interlocked.Increment(ref _counts[(int)from * ModeCount + (int)to]);
            Interlocked.Increment(ref _transitionTotal);
            if (from == ControlMode.Policy && to == ControlMode.SafeStop) Interlocked.Increment(ref _safeStops[(int)reason]);
            Transitions.TryEnqueue(new ModeTransition(tick, timestamp, from, to, reason));
        }
        return to;
    }

    /// <summary>Fewer than the allowed re-engagements in the 60 s before <paramref name="timestamp"/>.</summary>
    private bool StallBudgetLeft(long timestamp)
    {
        var n = _stallReengagedAt.Length;
        if (_stallReengageCount < n) return true;
        var oldestOfLastN = _stallReengagedAt[_stallReengageCount % n];
        return timestamp - oldestOfLastN >= 60 * Stopwatch.Frequency;
    }

    private TransitionReason Why(ControlMode from, ControlMode to, in ModeInputs inputs, TransitionReason resumeReason)
    {
        if (to == ControlMode.EStop)
            return _estopReason;
        if (from == ControlMode.EStop)
            return TransitionReason.EStopReset;
        if (to == ControlMode.Idle)
            return TransitionReason.Disarmed;
        if (from == ControlMode.Idle)
            return TransitionReason.Armed;
        if (to == ControlMode.OperatorOverride)
            return TransitionReason.OverridePressed;
        if (from == ControlMode.OperatorOverride)
            return inputs.TeleopAlive ? TransitionReason.OverrideReleased : TransitionReason.TeleopLinkLost;
        if (to == ControlMode.Policy)
            return resumeReason;
        if (from == ControlMode.Policy)
            return inputs.PolicyFault;
        if (to == ControlMode.Teleop)
            return TransitionReason.TeleopLinkUp;
        return TransitionReason.TeleopLinkLost;
    }
}
