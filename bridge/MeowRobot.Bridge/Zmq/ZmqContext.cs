namespace MeowRobot.Bridge.Zmq;

/// <summary>
/// A ZeroMQ context (thread-safe). Sockets come from <see cref="CreateSocket"/>, owned by the calling thread, with LINGER
/// 0 so nothing unsent ever holds up termination. <see cref="Dispose"/> never hangs: zmq_ctx_shutdown (every blocked
/// call on any thread returns with <see cref="ZmqContextTerminatedException"/>), then each socket still open is closed
/// (waiting only for a call in flight to return, which the shutdown guarantees), then zmq_ctx_term, retried on EINTR.
/// </summary>
public sealed class ZmqContext : IDisposable
{
    private readonly Lock _gate = new();
    private readonly HashSet<ZmqSocket> _sockets = [];
    private nint _handle;
    private bool _shutdown;

    public ZmqContext()
    {
        _handle = ZmqNative.CtxNew();
        if (_handle == 0) throw ZmqException.For("zmq_ctx_new", ZmqNative.Errno());
    }

    /// <summary>libzmq's version, e.g. (4, 3, 4).</summary>
    public static unsafe Version LibraryVersion
    {
        get
        {
            int major, minor, patch;
            ZmqNative.Version(&major, &minor, &patch);
            return new Version(major, minor, patch);
        }
    }

    /// <summary>zmq_has: whether libzmq was built with a capability ("curve", "ipc", ...).</summary>
    public static bool Has(string capability) => ZmqNative.Has(capability) == 1;

    internal nint Handle => _handle;

    /// <summary>A new socket owned by the calling thread (see <see cref="ZmqSocket"/> on ownership).</summary>
    public ZmqSocket CreateSocket(ZmqSocketType type)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_handle == 0, this);
            if (_shutdown) throw new ZmqContextTerminatedException("zmq_socket");
            var socket = new ZmqSocket(this, type);
            _sockets.Add(socket);
            return socket;
        }
    }

    internal void Forget(ZmqSocket socket)
    {
        lock (_gate) _sockets.Remove(socket);
    }

    /// <summary>zmq_ctx_shutdown: blocked and later calls on this context's sockets fail with
    /// <see cref="ZmqContextTerminatedException"/>; sockets stay open until closed. Idempotent, any thread.</summary>
    public void Shutdown()
    {
        lock (_gate)
        {
            if (_handle == 0 || _shutdown) return;
            _shutdown = true;
            ZmqNative.CtxShutdown(_handle);
        }
    }

    public void Dispose()
    {
        Shutdown();
        ZmqSocket[] open;
        lock (_gate)
        {
            if (_handle == 0) return;
            open = [.. _sockets];
        }
        foreach (var socket in open) socket.CloseForContext();
        nint handle;
        lock (_gate)
        {
            handle = _handle;
            _handle = 0;
            _sockets.Clear();
        }
        if (handle == 0) return;
        while (ZmqNative.CtxTerm(handle) != 0 && ZmqNative.Errno() == ZmqNative.EINTR)
        {
            // a signal interrupted the wait for sockets to close; they are all closed, so retrying is prompt
        }
    }
}
