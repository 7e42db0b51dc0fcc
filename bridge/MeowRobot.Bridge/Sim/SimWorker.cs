using System.Buffers;
using MeowRobot.Bridge.Sim.Protocol;
using MeowRobot.Bridge.Zmq;

namespace MeowRobot.Bridge.Sim;

/// <summary>
/// A sim worker: a ZeroMQ ROUTER bound on tcp:// or ipc:// that answers sim protocol v1 requests with a
/// <see cref="SimService"/>, on a thread of its own (which owns the socket). DEALER and plain REQ clients both work:
/// whatever frames precede the request (identity, empty delimiter) are echoed in front of the reply.
/// <see cref="Start"/> returns once the socket is bound; <see cref="Dispose"/> stops promptly (it shuts the worker's
/// ZeroMQ context down, which wakes the blocked poll) and never hangs. <see cref="RunAsync"/> is the same for a host's
/// BackgroundService.
/// <para>With a <see cref="SimServerCurve"/> the socket is a CURVE server and a ZAP handler admits only allow-listed
/// client keys; a refused client gets nothing (not even an error reply), and the refusal is counted
/// (<see cref="Refused"/>) and reported (<see cref="ClientRefused"/>). Without one, only loopback and ipc endpoints may be
/// bound (<see cref="SimEndpoint.IsLoopback"/>).</para>
/// </summary>
public sealed class SimWorker : IDisposable
{
    /// <summary>Frames before the request that the worker will echo (a ROUTER identity, a delimiter, a little slack);
    /// a message with more, or with an envelope frame over 255 bytes, cannot be a protocol request and is dropped.</summary>
    private const int MaxEnvelopeFrames = 4;
    private const int MaxEnvelopeFrameBytes = 255;

    /// <summary>Requests queued per peer (ZMQ_RCVHWM): more wait in the peer's TCP connection.</summary>
    public const int QueuedPerPeer = 4;

    /// <summary>Replies waiting for a peer to read them (ZMQ_SNDHWM); a ROUTER drops what does not fit.</summary>
    public const int RepliesPerPeer = 64;

    private readonly SimService service;
    private readonly ZmqContext context = new();
    private readonly Thread thread;
    private readonly TaskCompletionSource bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string bindEndpoint;
    private readonly SimServerCurve? curve;
    private ZmqZapHandler? zap;
    private IpcPathLock? ipcLock;
    private string endpoint = "";
    private long dropped;

    private SimWorker(SimService service, string bindEndpoint, SimServerCurve? curve)
    {
        this.service = service;
        this.bindEndpoint = bindEndpoint;
        this.curve = curve;
        thread = new Thread(Serve) { IsBackground = true, Name = "sim-worker " + bindEndpoint };
    }

    /// <summary>Binds <paramref name="bind"/> (e.g. <c>tcp://127.0.0.1:*</c>, <c>ipc:///run/meow/sim.sock</c>) and
    /// starts serving <paramref name="service"/> (not owned: dispose it after the worker). Throws
    /// <see cref="ZmqException"/> when the endpoint cannot be bound, <see cref="ArgumentException"/> for a network
    /// endpoint without <paramref name="curve"/>, <see cref="SimEndpointInUseException"/> for an ipc path another live
    /// worker serves (<see cref="IpcPathLock"/>).</summary>
    public static SimWorker Start(SimService service, string bind, SimServerCurve? curve = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentException.ThrowIfNullOrEmpty(bind);
        if (curve is null && !SimEndpoint.IsLoopback(bind))
            throw new ArgumentException($"{bind} is reachable from the network: a sim worker binds it only with CURVE keys and a client allow-list", nameof(bind));
        var ipcLock = IpcPathLock.Acquire(bind); // before binding: libzmq would take a live worker's path silently
        var worker = new SimWorker(service, bind, curve) { ipcLock = ipcLock };
        worker.thread.Start();
        try
        {
            worker.bound.Task.GetAwaiter().GetResult();
        }
        catch
        {
            worker.Dispose();
            throw;
        }
        return worker;
    }

    /// <summary>Serves until <paramref name="cancellationToken"/> is cancelled (for a hosted service). <paramref name="started"/>
    /// is called once the endpoint is bound.</summary>
    public static async Task RunAsync(SimService service, string bind, SimServerCurve? curve, Action<SimWorker>? started, CancellationToken cancellationToken)
    {
        var worker = Start(service, bind, curve);
        try
        {
            started?.Invoke(worker);
            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (cancellationToken.Register(() => cancelled.TrySetResult()))
                await Task.WhenAny(cancelled.Task, worker.Completion).ConfigureAwait(false);
        }
        finally
        {
            worker.Dispose();
        }
        await worker.Completion.ConfigureAwait(false); // surfaces a crash of the serving thread
    }

    /// <summary>The endpoint actually bound (a wildcard port resolved), to give to clients.</summary>
    public string Endpoint => endpoint;

    public SimService Service => service;

    /// <summary>Messages that could not be answered because their framing cannot be a request (see the class notes).</summary>
    public long Dropped => Interlocked.Read(ref dropped);

