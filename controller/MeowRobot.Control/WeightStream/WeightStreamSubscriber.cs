using System.Diagnostics;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Loop;
using MeowRobot.Policy.Bundles;

namespace MeowRobot.Control.WeightStream;

/// <summary>Where the robot listens and whom it trusts.</summary>
public sealed class WeightStreamSubscriberOptions
{
    /// <summary>The trainer's PUB endpoint(s).</summary>
    public string[] PublishEndpoints { get; set; } = [];

    /// <summary>The trainer's snapshot ROUTER endpoint(s).</summary>
    public string[] SnapshotEndpoints { get; set; } = [];

    /// <summary>The trainer's CURVE public key (32 bytes), pinned: a publisher with any other key is never heard.</summary>
    public byte[] TrainerPublicKey { get; set; } = [];

    /// <summary>This robot's CURVE key pair (its public key must be on the trainer's allow-list); generated when null.</summary>
    public ZmqCurveKeyPair? RobotKeys { get; set; }

    /// <summary>What this robot is: bundles for another task, robot or size are rejected.</summary>
    public PolicyIdentity Identity { get; set; } = new("", 0, 0);

    /// <summary>The version already running (e.g. of a policy loaded from a file); only newer bundles are accepted.</summary>
    public ulong InitialVersion { get; set; }

    /// <summary>Accept only bundles addressed to this robot by name (what a promotion stream sends, docs/campaigns.md):
    /// a bundle for any robot (<c>*</c>, a training run's live stream) is refused as <see cref="BundleVerdict.WrongIdentity"/>.
    /// False (the library's default) accepts both; <c>controller serve</c> sets it unless Controller:WeightStream:FollowLive.</summary>
    public bool RequireAddressed { get; set; }

    /// <summary>Ask for the snapshot again when nothing was heard for this long (reconnection, lost bundle).</summary>
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromSeconds(3);

    public void Validate()
    {
        var problems = new List<string>();
        if (PublishEndpoints.Length == 0) problems.Add("at least one publish endpoint is needed");
        if (SnapshotEndpoints.Length == 0) problems.Add("at least one snapshot endpoint is needed");
        if (TrainerPublicKey.Length != ZmqCurveKeyPair.KeySize) problems.Add($"the trainer public key must be {ZmqCurveKeyPair.KeySize} bytes (is {TrainerPublicKey.Length})");
        if (Identity.ObsDim < 1 || Identity.ActDim < 1 || string.IsNullOrEmpty(Identity.Task)) problems.Add($"robot identity {Identity} is incomplete");
        if (ResyncInterval <= TimeSpan.Zero) problems.Add("ResyncInterval must be positive");
        if (problems.Count > 0) throw new Safety.InvalidControlOptionsException(problems);
    }
}

/// <summary>A CURVE handshake with a trainer endpoint that failed (the trainer's key is not the pinned one, or this
/// robot is not on its allow-list): the connection never carries anything, so this is the only trace.</summary>
public readonly record struct HandshakeRefusal(string Endpoint, string Reason);

/// <summary>One bundle's fate, reported off the loop (for logs and telemetry).</summary>
public readonly record struct BundleOutcome(BundleVerdict Verdict, ulong Version, string Reason, long ReceivedAt, long VerifiedAt);

