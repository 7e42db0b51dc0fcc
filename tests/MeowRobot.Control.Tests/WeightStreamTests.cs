using System.Collections.Concurrent;
using System.Security.Cryptography;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Loop;
using MeowRobot.Control.WeightStream;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Testing;

namespace MeowRobot.Control.Tests;

/// <summary>The weight stream over real ZeroMQ sockets (tcp loopback) with CURVE.</summary>
public sealed class WeightStreamTests : IDisposable
{
    private static readonly PolicyIdentity Robot = new("hopper", 11, 3, "robot-1");
    private readonly ZmqCurveKeyPair _trainer = ZmqCurveKeyPair.Generate();
    private readonly ZmqCurveKeyPair _robotKeys = ZmqCurveKeyPair.Generate();
    private readonly List<IDisposable> _owned = [];
    private readonly ConcurrentQueue<ActivePolicy> _delivered = new();
    private readonly ConcurrentQueue<BundleOutcome> _outcomes = new();

    private static PolicyFile Policy(int obs, int act, int seed = 1) =>
        PolicyFile.Initialized(new PolicyMetadata { ObsDim = obs, ActDim = act, Task = "hopper" }, seed);

    private static PolicyBundle Bundle(ulong version, int obs = 11, int act = 3) =>
        PolicyBundle.Create(version, new PolicyIdentity("hopper", obs, act), Policy(obs, act, (int)version).ToBytes(), DateTimeOffset.UnixEpoch);

    private WeightStreamPublisher Publisher(ZmqCurveKeyPair? keys = null)
    {
        var p = new WeightStreamPublisher(keys ?? _trainer, [_robotKeys.PublicKey.ToArray()],
            new WeightStreamPublisherOptions { PublishEndpoint = "tcp://127.0.0.1:*", SnapshotEndpoint = "tcp://127.0.0.1:*", HeartbeatInterval = TimeSpan.FromMilliseconds(200) });
        _owned.Add(p);
        return p;
    }

