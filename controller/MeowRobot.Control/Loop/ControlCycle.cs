using MeowRobot.Control.Handoff;
using MeowRobot.Control.Modes;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Loop;

/// <summary>
/// One control cycle, without any timing: adopt a pending policy, read the newest observation and judge it (missing,
/// stale, non-finite, out of its state bounds), read the operator link, run the policy, arbitrate the mode, shape the
/// action and write it. <see cref="ControlLoop"/> runs it on the clock; tests run it tick by tick with synthetic time.
/// Loop thread only; never allocates, locks or waits.
/// </summary>
public sealed class ControlCycle
{
    private readonly IRobotIo _io;
    private readonly SafetyEnvelope _envelope;
    private readonly ModeMachine _modes;
    private readonly float[] _observation;
    private readonly float[] _policyAction;
    private readonly float[] _target;
    private readonly float[] _action;
    private readonly long _observationTimeout;
    private readonly long _teleopTimeout;
    private ActivePolicy? _policy;

    /// <param name="observationTimeoutTicks">Stopwatch ticks after which an observation is stale.</param>
    /// <param name="teleopTimeoutTicks">Stopwatch ticks after which the operator link counts as lost.</param>
    public ControlCycle(IRobotIo io, SafetyEnvelope envelope, ModeMachine modes, long observationTimeoutTicks, long teleopTimeoutTicks)
    {
        ArgumentNullException.ThrowIfNull(io);
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(modes);
        if (envelope.ActionSize != io.ActionSize || envelope.ObservationSize != io.ObservationSize)
            throw new ArgumentException($"envelope is for ({envelope.ObservationSize}, {envelope.ActionSize}), the robot is ({io.ObservationSize}, {io.ActionSize})");
        _io = io;
        _envelope = envelope;
        _modes = modes;
        _observation = new float[io.ObservationSize];
        _policyAction = new float[io.ActionSize];
        _target = new float[io.ActionSize];
        _action = new float[io.ActionSize];
        _observationTimeout = observationTimeoutTicks;
        _teleopTimeout = teleopTimeoutTicks;
    }

    /// <summary>New policies go here (any thread); adopted at the start of a cycle.</summary>
    public SwapSlot<ActivePolicy> Policies { get; } = new();

    /// <summary>The operator link publishes here.</summary>
    public TeleopChannel Teleop { get; } = new();

    public SafetyEnvelope Envelope => _envelope;
    public ModeMachine Modes => _modes;

    /// <summary>The policy now driving (or able to), null before the first.</summary>
    public ActivePolicy? Policy => _policy;
    public long PolicyVersion { get; private set; }
    public long PolicySwaps { get; private set; }
    public long NonFiniteObservations { get; private set; }
    public long NonFiniteActions { get; private set; }
    public long StaleObservationTicks { get; private set; }
    public bool TeleopAlive { get; private set; }
    public TransitionReason PolicyFault { get; private set; }
    public ObservationFault ObservationFault { get; private set; }

    /// <summary>The action written by the last cycle.</summary>
    public ReadOnlySpan<float> LastAction => _action;

    /// <summary>Runs one cycle at time <paramref name="now"/> (Stopwatch ticks) and returns the mode it acted in.</summary>
    /// <param name="consecutiveMisses">Deadlines missed in a row before this cycle (judged against the miss budget).</param>
    /// <param name="commands">One-shot commands from the API this cycle (arm, resume, e-stop, reset, disarm).</param>
    public ControlMode Run(long tick, long now, int consecutiveMisses, TeleopButtons commands, bool stopping)
    {
        if (Policies.TryExchange(ref _policy))
        {
            PolicySwaps++;
            PolicyVersion = _policy!.Version;
        }

        ObservationFault observationFault;
        if (!_io.TryReadObservation(_observation, out var observedAt))
            observationFault = ObservationFault.Missing;
        else if (now - observedAt > _observationTimeout)
            observationFault = ObservationFault.Stale;
        else
            observationFault = _envelope.CheckObservation(_observation);
        if (observationFault == ObservationFault.NonFinite) NonFiniteObservations++;
        if (observationFault == ObservationFault.Stale) StaleObservationTicks++;

        var teleopAlive = Teleop.TryRead(out var teleop) && now - teleop.HeartbeatTimestamp <= _teleopTimeout;

        var fault = observationFault switch
        {
            ObservationFault.Missing => TransitionReason.ObservationMissing,
            ObservationFault.Stale => TransitionReason.ObservationStale,
            ObservationFault.NonFinite => TransitionReason.ObservationNonFinite,
            ObservationFault.OutOfBounds => TransitionReason.StateOutOfBounds,
            _ => TransitionReason.None,
        };
        if (_policy is null)
            fault = TransitionReason.NoPolicy;
        else if (fault == TransitionReason.None && consecutiveMisses >= _envelope.DeadlineMissBudget)
            fault = TransitionReason.DeadlineMissBudget;
        else if (fault == TransitionReason.None && !ComputePolicy(_policy.Policy))
        {
            fault = TransitionReason.PolicyNonFinite;
            NonFiniteActions++;
        }

        var inputs = new ModeInputs
        {
            PolicyFault = fault,
            TeleopAlive = teleopAlive,
            Buttons = teleop.Buttons,
            Commands = commands,
            Stopping = stopping,
        };
        var mode = _modes.Step(inputs, tick, now);

        switch (mode)
        {
            case ControlMode.Policy:
                _envelope.Emit(_policyAction, _action);
                break;
            case ControlMode.Teleop:
            case ControlMode.OperatorOverride:
                ReadOnlySpan<float> axes = teleop.Axes;
                _envelope.MapAxes(axes[..Math.Clamp(teleop.AxisCount, 0, TeleopInput.MaxAxes)], _target);
                _envelope.Emit(_target, _action);
                break;
            default:
                _envelope.EmitSafe(_action);
                break;
        }
        _io.WriteAction(_action);

        TeleopAlive = teleopAlive;
        PolicyFault = fault;
        ObservationFault = observationFault;
        return mode;
    }

    /// <summary>Takes the current policy out (shutdown, after the loop has ended), so its owner can dispose it.</summary>
    public ActivePolicy? DetachPolicy()
    {
        var p = _policy;
        _policy = null;
        return p;
    }

    private bool ComputePolicy(IActionPolicy policy)
    {
        try
        {
            policy.Compute(_observation, _policyAction);
        }
#pragma warning disable CA1031 // a throwing policy is an unhealthy policy, not a dead loop
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
        foreach (var v in _policyAction)
        {
            if (!float.IsFinite(v))
                return false;
        }
        return true;
    }
}