/// <summary>
/// The robot's side of the weight stream: subscribes first, then asks the snapshot ROUTER for the newest bundle (Clone
/// pattern), as a CURVE client that pins the trainer's key. Each bundle is decoded and verified on this thread (hash,
/// identity, dimensions, newer version, valid file, finite weights: <see cref="PolicyBundle.Verify"/>), a runtime is
/// prepared, and the policy is handed to the loop through <paramref name="deliver"/> (the loop's swap slot). A rejected
/// bundle changes nothing; it is counted by verdict and reported with its reason.
/// </summary>
public sealed class WeightStreamSubscriber : IDisposable
{
    private readonly WeightStreamSubscriberOptions _options;
    private readonly Action<ActivePolicy> _deliver;
    private readonly Action<BundleOutcome>? _report;
    private readonly ZmqContext _context = new();
    private readonly ZmqCurveKeyPair _keys;
    private readonly Thread _thread;
    private readonly long[] _verdicts = new long[Enum.GetValues<BundleVerdict>().Length];
    private volatile bool _stop;
    private long _acceptedVersion;
    // Listener thread only: the last rejected version, not asked for again while heartbeats keep announcing it. Only that
    // exact version: remembering "the newest rejected" let one bundle numbered 2^64-1 block every later fetch.
    private ulong? _lastRejected;
    private long _heartbeats;
    private long _badHeartbeats;
    private long _snapshotRequests;
    private long _handshakesRefused;
    private Exception? _fault;

    public WeightStreamSubscriber(WeightStreamSubscriberOptions options, Action<ActivePolicy> deliver, Action<BundleOutcome>? report = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(deliver);
        options.Validate();
        _options = options;
        _deliver = deliver;
        _report = report;
        _keys = options.RobotKeys ?? ZmqCurveKeyPair.Generate();
        _acceptedVersion = (long)options.InitialVersion;
        _thread = new Thread(Listen) { IsBackground = true, Name = "meow-weight-subscriber" };
        _thread.Start();
    }

    /// <summary>This robot's CURVE public key (to put on the trainer's allow-list).</summary>
    public ReadOnlySpan<byte> RobotPublicKey => _keys.PublicKey;

    /// <summary>Version of the newest accepted bundle (or the initial version); it moves after the policy is delivered and counted.</summary>
    public ulong AcceptedVersion => (ulong)Interlocked.Read(ref _acceptedVersion);

    /// <summary>Bundles that ended with <paramref name="verdict"/>.</summary>
    public long Count(BundleVerdict verdict) => Interlocked.Read(ref _verdicts[(int)verdict]);

    /// <summary>All rejected bundles.</summary>
    public long Rejected
    {
        get
        {
            long n = 0;
            for (var i = 1; i < _verdicts.Length; i++) n += Interlocked.Read(ref _verdicts[i]);
            return n;
        }
    }

    public long Heartbeats => Interlocked.Read(ref _heartbeats);
    public long SnapshotRequests => Interlocked.Read(ref _snapshotRequests);

    /// <summary>CURVE handshakes with a trainer endpoint that failed (a publisher with another key, or a trainer that does not admit this robot).</summary>
    public long HandshakesRefused => Interlocked.Read(ref _handshakesRefused);

    /// <summary>Raised on the listener thread for each refused handshake (for the log).</summary>
    public event Action<HandshakeRefusal>? HandshakeRefused;
    public Exception? Fault => Volatile.Read(ref _fault);

