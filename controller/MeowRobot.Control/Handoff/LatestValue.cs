namespace MeowRobot.Control.Handoff;

/// <summary>
/// The newest value of a fixed-size block of <typeparamref name="T"/>, handed from writer threads to ONE reader thread
/// without the reader ever waiting (a triple buffer: the writer fills a back slot and swaps it with the shared middle slot,
/// the reader swaps the middle slot with its front slot when it holds something new). Readers see whole values, never a
/// mix of two writes; values published between two reads are skipped (latest value wins, like RealtimeBuffer).
/// Writers serialise among themselves with a spin claim, so with a single writer (the usual case, e.g. the loop publishing
/// snapshots) nobody ever waits. Reads must all come from one thread at a time.
/// </summary>
public sealed class LatestValue<T> where T : unmanaged
{
    private const int FreshBit = 4;
    private const int IndexMask = 3;

    private readonly T[] _slots;
    private readonly long[] _timestamps = new long[3];
    private readonly long[] _sequences = new long[3];
    private int _shared;          // index of the middle slot, | FreshBit while it holds a value the reader has not taken
    private int _back = 1;        // owned by the writer holding the claim
    private int _front = 2;       // owned by the reader
    private int _writerClaim;
    private long _published;

    public LatestValue(int length = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        Length = length;
        _slots = new T[3 * length];
    }

    /// <summary>Elements per value.</summary>
    public int Length { get; }

    /// <summary>How many values have been published (any thread).</summary>
    public long PublishedCount => Volatile.Read(ref _published);

    /// <summary>Publishes <paramref name="value"/> (exactly <see cref="Length"/> elements) stamped with <paramref name="timestamp"/>.</summary>
    public void Publish(ReadOnlySpan<T> value, long timestamp)
    {
        if (value.Length != Length)
            throw new ArgumentException($"expected {Length} elements, got {value.Length}", nameof(value));
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _writerClaim, 1, 0) != 0)
            spin.SpinOnce(sleep1Threshold: -1);
        try
        {
            var back = _back;
            value.CopyTo(_slots.AsSpan(back * Length, Length));
            _timestamps[back] = timestamp;
            var sequence = _published + 1;
            _sequences[back] = sequence;
            // The exchange is a full fence: the slot's contents are visible before the reader can take it.
            _back = Interlocked.Exchange(ref _shared, back | FreshBit) & IndexMask;
            Volatile.Write(ref _published, sequence);
        }
        finally
        {
            Volatile.Write(ref _writerClaim, 0);
        }
    }

    /// <summary>Publishes a single value (for <see cref="Length"/> == 1).</summary>
    public void Publish(in T value, long timestamp) => Publish(new ReadOnlySpan<T>(in value), timestamp);

    /// <summary>
    /// The newest value (reader thread only). The span stays valid, and unchanged, until this reader's next call.
    /// <paramref name="sequence"/> is 0 while nothing has been published, else the 1-based number of the value, so a
    /// reader can tell a new value from one it has seen.
    /// </summary>
    public ReadOnlySpan<T> Read(out long timestamp, out long sequence)
    {
        if ((Volatile.Read(ref _shared) & FreshBit) != 0)
            _front = Interlocked.Exchange(ref _shared, _front) & IndexMask;
        var front = _front;
        timestamp = _timestamps[front];
        sequence = _sequences[front];
        return _slots.AsSpan(front * Length, Length);
    }

    /// <summary>Copies the newest value into <paramref name="into"/>; false when nothing has been published yet.</summary>
    public bool TryRead(Span<T> into, out long timestamp, out long sequence)
    {
        var value = Read(out timestamp, out sequence);
        value.CopyTo(into);
        return sequence != 0;
    }

    /// <summary>The newest single value (for <see cref="Length"/> == 1); false when nothing has been published yet.</summary>
    public bool TryRead(out T value, out long timestamp)
    {
        var span = Read(out timestamp, out var sequence);
        value = span[0];
        return sequence != 0;
    }
}
