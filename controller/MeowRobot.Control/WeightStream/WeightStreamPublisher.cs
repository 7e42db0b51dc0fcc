using System.Buffers;
using System.Collections.Concurrent;
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
}

/// <summary>
/// The trainer's side of the weight stream: publishes policy bundles over ZeroMQ PUB and serves the newest one from a
/// snapshot ROUTER (the zguide Clone pattern), both as CURVE servers with the trainer's key pair; robots are admitted by
/// their public keys (ZAP allow-list). Bundles are single frames (fine up to a few MB). <see cref="Publish"/> may be
/// called from any thread; the sockets live on the publisher's own thread.
/// </summary>
public sealed class WeightStreamPublisher : IDisposable
{
    private readonly WeightStreamPublisherOptions _options;
    private readonly ZmqContext _context = new();
    private readonly ZmqZapHandler _zap;
    private readonly ZmqCurveKeyPair _keys;
    private readonly ConcurrentQueue<(byte[] Topic, byte[] Body, ulong Version, byte[] Sha)> _outbox = new();
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _bound = new();
    private volatile bool _stop;
    private Exception? _fault;
    private long _published;
    private long _snapshotsServed;

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

    /// <summary>The ZAP handler (allow or revoke robot keys at run time; accepted/denied counters).</summary>
    public ZmqZapHandler Admission => _zap;

    /// <summary>Publishes <paramref name="bundle"/> and makes it the snapshot (any thread; returns at once).</summary>
    public void Publish(PolicyBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var buffer = new ArrayBufferWriter<byte>(bundle.PolicyBytes.Length + 256);
        bundle.Encode(buffer);
        PublishRaw(buffer.WrittenSpan.ToArray(), bundle.Version, bundle.Sha256.ToArray());
    }

    /// <summary>Publishes an already encoded body as a bundle (tests use it to send malformed ones).</summary>
    internal void PublishRaw(byte[] body, ulong version, byte[] sha) =>
        _outbox.Enqueue((WeightStreamWire.BundleTopic.ToArray(), body, version, sha));

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
            byte[]? latest = null;
            ulong latestVersion = 0;
            byte[] latestSha = new byte[32];
            var nextHeartbeat = DateTime.UtcNow;
            while (!_stop)
            {
                // 1 ms: the wake-up that picks up Publish() calls from other threads
                if (poller.Poll(TimeSpan.FromMilliseconds(1)) > 0 && (poller.Ready(at) & ZmqPollEvents.In) != 0)
                {
                    var frames = router.ReceiveMultipart();
                    if (frames.Count == 2 && frames[1].AsSpan().SequenceEqual(WeightStreamWire.SnapshotRequest))
                    {
                        router.Send(frames[0], more: true);
                        if (latest is null)
                        {
                            router.Send(WeightStreamWire.NoneTopic, more: true);
                            router.Send([0xc0]);
                        }
                        else
                        {
                            router.Send(WeightStreamWire.BundleTopic, more: true);
                            router.Send(latest);
                        }
                        Interlocked.Increment(ref _snapshotsServed);
                    }
                }
                while (_outbox.TryDequeue(out var item))
                {
                    pub.Send(item.Topic, more: true);
                    pub.Send(item.Body);
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