    private void Listen()
    {
        ZmqSocket? sub = null, dealer = null, subMonitor = null, dealerMonitor = null;
        try
        {
            sub = _context.CreateSocket(ZmqSocketType.Sub);
            sub.MakeCurveClient(_keys, _options.TrainerPublicKey);
            sub.MaxMessageSize = WeightStreamWire.MaxMessageBytes;
            sub.Subscribe(WeightStreamWire.BundleTopic);
            sub.Subscribe(WeightStreamWire.HeartbeatTopic);
            foreach (var e in _options.PublishEndpoints) sub.Connect(e);
            dealer = _context.CreateSocket(ZmqSocketType.Dealer);
            dealer.MakeCurveClient(_keys, _options.TrainerPublicKey);
            dealer.MaxMessageSize = WeightStreamWire.MaxMessageBytes;
            dealer.Immediate = true;   // queue snapshot requests only to trainers that completed the handshake
            foreach (var e in _options.SnapshotEndpoints) dealer.Connect(e);
            subMonitor = MonitorHandshakes(sub, "sub");
            dealerMonitor = MonitorHandshakes(dealer, "snapshot");

            using var poller = new ZmqPoller();
            using var topic = new ZmqMessage();
            using var body = new ZmqMessage();   // bundles are read in place: no per-bundle copy of the frame
            var subAt = poller.Add(sub, ZmqPollEvents.In);
            var dealerAt = poller.Add(dealer, ZmqPollEvents.In);
            var subMonitorAt = poller.Add(subMonitor, ZmqPollEvents.In);
            var dealerMonitorAt = poller.Add(dealerMonitor, ZmqPollEvents.In);
            var lastHeard = Stopwatch.GetTimestamp();
            var needSnapshot = true;   // subscribed first, then ask (Clone pattern)
            var resync = (long)(_options.ResyncInterval.TotalSeconds * Stopwatch.Frequency);
            long lastRequest = 0;
            while (!_stop)
            {
                var now = Stopwatch.GetTimestamp();
                if ((needSnapshot || now - lastHeard > resync) && now - lastRequest > Stopwatch.Frequency / 10)
                {
                    if (dealer.TrySend(WeightStreamWire.SnapshotRequest))
                    {
                        Interlocked.Increment(ref _snapshotRequests);
                        needSnapshot = false;
                    }
                    lastRequest = now;
                    if (now - lastHeard > resync) lastHeard = now;
                }
                if (poller.Poll(TimeSpan.FromMilliseconds(50)) == 0)
                    continue;
                if ((poller.Ready(subAt) & ZmqPollEvents.In) != 0)
                {
                    needSnapshot |= Receive(sub, topic, body);
                    lastHeard = Stopwatch.GetTimestamp();
                }
                if ((poller.Ready(dealerAt) & ZmqPollEvents.In) != 0)
                {
                    Receive(dealer, topic, body);
                    lastHeard = Stopwatch.GetTimestamp();
                }
                if ((poller.Ready(subMonitorAt) & ZmqPollEvents.In) != 0) DrainMonitor(subMonitor);
                if ((poller.Ready(dealerMonitorAt) & ZmqPollEvents.In) != 0) DrainMonitor(dealerMonitor);
            }
        }
        catch (ZmqContextTerminatedException)
        {
        }
#pragma warning disable CA1031 // reported through Fault; the loop keeps its current policy
        catch (Exception e)
#pragma warning restore CA1031
        {
            Volatile.Write(ref _fault, e);
        }
        finally
        {
            subMonitor?.Dispose();
            dealerMonitor?.Dispose();
            sub?.Dispose();
            dealer?.Dispose();
        }
    }

    /// <summary>A PAIR socket receiving <paramref name="socket"/>'s failed handshakes (libzmq's socket monitor).</summary>
    private ZmqSocket MonitorHandshakes(ZmqSocket socket, string name)
    {
        var endpoint = $"inproc://meow-weight-monitor-{name}-{Guid.NewGuid():N}";
        socket.Monitor(endpoint, ZmqMonitorEvents.HandshakeFailed);
        var pair = _context.CreateSocket(ZmqSocketType.Pair);
        pair.Connect(endpoint);
        return pair;
    }

    private void DrainMonitor(ZmqSocket monitor)
    {
        while (ZmqMonitorEvent.TryReceive(monitor, out var e))
        {
            if ((e.Event & ZmqMonitorEvents.HandshakeFailed) == 0) continue;
            Interlocked.Increment(ref _handshakesRefused);
            var reason = e.Event switch
            {
                ZmqMonitorEvents.HandshakeFailedAuth => "refused by the trainer's allow-list",
                ZmqMonitorEvents.HandshakeFailedProtocol => $"CURVE protocol error 0x{e.Value:x}: the peer's key is not the pinned trainer key",
                _ => "the peer closed the CURVE handshake: its key is not the pinned trainer key, or it does not admit this robot",
            };
            HandshakeRefused?.Invoke(new HandshakeRefusal(e.Endpoint, reason));
        }
    }

