using System.Text;

namespace MeowRobot.Bridge.Zmq;

/// <summary>
/// A ZeroMQ socket. ZeroMQ sockets are not thread-safe, so each is owned by one thread: the one that created it. Any
/// use from another thread throws <see cref="InvalidOperationException"/> until the owner hands it over, either to a
/// known thread (<see cref="HandOverTo"/>) or to whichever thread next calls <see cref="Adopt"/> (<see cref="Release"/>);
/// both publish the socket with a full memory barrier, as ZeroMQ requires for a migration.
/// <para>Blocking calls retry on EINTR; ETERM (context shutting down) throws <see cref="ZmqContextTerminatedException"/>;
/// EAGAIN is <c>false</c> from the <c>Try</c> forms and <see cref="TimeoutException"/> from the others (it can only
/// mean a send/receive timeout expired).</para>
/// </summary>
public sealed unsafe class ZmqSocket : IDisposable
{
    private const int Unowned = 0;

    private readonly ZmqContext _context;
    // Serialises native calls with the context closing this socket on Dispose; uncontended in normal use (only the
    // owner thread calls), so it costs a few nanoseconds.
    private readonly Lock _gate = new();
    private nint _handle;
    private int _owner;

    internal ZmqSocket(ZmqContext context, ZmqSocketType type)
    {
        _context = context;
        Type = type;
        _owner = Environment.CurrentManagedThreadId;
        _handle = ZmqNative.Socket(context.Handle, (int)type);
        if (_handle == 0) throw ZmqException.For($"zmq_socket({type})", ZmqNative.Errno());
        Linger = TimeSpan.Zero;
    }

    public ZmqSocketType Type { get; }

    /// <summary>The managed thread id of the owner, or 0 while released.</summary>
    public int OwnerThreadId => Volatile.Read(ref _owner);

    // ---- ownership -----------------------------------------------------------------------------------------------

    /// <summary>Gives the socket to <paramref name="thread"/> (which may not have started yet). Owner only.</summary>
    public void HandOverTo(Thread thread)
    {
        ArgumentNullException.ThrowIfNull(thread);
        CheckOwner();
        Interlocked.Exchange(ref _owner, thread.ManagedThreadId);
    }

    /// <summary>Gives up ownership; the next thread to call <see cref="Adopt"/> becomes the owner. Owner only.</summary>
    public void Release()
    {
        CheckOwner();
        Interlocked.Exchange(ref _owner, Unowned);
    }

    /// <summary>Takes a socket released with <see cref="Release"/>. Throws when another thread owns it.</summary>
    public void Adopt()
    {
        var me = Environment.CurrentManagedThreadId;
        var previous = Interlocked.CompareExchange(ref _owner, me, Unowned);
        if (previous != Unowned && previous != me)
            throw new InvalidOperationException($"ZeroMQ {Type} socket is owned by thread {previous}; it must Release() it first");
    }

    // ---- endpoints -----------------------------------------------------------------------------------------------

    /// <summary>zmq_bind. With a wildcard port (<c>tcp://127.0.0.1:*</c>) read the chosen one from <see cref="LastEndpoint"/>.</summary>
    public void Bind(string endpoint) => Endpoint(endpoint, "zmq_bind", &ZmqNative.Bind);

    public void Unbind(string endpoint) => Endpoint(endpoint, "zmq_unbind", &ZmqNative.Unbind);

    public void Connect(string endpoint) => Endpoint(endpoint, "zmq_connect", &ZmqNative.Connect);

    public void Disconnect(string endpoint) => Endpoint(endpoint, "zmq_disconnect", &ZmqNative.Disconnect);

    /// <summary>
    /// zmq_socket_monitor: the socket's connection events (<see cref="ZmqMonitorEvents"/>) go to a PAIR socket bound at
    /// <paramref name="endpoint"/> (inproc://…); connect a PAIR to it and read <see cref="ZmqMonitorEvent"/>s.
    /// </summary>
    public void Monitor(string endpoint, ZmqMonitorEvents events)
    {
        ArgumentException.ThrowIfNullOrEmpty(endpoint);
        lock (_gate)
        {
            var h = Enter();
            if (ZmqNative.SocketMonitor(h, endpoint, (int)events) != 0) throw ZmqException.For($"zmq_socket_monitor({endpoint})", ZmqNative.Errno());
        }
    }

    private void Endpoint(string endpoint, string name, delegate*<nint, string, int> call)
    {
        ArgumentException.ThrowIfNullOrEmpty(endpoint);
        lock (_gate)
        {
            var h = Enter();
            if (call(h, endpoint) != 0) throw ZmqException.For($"{name}({endpoint})", ZmqNative.Errno());
        }
    }

