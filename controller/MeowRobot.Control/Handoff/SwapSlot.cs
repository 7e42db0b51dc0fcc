namespace MeowRobot.Control.Handoff;

/// <summary>
/// Hands a prepared object (a new policy instance) to the loop thread in one atomic step, and the one it replaces back
/// to a non-real-time thread for release. Offering never waits; an offer not yet taken is displaced by a newer one (the
/// displaced object is returned to the offerer). The loop takes at a tick boundary, and only while the retired slot is
/// empty, so every replaced object is released by someone off the loop and the loop never disposes anything.
/// </summary>
public sealed class SwapSlot<T> where T : class
{
    private T? _pending;
    private T? _retired;

    /// <summary>Offers <paramref name="next"/>; returns the earlier offer it displaced, which the caller now owns.</summary>
    public T? Offer(T next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return Interlocked.Exchange(ref _pending, next);
    }

    /// <summary>True while an offer waits to be taken.</summary>
    public bool HasPending => Volatile.Read(ref _pending) is not null;

    /// <summary>
    /// Loop side: when an offer is pending and the retired slot is free, makes it <paramref name="current"/> and parks the
    /// old current in the retired slot. Wait-free and allocation-free.
    /// </summary>
    public bool TryExchange(ref T? current)
    {
        if (Volatile.Read(ref _retired) is not null)
            return false;
        var next = Interlocked.Exchange(ref _pending, null);
        if (next is null)
            return false;
        if (current is not null)
            Volatile.Write(ref _retired, current);
        current = next;
        return true;
    }

    /// <summary>Non-real-time side: takes the object the loop let go of (to dispose it), if any.</summary>
    public T? TakeRetired() => Interlocked.Exchange(ref _retired, null);

    /// <summary>Takes a pending offer back (shutdown).</summary>
    public T? TakePending() => Interlocked.Exchange(ref _pending, null);
}