    /// <summary>Receives one two-frame message; returns true when a heartbeat announces a version newer than ours (ask the snapshot).</summary>
    private bool Receive(ZmqSocket socket, ZmqMessage topic, ZmqMessage body)
    {
        socket.Receive(topic);
        if (!socket.ReceiveMore)
        {
            Count(BundleVerdict.MalformedBundle, 0, "message of 1 frame", Stopwatch.GetTimestamp());
            return false;
        }
        socket.Receive(body);
        if (socket.ReceiveMore)
        {
            var frames = 2;
            while (socket.ReceiveMore) { socket.Receive(body); frames++; }
            Count(BundleVerdict.MalformedBundle, 0, $"message of {frames} frames", Stopwatch.GetTimestamp());
            return false;
        }
        try
        {
            return Handle(topic.Span, body.Span);
        }
#pragma warning disable CA1031 // whatever a hostile message makes a decoder throw, it must not end the listener
        catch (Exception e) when (e is not ZmqContextTerminatedException)
#pragma warning restore CA1031
        {
            Count(BundleVerdict.MalformedBundle, 0, $"{e.GetType().Name}: {e.Message}", Stopwatch.GetTimestamp());
            return false;
        }
    }

    private bool Handle(ReadOnlySpan<byte> topic, ReadOnlySpan<byte> body)
    {
        if (topic.SequenceEqual(WeightStreamWire.HeartbeatTopic))
        {
            Interlocked.Increment(ref _heartbeats);
            if (!WeightStreamWire.TryDecodeHeartbeat(body, out var announced))
            {
                Interlocked.Increment(ref _badHeartbeats);
                return false;
            }
            return announced > AcceptedVersion && announced != _lastRejected;
        }
        if (topic.SequenceEqual(WeightStreamWire.NoneTopic))
            return false;
        if (!topic.SequenceEqual(WeightStreamWire.BundleTopic))
        {
            Count(BundleVerdict.MalformedBundle, 0, "unknown topic", Stopwatch.GetTimestamp());
            return false;
        }

        var received = Stopwatch.GetTimestamp();
        PolicyBundle bundle;
        try
        {
            bundle = PolicyBundle.Decode(body);
        }
        catch (PolicyBundleException e)
        {
            Count(BundleVerdict.MalformedBundle, 0, e.Message, received);
            return false;
        }
        if (bundle.Version == AcceptedVersion && bundle.Identity.Addresses(_options.Identity))
            return false;   // the same bundle again (snapshot after the live copy, or a resync): not a rejection
        var verification = _options.RequireAddressed && bundle.Identity.Robot == PolicyIdentity.AnyRobot
            ? new BundleVerification(BundleVerdict.WrongIdentity, "bundle is for any robot (a training run's live stream) and this robot takes only " +
                "bundles promoted to it by name (follow a run live: Controller:WeightStream:FollowLive=true, controller run --follow-live)", bundle)
            : bundle.Verify(_options.Identity, AcceptedVersion);
        if (!verification.Accepted)
        {
            _lastRejected = bundle.Version;
            Count(verification.Verdict, bundle.Version, verification.Reason, received);
            return false;
        }
        _deliver(new ActivePolicy(new RuntimeActionPolicy(verification.Runtime!), (long)bundle.Version,
            "bundle " + Convert.ToHexStringLower(bundle.Sha256.Span)[..16]));
        Count(BundleVerdict.Accepted, bundle.Version, verification.Reason, received);
        // Moves last: whoever sees the new version also sees the policy delivered and the verdict counted.
        Interlocked.Exchange(ref _acceptedVersion, (long)bundle.Version);
        return false;
    }

    private void Count(BundleVerdict verdict, ulong version, string reason, long received)
    {
        Interlocked.Increment(ref _verdicts[(int)verdict]);
        _report?.Invoke(new BundleOutcome(verdict, version, reason, received, Stopwatch.GetTimestamp()));
    }

    public void Dispose()
    {
        _stop = true;
        if (_thread.IsAlive) _thread.Join();
        _context.Dispose();
    }
}
