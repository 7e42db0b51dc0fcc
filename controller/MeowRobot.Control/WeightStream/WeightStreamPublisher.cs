using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Policy.Bundles;

namespace MeowRobot.Control.WeightStream;

/// <summary>Where and how the trainer publishes.</summary>
public sealed class WeightStreamPublisherOptions
{
    /// <summary>PUB endpoint for bundles and heartbeats, e.g. tcp://0.0.0.0:5570.</summary>
    public string PublishEndpoint { get; set; } = "tcp://127.0.0.1:5570";

    /// <summary>ROUTER endpoint that answers snapshot requests (late joiners, reconnecting robots).</summary>
    public string SnapshotEndpoint { get; set; } = "tcp://127.0.0.1:5571";

    /// <summary>How often the newest version is announced (robots that missed a bundle then ask for the snapshot).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most snapshot bytes queued for one robot (sent to libzmq, not yet taken by its connection); a request
    /// beyond it is dropped and counted. One reply is always allowed, whatever the bundle's size.</summary>
    public long MaxQueuedBytesPerPeer { get; set; } = 16L << 20;
}

/// <summary>
/// The trainer's side of the weight stream: publishes policy bundles over ZeroMQ PUB and serves the newest one from a
/// snapshot ROUTER (the zguide Clone pattern), both as CURVE servers with the trainer's key pair; robots are admitted by
/// their public keys (ZAP allow-list). Bundles are single frames (fine up to a few MB). <see cref="Publish"/> may be
/// called from any thread; the sockets live on the publisher's own thread.
/// <para>Memory stays bounded whatever robots do: each bundle is encoded once into one immutable pinned buffer that
/// every publication and snapshot reply refers to (no copy per reply), and what is queued for one robot is bounded in
/// bytes (<see cref="WeightStreamPublisherOptions.MaxQueuedBytesPerPeer"/>): a robot that asks for snapshots and never
/// reads them gets its requests dropped, not a copy each.</para>
/// </summary>
public sealed unsafe class WeightStreamPublisher : IDisposable
{
    private readonly WeightStreamPublisherOptions _options;
    private readonly ZmqContext _context = new();
    private readonly ZmqZapHandler _zap;
    private readonly ZmqCurveKeyPair _keys;
    private readonly ConcurrentQueue<(SharedFrame Body, ulong Version, byte[] Sha, bool Live)> _outbox = new();
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _bound = new();
    private volatile bool _stop;
    private Exception? _fault;
    private long _published;
    private long _snapshotsServed;
    private long _snapshotsDropped;

    public WeightStreamPublisher(ZmqCurveKeyPair trainerKeys, IEnumerable<byte[]> allowedRobotKeys, WeightStreamPublisherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(trainerKeys);
        ArgumentNullException.ThrowIfNull(allowedRobotKeys);
        _keys = trainerKeys;
        _options = options ?? new WeightStreamPublisherOptions();
        _zap = new ZmqZapHandler(_context, allowedRobotKeys);   // before any CURVE server socket
        _thread = new Thread(Serve) { IsBackground = true, Name = "meow-weight-publisher" };
        _thread.Start();
        _bound.Wait();
        if (_fault is not null)
        {
            Dispose();
            throw new InvalidOperationException("weight stream publisher could not start: " + _fault.Message, _fault);
        }
    }

    /// <summary>The bound PUB endpoint (with the port chosen when the option said *).</summary>
    public string PublishEndpoint { get; private set; } = "";
    public string SnapshotEndpoint { get; private set; } = "";
    public long Published => Interlocked.Read(ref _published);
    public long SnapshotsServed => Interlocked.Read(ref _snapshotsServed);

    /// <summary>Snapshot requests dropped because the robot had <see cref="WeightStreamPublisherOptions.MaxQueuedBytesPerPeer"/> queued already.</summary>
    public long SnapshotsDropped => Interlocked.Read(ref _snapshotsDropped);

    /// <summary>The ZAP handler (allow or revoke robot keys at run time; accepted/denied counters).</summary>
    public ZmqZapHandler Admission => _zap;

    /// <summary>Publishes <paramref name="bundle"/> and makes it the snapshot (any thread; returns at once).</summary>
    public void Publish(PolicyBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var buffer = new ArrayBufferWriter<byte>(bundle.PolicyBytes.Length + 256);
        bundle.Encode(buffer);
        PublishRaw(buffer.WrittenSpan, bundle.Version, bundle.Sha256.ToArray());
    }

    /// <summary>Publishes an already encoded body as a bundle (tests use it to send malformed ones). Not
    /// <paramref name="live"/>: only the snapshot and the heartbeats carry it, as if the live message had been lost.</summary>
    internal void PublishRaw(ReadOnlySpan<byte> body, ulong version, byte[] sha, bool live = true) =>
        _outbox.Enqueue((new SharedFrame(body), version, sha, live));

