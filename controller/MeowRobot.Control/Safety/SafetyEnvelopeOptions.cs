namespace MeowRobot.Control.Safety;

/// <summary>What the envelope drives the actuators toward when it must not use the commanded action.</summary>
public enum SafeActionKind
{
    /// <summary>Toward zero (clamped into the bounds).</summary>
    Zero,
    /// <summary>Hold the last emitted action.</summary>
    Hold,
    /// <summary>Decay the last emitted action toward zero with time constant <see cref="SafetyEnvelopeOptions.DampingTimeConstantSeconds"/>.</summary>
    Damped,
}

/// <summary>A state bound: observation element <see cref="Index"/> must lie in [<see cref="Min"/>, <see cref="Max"/>] (e.g. a joint position or velocity range).</summary>
public readonly record struct StateBound(int Index, float Min, float Max);

/// <summary>
/// The safety envelope's configuration, validated once at start (<see cref="Validate"/>); the defaults are conservative.
/// </summary>
public sealed class SafetyEnvelopeOptions
{
    /// <summary>Lower action bound per actuator (required).</summary>
    public float[] ActionLow { get; set; } = [];

    /// <summary>Upper action bound per actuator (required).</summary>
    public float[] ActionHigh { get; set; } = [];

    /// <summary>Largest change per second per actuator; per tick the limit is this × the loop period. Null: the full bound
    /// range in <see cref="DefaultFullSwingSeconds"/>.</summary>
    public float[]? MaxRatePerSecond { get; set; }

    /// <summary>Seconds for a full-range swing when <see cref="MaxRatePerSecond"/> is not given.</summary>
    public const double DefaultFullSwingSeconds = 0.5;

    /// <summary>First-order low-pass cutoff on the emitted action; null = off.</summary>
    public double? LowPassCutoffHz { get; set; }

    public SafeActionKind SafeAction { get; set; } = SafeActionKind.Damped;

    /// <summary>Time constant of <see cref="SafeActionKind.Damped"/>.</summary>
    public double DampingTimeConstantSeconds { get; set; } = 0.2;

    /// <summary>An observation older than this (by its own timestamp) is stale: the policy is unhealthy.</summary>
    public double ObservationTimeoutSeconds { get; set; } = 0.1;

    /// <summary>Observation ranges outside which the policy is not trusted.</summary>
    public StateBound[] StateBounds { get; set; } = [];

    /// <summary>This many consecutive missed deadlines make the policy unhealthy (libfranka stops after 20 at 1 kHz).</summary>
    public int DeadlineMissBudget { get; set; } = 20;

    /// <summary>Options for a task's action space with everything else at its default.</summary>
    public static SafetyEnvelopeOptions ForBounds(ReadOnlySpan<float> low, ReadOnlySpan<float> high) =>
        new() { ActionLow = low.ToArray(), ActionHigh = high.ToArray() };

    /// <summary>Checks the options against the robot; throws <see cref="InvalidControlOptionsException"/> listing every problem.</summary>
    public void Validate(int actionSize, int observationSize)
    {
        var problems = Problems(actionSize, observationSize);
        if (problems.Count > 0)
            throw new InvalidControlOptionsException(problems);
    }

    /// <summary>Every problem of the options; a size not known yet (null: a simulated robot not reached, whose sizes
    /// the worker says) skips the checks against it, and the bounds that are given are then checked against each other.</summary>
    public IReadOnlyList<string> Problems(int? actionSize, int? observationSize)
    {
        var problems = new List<string>();
        var expected = actionSize ?? (ActionLow.Length > 0 ? ActionLow.Length : ActionHigh.Length);
        if (ActionLow.Length != expected || ActionHigh.Length != expected)
            problems.Add($"ActionLow/ActionHigh must have {expected} entries (have {ActionLow.Length}/{ActionHigh.Length})");
        else
        {
            for (var i = 0; i < expected; i++)
            {
                if (!float.IsFinite(ActionLow[i]) || !float.IsFinite(ActionHigh[i]) || !(ActionLow[i] < ActionHigh[i]))
                    problems.Add($"action bound {i}: need finite low < high (have [{ActionLow[i]}, {ActionHigh[i]}])");
            }
        }
        if (MaxRatePerSecond is { } rates)
        {
            var rateCount = actionSize ?? (expected > 0 ? expected : rates.Length);
            if (rates.Length != rateCount)
                problems.Add($"MaxRatePerSecond must have {rateCount} entries (has {rates.Length})");
            else
            {
                for (var i = 0; i < rates.Length; i++)
                {
                    if (!float.IsFinite(rates[i]) || rates[i] <= 0)
                        problems.Add($"MaxRatePerSecond[{i}] must be finite and > 0 (is {rates[i]})");
                }
            }
        }
        if (LowPassCutoffHz is { } fc && !(double.IsFinite(fc) && fc > 0))
            problems.Add($"LowPassCutoffHz must be > 0 (is {fc})");
        if (!Enum.IsDefined(SafeAction))
            problems.Add($"SafeAction {SafeAction} is unknown");
        if (!(double.IsFinite(DampingTimeConstantSeconds) && DampingTimeConstantSeconds > 0))
            problems.Add($"DampingTimeConstantSeconds must be > 0 (is {DampingTimeConstantSeconds})");
        if (!(double.IsFinite(ObservationTimeoutSeconds) && ObservationTimeoutSeconds > 0 && ObservationTimeoutSeconds <= 10))
            problems.Add($"ObservationTimeoutSeconds must be in (0, 10] (is {ObservationTimeoutSeconds})");
        if (DeadlineMissBudget < 1)
            problems.Add($"DeadlineMissBudget must be ≥ 1 (is {DeadlineMissBudget})");
        foreach (var b in StateBounds)
        {
            if (b.Index < 0 || b.Index >= (observationSize ?? int.MaxValue))
                problems.Add($"state bound index {b.Index} outside the observation (size {observationSize})");
            if (float.IsNaN(b.Min) || float.IsNaN(b.Max) || !(b.Min <= b.Max))
                problems.Add($"state bound {b.Index}: need min ≤ max (have [{b.Min}, {b.Max}])");
        }
        return problems;
    }
}

/// <summary>Controller configuration that cannot be run; <see cref="Problems"/> lists every reason.</summary>
public sealed class InvalidControlOptionsException(IReadOnlyList<string> problems)
    : Exception("invalid controller configuration: " + string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
