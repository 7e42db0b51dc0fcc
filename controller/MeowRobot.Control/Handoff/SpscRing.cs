using System.Numerics;

namespace MeowRobot.Control.Handoff;

/// <summary>
/// A bounded single-producer single-consumer queue of unmanaged records (the loop enqueues mode transitions, a non-real-time
/// thread drains and logs them). Preallocated; enqueue never waits and never allocates: when full, the record is dropped
/// and counted in <see cref="Dropped"/>.
/// </summary>
public sealed class SpscRing<T> where T : unmanaged
{
    private readonly T[] _items;
    private readonly int _mask;
    private long _head;     // next to dequeue (consumer)
    private long _tail;     // next to enqueue (producer)
    private long _dropped;

    public SpscRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)capacity);
        _items = new T[size];
        _mask = size - 1;
    }

    public int Capacity => _items.Length;

    /// <summary>Records dropped because the consumer fell behind.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Producer side.</summary>
    public bool TryEnqueue(in T item)
    {
        var tail = _tail;
        if (tail - Volatile.Read(ref _head) >= _items.Length)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        _items[(int)(tail & _mask)] = item;
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }

    /// <summary>Consumer side.</summary>
    public bool TryDequeue(out T item)
    {
        var head = _head;
        if (head == Volatile.Read(ref _tail))
        {
            item = default;
            return false;
        }
        item = _items[(int)(head & _mask)];
        Volatile.Write(ref _head, head + 1);
        return true;
    }
}