    private void Serve()
    {
        ZmqSocket? pub = null, router = null;
        try
        {
            pub = _context.CreateSocket(ZmqSocketType.Pub);
            pub.MakeCurveServer(_keys);
            pub.SendHighWatermark = 16;
            pub.Bind(_options.PublishEndpoint);
            PublishEndpoint = pub.LastEndpoint;
            router = _context.CreateSocket(ZmqSocketType.Router);
            router.MakeCurveServer(_keys);
            router.MaxMessageSize = 1024;
            router.Bind(_options.SnapshotEndpoint);
            SnapshotEndpoint = router.LastEndpoint;
            _bound.Set();

            using var poller = new ZmqPoller();
            var at = poller.Add(router, ZmqPollEvents.In);
            using var message = new ZmqMessage();
            SharedFrame? latest = null;
            ulong latestVersion = 0;
            byte[] latestSha = new byte[32];
            var peers = new Dictionary<string, PeerQueue>(StringComparer.Ordinal);
            var nextHeartbeat = DateTime.UtcNow;
            while (!_stop)
            {
                // 1 ms: the wake-up that picks up Publish() calls from other threads
                if (poller.Poll(TimeSpan.FromMilliseconds(1)) > 0 && (poller.Ready(at) & ZmqPollEvents.In) != 0)
                {
                    var frames = router.ReceiveMultipart();
                    if (frames.Count == 2 && frames[1].AsSpan().SequenceEqual(WeightStreamWire.SnapshotRequest))
                        AnswerSnapshot(router, message, frames[0], latest, peers);
                }
                while (_outbox.TryDequeue(out var item))
                {
                    if (item.Live)
                    {
                        pub.Send(WeightStreamWire.BundleTopic, more: true);
                        SendShared(pub, message, item.Body, peer: null);
                    }
                    latest = item.Body;
                    latestVersion = item.Version;
                    latestSha = item.Sha;
                    Interlocked.Increment(ref _published);
                }
                if (DateTime.UtcNow >= nextHeartbeat)
                {
                    pub.Send(WeightStreamWire.HeartbeatTopic, more: true);
                    pub.Send(WeightStreamWire.EncodeHeartbeat(latestVersion, latestSha));
                    nextHeartbeat = DateTime.UtcNow + _options.HeartbeatInterval;
                }
            }
        }
        catch (ZmqContextTerminatedException)
        {
        }
#pragma warning disable CA1031 // reported through the constructor or Fault
        catch (Exception e)
#pragma warning restore CA1031
        {
            _fault = e;
        }
        finally
        {
            pub?.Dispose();
            router?.Dispose();
            _bound.Set();
        }
    }

    private void AnswerSnapshot(ZmqSocket router, ZmqMessage message, byte[] routingId, SharedFrame? latest, Dictionary<string, PeerQueue> peers)
    {
        var key = Convert.ToHexString(routingId);
        if (!peers.TryGetValue(key, out var peer))
        {
            // Every connection has its own routing id: forget robots with nothing queued, so reconnecting cannot grow the table.
            if (peers.Count >= 256)
            {
                foreach (var (k, q) in peers)
                {
                    if (q.Queued == 0) peers.Remove(k);
                }
            }
            peers[key] = peer = new PeerQueue();
        }
        var size = latest?.Length ?? 1;
        var queued = Volatile.Read(ref peer.Queued);
        if (queued > 0 && queued + size > _options.MaxQueuedBytesPerPeer)
        {
            Interlocked.Increment(ref _snapshotsDropped);
            return;
        }
        router.Send(routingId, more: true);
        if (latest is null)
        {
            router.Send(WeightStreamWire.NoneTopic, more: true);
            router.Send([0xc0]);
        }
        else
        {
            router.Send(WeightStreamWire.BundleTopic, more: true);
            SendShared(router, message, latest, peer);
        }
        Interlocked.Increment(ref _snapshotsServed);
    }

    /// <summary>Sends <paramref name="frame"/>'s bytes without copying them; <paramref name="peer"/> counts them as
    /// queued until libzmq lets go of them.</summary>
    private static void SendShared(ZmqSocket socket, ZmqMessage message, SharedFrame frame, PeerQueue? peer)
    {
        var handle = GCHandle.Alloc(new Lease(frame, peer));
        try
        {
            message.Borrow(frame.Pointer, frame.Length, &Release, (void*)GCHandle.ToIntPtr(handle));
        }
        catch
        {
            handle.Free();
            throw;
        }
        if (peer is not null) Interlocked.Add(ref peer.Queued, frame.Length);
        socket.Send(message);   // from here on libzmq owns the lease: Release runs once, sent or dropped
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Release(void* data, void* hint)
    {
        var handle = GCHandle.FromIntPtr((nint)hint);
        var lease = (Lease)handle.Target!;
        if (lease.Peer is { } peer) Interlocked.Add(ref peer.Queued, -lease.Frame.Length);
        handle.Free();
    }

    /// <summary>One encoded bundle in pinned memory (the pinned object heap), never changed once made: every message
    /// that carries it refers to these bytes.</summary>
    private sealed class SharedFrame
    {
        private readonly byte[] _bytes;

        public SharedFrame(ReadOnlySpan<byte> bytes)
        {
            _bytes = GC.AllocateUninitializedArray<byte>(bytes.Length, pinned: true);
            bytes.CopyTo(_bytes);
        }

        public int Length => _bytes.Length;
        public byte* Pointer => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_bytes));
    }

    /// <summary>Bytes queued for one robot's connection (updated by libzmq's threads as it lets go of them).</summary>
    private sealed class PeerQueue
    {
        public long Queued;
    }

    /// <summary>What one message borrows: keeps the frame alive (and pinned) until libzmq is done with it.</summary>
    private sealed record Lease(SharedFrame Frame, PeerQueue? Peer);

    /// <summary>Why the publisher thread ended, if it failed.</summary>
    public Exception? Fault => _fault;

    public void Dispose()
    {
        _stop = true;
        if (_thread.IsAlive) _thread.Join();
        _zap.Dispose();
        _context.Dispose();
        _bound.Dispose();
    }
}
