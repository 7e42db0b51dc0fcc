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
    /// <summary>Observations were fresh again for <see cref="ModeOptions.StallReengageSeconds"/> after a stall
    /// (stale or missing observations, deadline-miss budget) stopped the policy.</summary>
    ReengagedAfterStall,
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

/// <summary>
/// Why a driving policy was stopped (Policy → SafeStop), as reports name it: the policy fault in snake case
/// (<c>observation_stale</c>, <c>state_out_of_bounds</c>, …), and its kind — a stall (<see cref="ModeMachine.IsStall"/>:
/// the observations stopped coming or the loop ran late, the machine's doing) or a policy stop (anything else: a state
/// bound crossed, non-finite values).
/// </summary>
public static class SafeStopReason
{
    /// <summary>The faults that can stop a driving policy, in the enum's order.</summary>
    public static readonly IReadOnlyList<TransitionReason> Causes =
    [
        TransitionReason.NoPolicy, TransitionReason.PolicyNonFinite, TransitionReason.ObservationMissing, TransitionReason.ObservationStale,
        TransitionReason.ObservationNonFinite, TransitionReason.StateOutOfBounds, TransitionReason.DeadlineMissBudget,
    ];

    public static string Name(TransitionReason reason) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(reason.ToString());

    /// <summary>Whether the reason named <paramref name="name"/> (<see cref="Name"/>) is a stall.</summary>
    public static bool IsStall(string name) => Causes.Any(c => ModeMachine.IsStall(c) && Name(c) == name);
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

    /// <summary>After a stall (observations stale or missing, or the deadline-miss budget spent) stopped a driving policy
    /// into SafeStop, the policy re-engages by itself once it has been healthy this long without a break (0: never; then
    /// the stall is handled like any other fault). Not after the operator took over (Teleop), and at most
    /// <see cref="StallReengagesPerMinute"/> times in any 60 s.</summary>
    public double StallReengageSeconds { get; set; } = 0.25;

    /// <summary>Re-engagements after stalls allowed within any 60 s; one stall more and the policy stays disengaged until
    /// an explicit resume (a link that keeps failing is a fault, not a transient).</summary>
    public int StallReengagesPerMinute { get; set; } = 3;

    public void Validate()
    {
        var problems = new List<string>();
        if (!(double.IsFinite(TeleopTimeoutSeconds) && TeleopTimeoutSeconds > 0 && TeleopTimeoutSeconds <= 10))
            problems.Add($"TeleopTimeoutSeconds must be in (0, 10] (is {TeleopTimeoutSeconds})");
        if (!(double.IsFinite(ResumeHysteresisSeconds) && ResumeHysteresisSeconds >= 0))
            problems.Add($"ResumeHysteresisSeconds must be ≥ 0 (is {ResumeHysteresisSeconds})");
        if (!(double.IsFinite(StallReengageSeconds) && StallReengageSeconds >= 0 && StallReengageSeconds <= 60))
            problems.Add($"StallReengageSeconds must be in [0, 60] (is {StallReengageSeconds})");
        if (StallReengagesPerMinute is < 0 or > ModeMachine.MaxStallReengagesPerMinute)
            problems.Add($"StallReengagesPerMinute must be in [0, {ModeMachine.MaxStallReengagesPerMinute}] (is {StallReengagesPerMinute})");
        if (problems.Count > 0)
            throw new Safety.InvalidControlOptionsException(problems);
    }
}
