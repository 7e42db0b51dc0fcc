namespace MeowRobot.Control.Modes;

/// <summary>Who drives the actuators. Priority when several apply: EStop &gt; OperatorOverride &gt; Policy &gt; Teleop &gt; SafeStop.</summary>
public enum ControlMode : byte
{
    /// <summary>Not armed: the safe action.</summary>
    Idle,
    /// <summary>The policy's action, shaped by the envelope.</summary>
    Policy,
    /// <summary>Fallback: the operator's axes because the policy is unhealthy or not engaged.</summary>
    Teleop,
    /// <summary>The operator holds override: the operator's axes above a healthy policy.</summary>
    OperatorOverride,
    /// <summary>Nobody healthy can drive: the safe action.</summary>
    SafeStop,
    /// <summary>Latched e-stop: the safe action until an explicit reset.</summary>
    EStop,
}

/// <summary>Why a mode changed (or, for health, why the policy may not drive).</summary>
public enum TransitionReason : byte
{
    None,
    Armed,
    Disarmed,
    EStopPressed,
    EStopRequested,
    EStopReset,
    OverridePressed,
    OverrideReleased,
    /// <summary>The operator pressed resume (or the arm engaged a policy that became healthy).</summary>
    Resumed,
    /// <summary>The policy stayed healthy for the configured hysteresis.</summary>
    ResumedByHysteresis,
    PolicyEngaged,
    NoPolicy,
    PolicyNonFinite,
    ObservationMissing,
    ObservationStale,
    ObservationNonFinite,
    StateOutOfBounds,
    DeadlineMissBudget,
    TeleopLinkUp,
    TeleopLinkLost,
    Stopping,
}

/// <summary>One mode change, as the loop records it (enqueued without allocation, drained and logged off the loop).</summary>
public readonly record struct ModeTransition(long Tick, long Timestamp, ControlMode From, ControlMode To, TransitionReason Reason);

/// <summary>Mode-machine configuration (validated at start).</summary>
public sealed class ModeOptions
{
    /// <summary>The operator link counts as lost when its last heartbeat is older than this (PX4's RC loss: 0.5 s).</summary>
    public double TeleopTimeoutSeconds { get; set; } = 0.5;

    /// <summary>0 (default): after a fallback only an explicit resume (operator button or <c>Resume()</c>) returns to the policy.
    /// &gt; 0: a policy that has been healthy this long returns by itself.</summary>
    public double ResumeHysteresisSeconds { get; set; }

    /// <summary>Arm at start, as if the operator had pressed arm (sim rehearsal, tests). Off by default.</summary>
    public bool ArmOnStart { get; set; }

    public void Validate()
    {
        var problems = new List<string>();
        if (!(double.IsFinite(TeleopTimeoutSeconds) && TeleopTimeoutSeconds > 0 && TeleopTimeoutSeconds <= 10))
            problems.Add($"TeleopTimeoutSeconds must be in (0, 10] (is {TeleopTimeoutSeconds})");
        if (!(double.IsFinite(ResumeHysteresisSeconds) && ResumeHysteresisSeconds >= 0))
            problems.Add($"ResumeHysteresisSeconds must be ≥ 0 (is {ResumeHysteresisSeconds})");
        if (problems.Count > 0)
            throw new Safety.InvalidControlOptionsException(problems);
    }
}
