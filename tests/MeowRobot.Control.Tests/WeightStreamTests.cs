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
}
