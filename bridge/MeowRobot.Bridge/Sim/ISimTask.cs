namespace MeowRobot.Bridge.Sim;

/// <summary>What a task is, as the wire sees it (the "hello" reply of sim protocol v1).</summary>
public sealed record TaskSpec(
    string Name,
    int ObsDim,
    int ActDim,
    float[] ActLow,
    float[] ActHigh,
    int MaxEpisodeSteps);

/// <summary>A randomisable physical parameter of a task (for sim-to-real campaigns) and its allowed range.
/// <paramref name="Integer"/> parameters (e.g. an action delay in steps) accept whole numbers only.</summary>
public sealed record TaskParameter(string Name, double Default, double Min, double Max, bool Integer = false)
{
    /// <summary>Null when <paramref name="value"/> is acceptable, else why not (the text of the error reply).</summary>
    public string? Validate(double value) =>
        !double.IsFinite(value) ? $"parameter '{Name}' must be finite, got {value}"
        : value < Min || value > Max ? $"parameter '{Name}' = {value} is outside [{Min}, {Max}]"
        : Integer && value != Math.Floor(value) ? $"parameter '{Name}' takes whole numbers, got {value}"
        : null;
}

/// <summary>
/// One environment instance. Stepping is allocation-free: observations are written into caller-owned spans.
/// Truncation at <see cref="TaskSpec.MaxEpisodeSteps"/> is the caller's (the vector env's) business, not the task's.
/// </summary>
public interface ISimTask : IDisposable
{
    TaskSpec Spec { get; }

    /// <summary>The randomisable parameters this task exposes.</summary>
    IReadOnlyList<TaskParameter> Parameters { get; }

    /// <summary>Current value of a parameter; <see cref="ArgumentException"/> for an unknown name.</summary>
    double GetParameter(string name);

    /// <summary>Sets a parameter (applies from the next reset or step as the task documents);
    /// <see cref="ArgumentOutOfRangeException"/> outside [Min, Max], <see cref="ArgumentException"/> for an unknown name.</summary>
    void SetParameter(string name, double value);

    /// <summary>Starts a new episode. With a seed the episode is reproducible; without, the task's own RNG stream continues.</summary>
    void Reset(int? seed, Span<float> obs);

    /// <summary>Advances one step. Actions outside [ActLow, ActHigh] are clipped as the task documents.
    /// Returns the reward and whether the episode terminated (a true terminal state, not a time limit).</summary>
    (float Reward, bool Terminated) Step(ReadOnlySpan<float> action, Span<float> obs);
}
