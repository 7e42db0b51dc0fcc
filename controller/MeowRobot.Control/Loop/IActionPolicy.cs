namespace MeowRobot.Control.Loop;

/// <summary>
/// What the loop runs each tick: a deterministic action for an observation, written into a caller-owned span.
/// Implementations must not allocate, lock or wait; they may produce anything (NaN, huge values): the safety envelope
/// deals with it.
/// </summary>
public interface IActionPolicy
{
    int ObservationSize { get; }
    int ActionSize { get; }
    void Compute(ReadOnlySpan<float> observation, Span<float> action);
}

/// <summary>
/// A policy ready to drive, with where it came from. Built and verified off the loop, handed over through the loop's
/// <see cref="Handoff.SwapSlot{T}"/>, and disposed off the loop once replaced.
/// </summary>
public sealed class ActivePolicy(IActionPolicy policy, long version, string source) : IDisposable
{
    public IActionPolicy Policy { get; } = policy ?? throw new ArgumentNullException(nameof(policy));

    /// <summary>The bundle version (monotonic per trainer run); 0 for a policy loaded from a file.</summary>
    public long Version { get; } = version;

    /// <summary>Where it came from, for logs (file path, or bundle hash).</summary>
    public string Source { get; } = source;

    public void Dispose() => (Policy as IDisposable)?.Dispose();
}
