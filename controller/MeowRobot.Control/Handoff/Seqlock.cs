namespace MeowRobot.Control.Handoff;

/// <summary>
/// A value written by one thread that never waits (the loop) and read by any number of threads that retry when they
/// overlap a write (telemetry, health checks). Use for snapshots, not for data the loop reads (the loop reads through
/// <see cref="LatestValue{T}"/>, which never retries).
/// </summary>
public sealed class Seqlock<T> where T : unmanaged
{
    private T _value;
    private int _sequence;

    /// <summary>Writer (single thread).</summary>
    public void Write(in T value)
    {
        var s = _sequence;
        Volatile.Write(ref _sequence, s + 1);
        Interlocked.MemoryBarrier();
        _value = value;
        Volatile.Write(ref _sequence, s + 2);
    }

    /// <summary>Any reader thread: a consistent copy (spins while a write is in progress). False until the first write.</summary>
    public bool TryRead(out T value)
    {
        var spin = new SpinWait();
        while (true)
        {
            var before = Volatile.Read(ref _sequence);
            if ((before & 1) == 0)
            {
                value = _value;
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _sequence) == before)
                    return before != 0;
            }
            spin.SpinOnce();
        }
    }
}
