using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MeowRobot.Bridge.Zmq;

/// <summary>
/// zmq_poll over several sockets with a preallocated zmq_pollitem_t array: <see cref="Poll"/> allocates nothing.
/// Used by the thread that owns all its sockets (checked at each poll).
/// </summary>
public sealed unsafe class ZmqPoller : IDisposable
{
    private readonly List<ZmqSocket> _sockets = [];
    private ZmqNative.PollItem* _items;
    private int _capacity;

    public ZmqPoller(int capacity = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _items = (ZmqNative.PollItem*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(ZmqNative.PollItem));
    }

    public int Count => _sockets.Count;

    /// <summary>Adds a socket to watch for <paramref name="events"/>; returns its index for <see cref="Ready"/>.</summary>
    public int Add(ZmqSocket socket, ZmqPollEvents events)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ObjectDisposedException.ThrowIf(_items == null, this);
        if (_sockets.Count == _capacity)
        {
            _capacity *= 2;
            _items = (ZmqNative.PollItem*)NativeMemory.Realloc(_items, (nuint)(_capacity * sizeof(ZmqNative.PollItem)));
        }
        var index = _sockets.Count;
        _items[index] = new ZmqNative.PollItem { Events = (short)events };
        _sockets.Add(socket);
        return index;
    }

    /// <summary>The events ready on the socket at <paramref name="index"/> after the last <see cref="Poll"/>.</summary>
    public ZmqPollEvents Ready(int index)
    {
        if ((uint)index >= (uint)_sockets.Count) throw new ArgumentOutOfRangeException(nameof(index));
        return (ZmqPollEvents)_items[index].Revents;
    }

    /// <summary>Waits up to <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>: forever) for any
    /// registered event; returns how many sockets are ready (0 on timeout).</summary>
    public int Poll(TimeSpan timeout)
    {
        ObjectDisposedException.ThrowIf(_items == null, this);
        var n = _sockets.Count;
        var entered = 0;
        try
        {
            // hold every socket's gate so the context cannot close one mid-poll (its shutdown wakes the poll)
            for (; entered < n; entered++)
            {
                _sockets[entered].Gate.Enter();
                _items[entered].Socket = _sockets[entered].HandleForPoll();
                _items[entered].Revents = 0;
            }
            return PollItems(_items, n, timeout);
        }
        finally
        {
            for (var i = 0; i < entered; i++) _sockets[i].Gate.Exit();
        }
    }

    /// <summary>zmq_poll, retried on EINTR with the time that remains.</summary>
    internal static int PollItems(ZmqNative.PollItem* items, int count, TimeSpan timeout)
    {
        var infinite = timeout == Timeout.InfiniteTimeSpan;
        if (!infinite) ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            var left = infinite ? -1L : Math.Max(0L, (long)Math.Ceiling((timeout - Stopwatch.GetElapsedTime(start)).TotalMilliseconds));
            var rc = ZmqNative.Poll(items, count, left);
            if (rc >= 0) return rc;
            var errno = ZmqNative.Errno();
            if (errno != ZmqNative.EINTR) throw ZmqException.For("zmq_poll", errno);
        }
    }

    public void Dispose()
    {
        if (_items == null) return;
        NativeMemory.Free(_items);
        _items = null;
        _sockets.Clear();
    }
}