    // ---- send ----------------------------------------------------------------------------------------------------

    /// <summary>Sends one frame (copied into ZeroMQ); <paramref name="more"/> announces further frames of the message.
    /// Blocks while the high-water mark is reached (up to <see cref="SendTimeout"/>, then <see cref="TimeoutException"/>).</summary>
    public void Send(ReadOnlySpan<byte> frame, bool more = false)
    {
        if (!SendCore(frame, more ? ZmqNative.SNDMORE : 0))
            throw new TimeoutException($"zmq_send on {Type} socket: send timeout expired");
    }

    /// <summary>Sends one frame without blocking; false when it cannot be queued now (EAGAIN).</summary>
    public bool TrySend(ReadOnlySpan<byte> frame, bool more = false) =>
        SendCore(frame, ZmqNative.DONTWAIT | (more ? ZmqNative.SNDMORE : 0));

    /// <summary>Sends <paramref name="message"/>'s content without copying; ZeroMQ takes it and the message is left empty.</summary>
    public void Send(ZmqMessage message, bool more = false)
    {
        if (!SendMessageCore(message, more ? ZmqNative.SNDMORE : 0))
            throw new TimeoutException($"zmq_msg_send on {Type} socket: send timeout expired");
    }

    public bool TrySend(ZmqMessage message, bool more = false) =>
        SendMessageCore(message, ZmqNative.DONTWAIT | (more ? ZmqNative.SNDMORE : 0));

    /// <summary>Sends all frames as one multipart message.</summary>
    public void SendMultipart(IReadOnlyList<byte[]> frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (frames.Count == 0) throw new ArgumentException("a message has at least one frame", nameof(frames));
        for (var i = 0; i < frames.Count; i++) Send(frames[i], more: i < frames.Count - 1);
    }

    private bool SendCore(ReadOnlySpan<byte> frame, int flags)
    {
        lock (_gate)
        {
            var h = Enter();
            fixed (byte* p = frame)
            {
                while (true)
                {
                    if (ZmqNative.Send(h, p, (nuint)frame.Length, flags) >= 0) return true;
                    if (!Retry("zmq_send", out var again)) return again;
                }
            }
        }
    }