    private WeightStreamSubscriber Subscriber(params WeightStreamPublisher[] publishers)
    {
        var s = new WeightStreamSubscriber(new WeightStreamSubscriberOptions
        {
            PublishEndpoints = publishers.Select(p => p.PublishEndpoint).ToArray(),
            SnapshotEndpoints = publishers.Select(p => p.SnapshotEndpoint).ToArray(),
            TrainerPublicKey = _trainer.PublicKey.ToArray(),
            RobotKeys = _robotKeys,
            Identity = Robot,
        }, _delivered.Enqueue, _outcomes.Enqueue);
        _owned.Add(s);
        return s;
    }

    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        foreach (var p in _delivered) p.Dispose();
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_late_joiner_gets_the_newest_bundle_from_the_snapshot_then_live_updates()
    {
        var pub = Publisher();
        pub.Publish(Bundle(1));
        pub.Publish(Bundle(2));
        Wait.Until(() => pub.Published == 2, "two bundles published before the robot joins");

        var sub = Subscriber(pub);
        Wait.Until(() => sub.AcceptedVersion == 2, "the snapshot's bundle accepted");
        Assert.Equal(1, sub.Count(BundleVerdict.Accepted));                      // version 1 was never delivered
        Assert.True(_delivered.TryDequeue(out var first));
        Assert.Equal(2, first.Version);
        Assert.Equal(11, first.Policy.ObservationSize);

        pub.Publish(Bundle(3));
        Wait.Until(() => sub.AcceptedVersion == 3, "the live update accepted");
        Assert.True(_delivered.TryDequeue(out var second));
        Assert.Equal(3, second.Version);
        var action = new float[3];
        second.Policy.Compute(new float[11], action);
        Assert.All(action, a => Assert.True(float.IsFinite(a) && Math.Abs(a) <= 1));   // tanh-squashed, no action scaling
        Assert.Equal(0, sub.Rejected);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Garbage_truncated_wrong_hash_wrong_dimension_older_and_NaN_bundles_are_rejected_and_the_current_policy_kept()
    {
        var pub = Publisher();
        var sub = Subscriber(pub);
        pub.Publish(Bundle(5));
        Wait.Until(() => sub.AcceptedVersion == 5, "version 5 accepted");

        void Expect(BundleVerdict verdict, Action send)
        {
            var before = sub.Count(verdict);
            send();
            // ≥: a resync (heartbeat or snapshot) may deliver the same rejected bundle again, and it is judged again
            Wait.Until(() => sub.Count(verdict) > before || sub.Fault is not null || pub.Fault is not null, $"a {verdict} rejection");
            Assert.Null(sub.Fault);
            Assert.Null(pub.Fault);
            Assert.Equal(5UL, sub.AcceptedVersion);
        }

        var good = Bundle(6).ToMessagePack();
        Expect(BundleVerdict.MalformedBundle, () => pub.PublishRaw(RandomNumberGenerator.GetBytes(300), 6, new byte[32]));
        Expect(BundleVerdict.MalformedBundle, () => pub.PublishRaw(good[..(good.Length / 2)], 6, new byte[32]));

        var tampered = Bundle(7);
        var flipped = tampered.PolicyBytes.ToArray();
        flipped[^1] ^= 0x40;
        Expect(BundleVerdict.HashMismatch, () => pub.Publish(tampered with { PolicyBytes = flipped }));
        Expect(BundleVerdict.WrongDimensions, () => pub.Publish(Bundle(8, obs: 5, act: 1)));
        Expect(BundleVerdict.NotNewer, () => pub.Publish(Bundle(4)));
        Expect(BundleVerdict.WrongIdentity, () => pub.Publish(Bundle(9) with { Identity = new PolicyIdentity("pendulum", 11, 3) }));

        var nan = Policy(11, 3, 10).ToBytes();
        BitConverter.GetBytes(float.NaN).CopyTo(nan, nan.Length - 4);          // the last weight of the last tensor
        Expect(BundleVerdict.NonFiniteWeights, () => pub.Publish(PolicyBundle.Create(10, new PolicyIdentity("hopper", 11, 3), nan, DateTimeOffset.UnixEpoch)));

        Assert.Single(_delivered);
        Assert.All(_outcomes.Where(o => o.Verdict != BundleVerdict.Accepted), o => Assert.False(string.IsNullOrWhiteSpace(o.Reason)));

        pub.Publish(Bundle(11));                                                // and a good one still gets through
        Wait.Until(() => sub.AcceptedVersion == 11, "version 11 accepted after the rejections");
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_bundle_of_an_algorithm_this_controller_cannot_run_is_refused_and_the_current_policy_kept()
    {
        var pub = Publisher();
        var sub = Subscriber(pub);
        // A SAC policy runs (its MLP actor), as the MEow one did.
        var sac = PolicyFile.Initialized(new PolicyMetadata { Algorithm = PolicyAlgorithm.Sac, ObsDim = 11, ActDim = 3, Task = "hopper" }, 3);
        pub.Publish(PolicyBundle.Create(5, sac, "hopper", DateTimeOffset.UnixEpoch));
        Wait.Until(() => sub.AcceptedVersion == 5, "the SAC bundle accepted");
        Assert.Equal("sac", PolicyBundle.Create(5, sac, "hopper", DateTimeOffset.UnixEpoch).Algorithm);

        void Expect(PolicyBundle bundle)
        {
            var before = sub.Count(BundleVerdict.UnsupportedAlgorithm);
            pub.Publish(bundle);
            Wait.Until(() => sub.Count(BundleVerdict.UnsupportedAlgorithm) > before || sub.Fault is not null, "an UnsupportedAlgorithm rejection");
            Assert.Null(sub.Fault);
            Assert.Equal(5UL, sub.AcceptedVersion);
        }

        // An algorithm a newer trainer knows and this controller does not (the bundle says so before the file is read).
        Expect(PolicyBundle.Create(6, new PolicyIdentity("hopper", 11, 3), Policy(11, 3).ToBytes(), DateTimeOffset.UnixEpoch, "td3"));
        // S2AC with its SVGD sampler: a valid file, but no one-pass deterministic action.
        var svgd = PolicyFile.Initialized(new PolicyMetadata { Algorithm = PolicyAlgorithm.S2ac, ObsDim = 11, ActDim = 3, Task = "hopper" }, 4);
        Expect(PolicyBundle.Create(7, svgd, "hopper", DateTimeOffset.UnixEpoch));
        var reason = _outcomes.Last(o => o.Verdict == BundleVerdict.UnsupportedAlgorithm).Reason;
        Assert.Contains("amortized", reason, StringComparison.Ordinal);

        Assert.Single(_delivered);
        var amortized = PolicyFile.Initialized(new PolicyMetadata
        {
            Algorithm = PolicyAlgorithm.S2ac, ObsDim = 11, ActDim = 3, Task = "hopper", S2ac = new S2acArchitecture { Actor = S2acActor.Amortized },
        }, 5);
        pub.Publish(PolicyBundle.Create(8, amortized, "hopper", DateTimeOffset.UnixEpoch));   // the amortized actor runs
        Wait.Until(() => sub.AcceptedVersion == 8, "the amortized S2AC bundle accepted");
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_publisher_with_the_wrong_key_is_never_heard()
    {
        var rogue = Publisher(ZmqCurveKeyPair.Generate());     // admits our robot, but is not the pinned trainer
        var trainer = Publisher();
        var sub = Subscriber(rogue, trainer);                  // connected to both

        for (ulong v = 50; v < 60; v++) rogue.Publish(Bundle(v));
        Wait.Until(() => rogue.Published == 10, "the rogue published");
        trainer.Publish(Bundle(1));
        Wait.Until(() => sub.AcceptedVersion == 1, "the trainer's bundle accepted");
        for (ulong v = 60; v < 70; v++) rogue.Publish(Bundle(v));
        Wait.Until(() => rogue.Published == 20, "the rogue published again");
        trainer.Publish(Bundle(2));
        Wait.Until(() => sub.AcceptedVersion == 2, "the trainer's second bundle accepted");

        Assert.Equal([1L, 2L], _delivered.Select(p => p.Version));
        Assert.DoesNotContain(_outcomes, o => o.Version >= 50);                 // not even rejected: never received
        Assert.True(sub.HandshakesRefused >= 2, $"the rogue's refused handshakes are counted (counted {sub.HandshakesRefused})");
        Assert.Equal(0, rogue.SnapshotsServed);
        Assert.Equal(0, rogue.Admission.Accepted);                              // the CURVE handshake never completed
        Assert.True(trainer.Admission.Accepted >= 1);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_robot_not_on_the_allow_list_receives_nothing()
    {
        var pub = new WeightStreamPublisher(_trainer, [ZmqCurveKeyPair.Generate().PublicKey.ToArray()],
            new WeightStreamPublisherOptions { PublishEndpoint = "tcp://127.0.0.1:*", SnapshotEndpoint = "tcp://127.0.0.1:*" });
        _owned.Add(pub);
        var sub = Subscriber(pub);
        pub.Publish(Bundle(1));
        Wait.Until(() => pub.Admission.Denied >= 2, "both of the robot's connections denied");
        Assert.Equal(0, pub.Admission.Accepted);
        Assert.Equal(0UL, sub.AcceptedVersion);
        Assert.Empty(_outcomes);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_publisher_with_the_wrong_key_leaves_a_trace_handshakes_refused_counted_and_reported()
    {
        var rogue = Publisher(ZmqCurveKeyPair.Generate());
        var refusals = new ConcurrentQueue<HandshakeRefusal>();
        var sub = Subscriber(rogue);
        sub.HandshakeRefused += refusals.Enqueue;
        rogue.Publish(Bundle(1));
        // The subscriber and the snapshot dealer each retry (ZeroMQ reconnects every 100 ms): both are refused, again and again.
        Wait.Until(() => sub.HandshakesRefused >= 4 && refusals.Count >= 2, "refused handshakes counted and reported");
        Assert.Contains(refusals, r => r.Endpoint.Contains(rogue.PublishEndpoint.Split(':')[^1], StringComparison.Ordinal));
        Assert.Contains(refusals, r => r.Endpoint.Contains(rogue.SnapshotEndpoint.Split(':')[^1], StringComparison.Ordinal));
        Assert.All(refusals, r => Assert.Contains("key", r.Reason, StringComparison.Ordinal));
        Assert.Equal(0UL, sub.AcceptedVersion);
        Assert.Empty(_outcomes);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_rejected_bundle_numbered_2_to_the_64_minus_1_does_not_block_later_snapshot_fetches()
    {
        var pub = Publisher();
        var sub = Subscriber(pub);
        pub.Publish(Bundle(5));
        Wait.Until(() => sub.AcceptedVersion == 5, "version 5 accepted");
        pub.Publish(Bundle(ulong.MaxValue) with { Identity = new PolicyIdentity("pendulum", 11, 3) });
        Wait.Until(() => sub.Count(BundleVerdict.WrongIdentity) >= 1, "the bundle numbered 2^64-1 rejected");

        // Version 6's live message is lost: only the heartbeats announce it, and only the snapshot can deliver it.
        var six = Bundle(6);
        pub.PublishRaw(six.ToMessagePack(), 6, six.Sha256.ToArray(), live: false);
        Wait.Until(() => sub.AcceptedVersion == 6, "version 6 fetched from the snapshot after a heartbeat announced it");
        // A snapshot already asked for may bring the rejected bundle once more; heartbeats announcing it do not.
        Assert.InRange(sub.Count(BundleVerdict.WrongIdentity), 1, 2);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Snapshot_requests_that_are_never_read_keep_the_trainer_s_memory_bounded()
    {
        // A 1 MiB bundle, and two allow-listed robots asking for it 1500 times each without reading a reply: before,
        // each reply was a copy, queued up to the ROUTER's 1000-message high-water mark per connection (2 GiB here).
        var pub = Publisher();
        var big = PolicyBundle.Create(1, new PolicyIdentity("hopper", 11, 3), RandomNumberGenerator.GetBytes(1 << 20), DateTimeOffset.UnixEpoch);
        pub.Publish(big);
        Wait.Until(() => pub.Published == 1, "the bundle published");
        using var context = new ZmqContext();
        var floods = Enumerable.Range(0, 2).Select(_ =>
        {
            var dealer = context.CreateSocket(ZmqSocketType.Dealer);
            dealer.MakeCurveClient(_robotKeys, _trainer.PublicKey);
            dealer.ReceiveHighWatermark = 1;
            dealer.Connect(pub.SnapshotEndpoint);
            return dealer;
        }).ToList();
        GC.Collect();
        var before = ResidentBytes();
        foreach (var dealer in floods)
        {
            for (var i = 0; i < 1500; i++) dealer.Send(WeightStreamWire.SnapshotRequest);
        }
        Wait.Until(() => pub.SnapshotsServed + pub.SnapshotsDropped >= 3000, "every request answered or dropped");
        var grown = ResidentBytes() - before;
        Assert.True(grown < 128L << 20, $"the publisher grew by {grown >> 20} MiB under the flood");
        Assert.True(pub.SnapshotsDropped > 2500, $"requests beyond the per-robot queue are dropped (dropped {pub.SnapshotsDropped})");
        Assert.Null(pub.Fault);

        // A robot that reads still gets the bundle, byte for byte.
        using var reader = context.CreateSocket(ZmqSocketType.Dealer);
        reader.MakeCurveClient(_robotKeys, _trainer.PublicKey);
        reader.ReceiveTimeout = TimeSpan.FromSeconds(10);
        reader.Connect(pub.SnapshotEndpoint);
        reader.Send(WeightStreamWire.SnapshotRequest);
        var reply = reader.ReceiveMultipart();
        Assert.Equal(big.ToMessagePack(), reply[1]);
        foreach (var dealer in floods) dealer.Dispose();
    }

    /// <summary>VmRSS of this process (what the issue measured), in bytes.</summary>
    private static long ResidentBytes()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