    /// <summary>True when a dead worker's socket file was found at this worker's ipc path and removed before binding.</summary>
    public bool RemovedStaleSocket => ipcLock?.RemovedStaleSocket ?? false;

    /// <summary>Handshakes refused by the allow-list (always 0 without CURVE).</summary>
    public long Refused => zap?.Denied ?? 0;

    /// <summary>Handshakes admitted by the allow-list (always 0 without CURVE).</summary>
    public long Admitted => zap?.Accepted ?? 0;

    /// <summary>Raised on the worker's ZAP thread for each refused handshake (subscribe in <see cref="RunAsync"/>'s
    /// started callback or right after <see cref="Start"/>; refusals before that are counted, not raised).</summary>
    public event Action<ZapRefusal>? ClientRefused;

    /// <summary>Completes when the worker stops (after <see cref="Dispose"/>), faulted if the serving thread failed.</summary>
    public Task Completion => completion.Task;

    public void Dispose()
    {
        context.Shutdown();
        if (thread.IsAlive && thread != Thread.CurrentThread) thread.Join();
        zap?.Dispose();
        context.Dispose();
        ipcLock?.Dispose(); // after the socket closed (libzmq removed its file): the next worker finds the path free
    }

    private void Serve()
    {
        ZmqSocket? socket = null;
        try
        {
            if (curve is not null)
            {
                // the handler first: a CURVE server socket refuses everyone until it is bound
                zap = new ZmqZapHandler(context, curve.AllowedClientKeys, SimServerCurve.ZapDomain);
                zap.Refused += r => ClientRefused?.Invoke(r);
            }
            socket = context.CreateSocket(ZmqSocketType.Router);
            if (curve is not null) socket.MakeCurveServer(curve.ServerKeys, SimServerCurve.ZapDomain);
            // A peer that sends more than a step request can need is disconnected before anything is buffered.
            var largest = (long)service.Env.NumEnvs * service.Env.Spec.ActDim * sizeof(float) + 4096;
            socket.MaxMessageSize = Math.Max(1 << 20, 2 * largest);
            // Bounded per peer: a client has one request in flight, so a few queued requests are plenty; a flooder waits in
            // TCP, not in this process. Replies a peer does not read are dropped at RepliesPerPeer: a ROUTER learns of its
            // peer's reads in batches of half its high-water mark, so a mark as small as 4 dropped replies to a plain REQ
            // client (1 in a few hundred under load), while 64 keeps a non-reading peer's share of memory small.
            socket.ReceiveHighWatermark = QueuedPerPeer;
            socket.SendHighWatermark = RepliesPerPeer;
            // No ZMTP heartbeats: with a peer's pipe full and the peer gone, libzmq 4.3.4 aborts the whole process when the
            // heartbeat timer fires (see ZmqSocket.HeartbeatInterval). Kernel keepalive drops vanished peers instead.
            socket.KeepTcpAlive(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), probes: 3);
            socket.Bind(bindEndpoint);
            endpoint = socket.LastEndpoint;
            bound.SetResult();
            Loop(socket);
            completion.TrySetResult();
        }
        catch (ZmqContextTerminatedException)
        {
            bound.TrySetException(new ObjectDisposedException(nameof(SimWorker)));
            completion.TrySetResult(); // the normal way to stop
        }
        catch (Exception e)
        {
            bound.TrySetException(e);
            completion.TrySetException(e);
        }
        finally
        {
            socket?.Dispose();
        }
    }

    private void Loop(ZmqSocket socket)
    {
        var envelope = new byte[MaxEnvelopeFrames][];
        for (var i = 0; i < envelope.Length; i++) envelope[i] = new byte[MaxEnvelopeFrameBytes];
        var envelopeLengths = new int[MaxEnvelopeFrames];
        using var frame = new ZmqMessage();
        var reply = new ArrayBufferWriter<byte>(4096);
        while (true)
        {
            socket.Receive(frame); // blocks; the context's shutdown ends it with ZmqContextTerminatedException
            var frames = 0;
            var droppable = false;
            while (frame.More)
            {
                if (frames < MaxEnvelopeFrames && frame.Size <= MaxEnvelopeFrameBytes)
                {
                    frame.Span.CopyTo(envelope[frames]);
                    envelopeLengths[frames] = frame.Size;
                }
                else
                {
                    droppable = true;
                }
                frames++;
                socket.Receive(frame);
            }
            if (droppable || frames == 0)
            {
                Interlocked.Increment(ref dropped);
                continue;
            }
            reply.ResetWrittenCount();
            try
            {
                service.Handle(frame.Span, reply);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Handle answers every bad request itself; this is a bug's safety net, so the worker keeps serving.
                reply.ResetWrittenCount();
                SimMessages.WriteError(reply, SimErrorCode.Internal, $"worker failed: {e.GetType().Name}: {e.Message}");
            }
            for (var i = 0; i < frames; i++) socket.Send(envelope[i].AsSpan(0, envelopeLengths[i]), more: true);
            socket.Send(reply.WrittenSpan);
        }
    }
}