    private bool SendMessageCore(ZmqMessage message, int flags)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (_gate)
        {
            var h = Enter();
            while (true)
            {
                if (ZmqNative.MsgSend(message.Pointer, h, flags) >= 0) return true; // zmq leaves it empty
                if (!Retry("zmq_msg_send", out var again)) return again;
            }
        }
    }

    // ---- receive -------------------------------------------------------------------------------------------------

    /// <summary>Receives one frame into <paramref name="buffer"/>; returns its length. A frame longer than the buffer is
    /// an error (<see cref="ZmqException"/> with EMSGSIZE; the frame is lost), so size buffers for the protocol's
    /// largest frame or use <see cref="Receive(ZmqMessage)"/>. <see cref="ReceiveMore"/> tells whether frames follow.</summary>
    public int Receive(Span<byte> buffer) =>
        ReceiveCore(buffer, 0, out var size) ? size : throw new TimeoutException($"zmq_recv on {Type} socket: receive timeout expired");

    /// <summary>Receives one frame if one is waiting (DONTWAIT); false otherwise (EAGAIN).</summary>
    public bool TryReceive(Span<byte> buffer, out int size) => ReceiveCore(buffer, ZmqNative.DONTWAIT, out size);

    /// <summary>Receives one frame into a reusable native message, without copying; its previous content is released.</summary>
    public void Receive(ZmqMessage message)
    {
        if (!ReceiveMessageCore(message, 0))
            throw new TimeoutException($"zmq_msg_recv on {Type} socket: receive timeout expired");
    }

    public bool TryReceive(ZmqMessage message) => ReceiveMessageCore(message, ZmqNative.DONTWAIT);

    /// <summary>Receives one frame as a new array (allocates: for control paths and tests).</summary>
    public byte[] ReceiveFrame()
    {
        using var message = new ZmqMessage();
        Receive(message);
        return message.Span.ToArray();
    }

    /// <summary>Receives every frame of one message as new arrays (allocates: for control paths and tests).</summary>
    public List<byte[]> ReceiveMultipart()
    {
        var frames = new List<byte[]>();
        using var message = new ZmqMessage();
        do
        {
            Receive(message);
            frames.Add(message.Span.ToArray());
        }
        while (message.More);
        return frames;
    }

    private bool ReceiveCore(Span<byte> buffer, int flags, out int size)
    {
        lock (_gate)
        {
            var h = Enter();
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    size = ZmqNative.Recv(h, p, (nuint)buffer.Length, flags);
                    if (size >= 0) break;
                    if (!Retry("zmq_recv", out var again)) return again;
                }
            }
        }
        if (size > buffer.Length)
            throw new ZmqException($"zmq_recv on {Type} socket: frame of {size} bytes exceeds the {buffer.Length}-byte buffer", ZmqNative.EMSGSIZE);
        return true;
    }

    private bool ReceiveMessageCore(ZmqMessage message, int flags)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (_gate)
        {
            var h = Enter();
            while (true)
            {
                if (ZmqNative.MsgRecv(message.Pointer, h, flags) >= 0) return true;
                if (!Retry("zmq_msg_recv", out var again)) return again;
            }
        }
    }

    /// <summary>After a failed call: true to retry (EINTR); false with <paramref name="again"/>=false on EAGAIN;
    /// throws otherwise.</summary>
    private bool Retry(string operation, out bool again)
    {
        again = false;
        var errno = ZmqNative.Errno();
        if (errno == ZmqNative.EINTR) return true;
        if (errno == ZmqNative.EAGAIN) return false;
        throw ZmqException.For($"{operation} on {Type} socket", errno);
    }

    // ---- poll ----------------------------------------------------------------------------------------------------

    /// <summary>Waits up to <paramref name="timeout"/> for any of <paramref name="events"/>; returns those that are ready
    /// (None on timeout). For several sockets use <see cref="ZmqPoller"/>.</summary>
    public ZmqPollEvents Poll(ZmqPollEvents events, TimeSpan timeout)
    {
        // under the gate, so the context cannot close the socket mid-poll; its shutdown wakes the poll (ETERM)
        lock (_gate)
        {
            var item = new ZmqNative.PollItem { Socket = Enter(), Events = (short)events };
            ZmqPoller.PollItems(&item, 1, timeout);
            return (ZmqPollEvents)item.Revents;
        }
    }

    /// <summary>For <see cref="ZmqPoller"/>: the gate it holds while polling, and the handle (owner-checked).</summary>
    internal Lock Gate => _gate;

    internal nint HandleForPoll() => Enter();

    // ---- options -------------------------------------------------------------------------------------------------

    /// <summary>ZMQ_LINGER; 0 by default here (libzmq's default, infinite, would let unsent messages block shutdown).</summary>
    public TimeSpan Linger { get => GetMs(ZmqOption.Linger); set => SetMs(ZmqOption.Linger, value); }
    public int SendHighWatermark { get => GetInt32(ZmqOption.SndHwm); set => SetInt32(ZmqOption.SndHwm, value); }
    public int ReceiveHighWatermark { get => GetInt32(ZmqOption.RcvHwm); set => SetInt32(ZmqOption.RcvHwm, value); }
    /// <summary>ZMQ_RCVTIMEO; <see cref="Timeout.InfiniteTimeSpan"/> (the default) blocks forever.</summary>
    public TimeSpan ReceiveTimeout { get => GetMs(ZmqOption.RcvTimeo); set => SetMs(ZmqOption.RcvTimeo, value); }
    public TimeSpan SendTimeout { get => GetMs(ZmqOption.SndTimeo); set => SetMs(ZmqOption.SndTimeo, value); }
    public TimeSpan ReconnectInterval { get => GetMs(ZmqOption.ReconnectIvl); set => SetMs(ZmqOption.ReconnectIvl, value); }
    /// <summary>ZMQ_RECONNECT_IVL_MAX: exponential backoff up to this; zero (the default) means no backoff.</summary>
    public TimeSpan ReconnectIntervalMax { get => GetMs(ZmqOption.ReconnectIvlMax); set => SetMs(ZmqOption.ReconnectIvlMax, value); }
    /// <summary>ZMQ_MAXMSGSIZE in bytes; a peer sending a larger message is disconnected. -1: no limit.</summary>
    public long MaxMessageSize { get => GetInt64(ZmqOption.MaxMsgSize); set => SetInt64(ZmqOption.MaxMsgSize, value); }
    /// <summary>ZMQ_IMMEDIATE: queue only to completed connections.</summary>
    public bool Immediate { get => GetInt32(ZmqOption.Immediate) != 0; set => SetInt32(ZmqOption.Immediate, value ? 1 : 0); }
    public TimeSpan HandshakeInterval { get => GetMs(ZmqOption.HandshakeIvl); set => SetMs(ZmqOption.HandshakeIvl, value); }
    /// <summary>ZMQ_HEARTBEAT_IVL: ZMTP PING every interval (off by default). Do not set it on a socket whose peers can
    /// fill its receive pipe and then vanish: libzmq 4.3.4 aborts the process when the heartbeat timer fires on a
    /// connection that stopped reading at its high-water mark and whose peer has since closed (libzmq issues 3937,
    /// 4364, 4767; <c>Assertion failed: !_io_error</c>). <see cref="KeepTcpAlive"/> detects dead peers without that timer.</summary>
    public TimeSpan HeartbeatInterval { get => GetMs(ZmqOption.HeartbeatIvl); set => SetMs(ZmqOption.HeartbeatIvl, value); }
    /// <summary>ZMQ_HEARTBEAT_TTL (remote timeout, whole 100 ms units).</summary>
    public TimeSpan HeartbeatTtl { get => GetMs(ZmqOption.HeartbeatTtl); set => SetMs(ZmqOption.HeartbeatTtl, value); }
    public TimeSpan HeartbeatTimeout { get => GetMs(ZmqOption.HeartbeatTimeout); set => SetMs(ZmqOption.HeartbeatTimeout, value); }
    /// <summary>TCP keepalive (ZMQ_TCP_KEEPALIVE, _IDLE, _INTVL, _CNT): the kernel probes a connection idle for
    /// <paramref name="idle"/> every <paramref name="interval"/> and drops it after <paramref name="probes"/> unanswered
    /// probes, so a peer that vanished without closing (power loss, cable) is dropped. Whole seconds. Call before
    /// Bind/Connect.</summary>
    public void KeepTcpAlive(TimeSpan idle, TimeSpan interval, int probes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(idle, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(probes, 1);
        SetInt32(ZmqOption.TcpKeepalive, 1);
        SetInt32(ZmqOption.TcpKeepaliveIdle, (int)idle.TotalSeconds);
        SetInt32(ZmqOption.TcpKeepaliveIntvl, (int)interval.TotalSeconds);
        SetInt32(ZmqOption.TcpKeepaliveCnt, probes);
    }

    /// <summary>ZMQ_ROUTING_ID (ZMQ_IDENTITY): 1..255 bytes, not starting with 0.</summary>
    public byte[] RoutingId { get => GetBytes(ZmqOption.RoutingId, 255); set => SetBytes(ZmqOption.RoutingId, value); }
    public string ZapDomain { get => Encoding.UTF8.GetString(GetBytes(ZmqOption.ZapDomain, 256)).TrimEnd('\0'); set => SetBytes(ZmqOption.ZapDomain, Encoding.UTF8.GetBytes(value)); }
    /// <summary>ZMQ_LAST_ENDPOINT: the endpoint last bound (with the actual port after a wildcard bind).</summary>
    public string LastEndpoint => Encoding.UTF8.GetString(GetBytes(ZmqOption.LastEndpoint, 256)).TrimEnd('\0');
    /// <summary>ZMQ_RCVMORE: the frame just received has more frames after it.</summary>
    public bool ReceiveMore => GetInt32(ZmqOption.RcvMore) != 0;
    public bool IsCurveServer => GetInt32(ZmqOption.CurveServer) != 0;

    public void Subscribe(ReadOnlySpan<byte> prefix) => SetBytes(ZmqOption.Subscribe, prefix);
    public void Unsubscribe(ReadOnlySpan<byte> prefix) => SetBytes(ZmqOption.Unsubscribe, prefix);
    /// <summary>ZMQ_ROUTER_MANDATORY: a ROUTER fails (EHOSTUNREACH) instead of silently dropping unroutable messages.</summary>
    public void SetRouterMandatory(bool value) => SetInt32(ZmqOption.RouterMandatory, value ? 1 : 0);
    /// <summary>ZMQ_CONFLATE: keep only the last message (single-frame messages only).</summary>
    public void SetConflate(bool value) => SetInt32(ZmqOption.Conflate, value ? 1 : 0);
    /// <summary>ZMQ_ZAP_ENFORCE_DOMAIN: without a ZAP handler, refuse clients instead of admitting them.</summary>
    public void SetZapEnforceDomain(bool value) => SetInt32(ZmqOption.ZapEnforceDomain, value ? 1 : 0);

    /// <summary>Makes this a CURVE server with <paramref name="keys"/>. Clients are authenticated by the ZAP handler for
    /// <paramref name="zapDomain"/> (start it first, see <see cref="ZmqZapHandler"/>); ZAP_ENFORCE_DOMAIN is set, so with no
    /// handler every client is refused rather than admitted. Call before Bind.</summary>
    public void MakeCurveServer(ZmqCurveKeyPair keys, string zapDomain = ZmqZapHandler.DefaultDomain)
    {
        ArgumentNullException.ThrowIfNull(keys);
        SetInt32(ZmqOption.CurveServer, 1);
        SetBytes(ZmqOption.CurveSecretKey, keys.SecretKey);
        ZapDomain = zapDomain;
        SetZapEnforceDomain(true);
    }

    /// <summary>Makes this a CURVE client with its own <paramref name="keys"/> that trusts only <paramref name="serverPublicKey"/>
    /// (32 bytes). Call before Connect.</summary>
    public void MakeCurveClient(ZmqCurveKeyPair keys, ReadOnlySpan<byte> serverPublicKey)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (serverPublicKey.Length != ZmqCurveKeyPair.KeySize)
            throw new ArgumentException($"a CURVE public key is {ZmqCurveKeyPair.KeySize} bytes", nameof(serverPublicKey));
        SetBytes(ZmqOption.CurveServerKey, serverPublicKey);
        SetBytes(ZmqOption.CurvePublicKey, keys.PublicKey);
        SetBytes(ZmqOption.CurveSecretKey, keys.SecretKey);
    }

    private TimeSpan GetMs(int option)
    {
        var ms = GetInt32(option);
        return ms < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(ms);
    }

    private void SetMs(int option, TimeSpan value) =>
        SetInt32(option, value == Timeout.InfiniteTimeSpan ? -1 : checked((int)value.TotalMilliseconds));

    internal int GetInt32(int option)
    {
        int value;
        nuint size = sizeof(int);
        GetOption(option, &value, &size);
        return value;
    }

    internal void SetInt32(int option, int value) => SetOption(option, &value, sizeof(int));

    private long GetInt64(int option)
    {
        long value;
        nuint size = sizeof(long);
        GetOption(option, &value, &size);
        return value;
    }

    private void SetInt64(int option, long value) => SetOption(option, &value, sizeof(long));

    private byte[] GetBytes(int option, int capacity)
    {
        var buffer = stackalloc byte[capacity];
        var size = (nuint)capacity;
        GetOption(option, buffer, &size);
        return new ReadOnlySpan<byte>(buffer, (int)size).ToArray();
    }

    private void SetBytes(int option, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value) SetOption(option, p, (nuint)value.Length);
    }

    private void SetOption(int option, void* value, nuint size)
    {
        lock (_gate)
        {
            var h = Enter();
            while (ZmqNative.SetSockOpt(h, option, value, size) != 0)
            {
                var errno = ZmqNative.Errno();
                if (errno != ZmqNative.EINTR) throw ZmqException.For($"zmq_setsockopt({option}) on {Type} socket", errno);
            }
        }
    }

    private void GetOption(int option, void* value, nuint* size)
    {
        lock (_gate)
        {
            var h = Enter();
            while (ZmqNative.GetSockOpt(h, option, value, size) != 0)
            {
                var errno = ZmqNative.Errno();
                if (errno != ZmqNative.EINTR) throw ZmqException.For($"zmq_getsockopt({option}) on {Type} socket", errno);
            }
        }
    }

    // ---- lifetime ------------------------------------------------------------------------------------------------

    /// <summary>Closes the socket (owner thread only; a socket whose owner is gone is closed by disposing the context).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_handle == 0) return;
            CheckOwner();
            CloseLocked();
        }
        _context.Forget(this);
    }

    /// <summary>Called by the context after zmq_ctx_shutdown, from whatever thread disposes it: blocked calls have
    /// returned or will promptly (ETERM), so taking the gate cannot hang.</summary>
    internal void CloseForContext()
    {
        lock (_gate)
        {
            if (_handle != 0) CloseLocked();
        }
    }

    private void CloseLocked()
    {
        ZmqNative.Close(_handle);
        _handle = 0;
    }

    private nint Enter()
    {
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        CheckOwner();
        return _handle;
    }

    private void CheckOwner()
    {
        var owner = Volatile.Read(ref _owner);
        if (owner != Environment.CurrentManagedThreadId)
            throw new InvalidOperationException(owner == Unowned
                ? $"ZeroMQ {Type} socket was released; call Adopt() on the thread that takes it over"
                : $"ZeroMQ {Type} socket is owned by thread {owner}, used from thread {Environment.CurrentManagedThreadId}: sockets are not thread-safe; hand it over with HandOverTo/Release+Adopt");
    }
}
