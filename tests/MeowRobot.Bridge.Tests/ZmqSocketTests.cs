using System.Diagnostics;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>The binding over real sockets: tcp loopback with wildcard ports, and ipc in a temporary directory.</summary>
public sealed class ZmqSocketTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly ZmqContext _context = new();
    private readonly string _ipcDir = Directory.CreateTempSubdirectory("meow-zmq-").FullName;

    public void Dispose()
    {
        _context.Dispose();
        Directory.Delete(_ipcDir, recursive: true);
    }

    private static string BindAnywhere(ZmqSocket socket)
    {
        socket.Bind("tcp://127.0.0.1:*");
        return socket.LastEndpoint;
    }

    private static byte[] Bytes(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    private static void AssertReadable(ZmqSocket socket) =>
        Assert.True(socket.Poll(ZmqPollEvents.In, Patience).HasFlag(ZmqPollEvents.In), $"{socket.Type}: nothing arrived within {Patience}");

    [RequiresFact(Requirement.LibZmq)]
    public void The_library_is_4_3_with_curve()
    {
        Assert.True(ZmqContext.LibraryVersion >= new Version(4, 3, 0), ZmqContext.LibraryVersion.ToString());
        Assert.True(ZmqContext.Has("curve"));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Req_and_rep_exchange_over_tcp_with_a_wildcard_port()
    {
        using var rep = _context.CreateSocket(ZmqSocketType.Rep);
        var endpoint = BindAnywhere(rep);
        Assert.Matches(@"^tcp://127\.0\.0\.1:\d+$", endpoint);
        Assert.NotEqual("tcp://127.0.0.1:0", endpoint);
        using var req = _context.CreateSocket(ZmqSocketType.Req);
        req.Connect(endpoint);

        req.Send("ping"u8);
        AssertReadable(rep);
        Span<byte> buffer = stackalloc byte[16];
        var n = rep.Receive(buffer);
        Assert.Equal("ping", System.Text.Encoding.ASCII.GetString(buffer[..n]));
        Assert.False(rep.ReceiveMore);
        rep.Send("pong"u8);
        AssertReadable(req);
        Assert.Equal(Bytes("pong"), req.ReceiveFrame());
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Dealer_and_router_exchange_multipart_messages_over_ipc()
    {
        var endpoint = $"ipc://{_ipcDir}/router.sock";
        using var router = _context.CreateSocket(ZmqSocketType.Router);
        router.SetRouterMandatory(true);
        router.Bind(endpoint);
        using var dealer = _context.CreateSocket(ZmqSocketType.Dealer);
        dealer.RoutingId = Bytes("worker-1");
        Assert.Equal(Bytes("worker-1"), dealer.RoutingId);
        dealer.Connect(endpoint);

        dealer.SendMultipart([Bytes("a"), [], Bytes("ccc")]);
        AssertReadable(router);
        var frames = router.ReceiveMultipart();
        Assert.Equal([Bytes("worker-1"), Bytes("a"), [], Bytes("ccc")], frames);

        router.SendMultipart([Bytes("worker-1"), Bytes("reply")]);
        AssertReadable(dealer);
        Assert.Equal([Bytes("reply")], dealer.ReceiveMultipart());

        // ROUTER_MANDATORY: an unknown peer is an error, not a silent drop
        var e = Assert.Throws<ZmqException>(() => router.SendMultipart([Bytes("nobody"), Bytes("x")]));
        Assert.Equal(113, e.Errno); // EHOSTUNREACH
        Assert.Contains("host", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Sub_receives_only_its_subscribed_prefix()
    {
        using var pub = _context.CreateSocket(ZmqSocketType.Pub);
        var endpoint = BindAnywhere(pub);
        using var sub = _context.CreateSocket(ZmqSocketType.Sub);
        sub.Subscribe("weights"u8);
        sub.Connect(endpoint);

        // A subscription reaches the publisher asynchronously: publish until the first message arrives.
        var deadline = Stopwatch.StartNew();
        while (sub.Poll(ZmqPollEvents.In, TimeSpan.FromMilliseconds(20)) == ZmqPollEvents.None)
        {
            Assert.True(deadline.Elapsed < Patience, "subscription never took effect");
            pub.Send("telemetry 1"u8);
            pub.Send("weights 0"u8);
        }
        Assert.Equal(Bytes("weights 0"), sub.ReceiveFrame());
        pub.Send("telemetry 2"u8);
        pub.Send("weights 1"u8);
        // everything received from now on starts with the prefix, and the last one published arrives
        byte[] last;
        do
        {
            AssertReadable(sub);
            last = sub.ReceiveFrame();
            Assert.StartsWith("weights", System.Text.Encoding.ASCII.GetString(last), StringComparison.Ordinal);
        }
        while (!last.AsSpan().SequenceEqual("weights 1"u8));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void TryReceive_returns_false_when_nothing_waits_and_timeouts_throw()
    {
        using var pull = _context.CreateSocket(ZmqSocketType.Pull);
        BindAnywhere(pull);
        Assert.False(pull.TryReceive(new byte[8], out _));
        using (var message = new ZmqMessage()) Assert.False(pull.TryReceive(message));

        pull.ReceiveTimeout = TimeSpan.FromMilliseconds(50);
        Assert.Equal(TimeSpan.FromMilliseconds(50), pull.ReceiveTimeout);
        var watch = Stopwatch.StartNew();
        Assert.Throws<TimeoutException>(() => pull.ReceiveFrame());
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(40), Patience);

        // PUSH with no peer and IMMEDIATE: nothing can be queued
        using var push = _context.CreateSocket(ZmqSocketType.Push);
        push.Immediate = true;
        push.SendTimeout = TimeSpan.FromMilliseconds(20);
        push.Connect("tcp://127.0.0.1:1"); // nothing listens there
        Assert.False(push.TrySend("x"u8));
        Assert.Throws<TimeoutException>(() => push.Send("x"u8));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_reusable_message_receives_small_and_large_frames_without_copies_and_sends_zero_copy()
    {
        using var pull = _context.CreateSocket(ZmqSocketType.Pull);
        var endpoint = BindAnywhere(pull);
        using var push = _context.CreateSocket(ZmqSocketType.Push);
        push.Connect(endpoint);

        var large = new byte[1 << 20];
        new Random(5).NextBytes(large);
        using var outgoing = new ZmqMessage(large.Length);
        large.CopyTo(outgoing.WritableSpan);
        push.Send("tiny"u8, more: true);  // 4 bytes: stored inside zmq_msg_t
        push.Send(outgoing);
        Assert.Equal(0, outgoing.Size); // ZeroMQ took the content

        using var message = new ZmqMessage();
        AssertReadable(pull);
        pull.Receive(message);
        Assert.True(message.Span.SequenceEqual("tiny"u8));
        Assert.True(message.More);
        pull.Receive(message);
        Assert.True(message.Span.SequenceEqual(large));
        Assert.False(message.More);

        // a frame larger than a span buffer is reported, not silently truncated
        push.Send(large);
        AssertReadable(pull);
        var e = Assert.Throws<ZmqException>(() => pull.Receive(new byte[16]));
        Assert.Equal(90, e.Errno);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_poller_reports_which_sockets_are_ready()
    {
        using var a = _context.CreateSocket(ZmqSocketType.Pull);
        using var b = _context.CreateSocket(ZmqSocketType.Pull);
        BindAnywhere(a);
        var eb = BindAnywhere(b);
        using var push = _context.CreateSocket(ZmqSocketType.Push);
        push.Connect(eb);
        using var poller = new ZmqPoller(1); // grows past its initial capacity
        var ia = poller.Add(a, ZmqPollEvents.In);
        var ib = poller.Add(b, ZmqPollEvents.In);

        Assert.Equal(0, poller.Poll(TimeSpan.Zero));
        push.Send("hello"u8);
        Assert.Equal(1, poller.Poll(Patience));
        Assert.Equal(ZmqPollEvents.None, poller.Ready(ia));
        Assert.Equal(ZmqPollEvents.In, poller.Ready(ib));
        Assert.Equal(Bytes("hello"), b.ReceiveFrame());
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_socket_cannot_be_used_from_another_thread_until_handed_over()
    {
        using var socket = _context.CreateSocket(ZmqSocketType.Pull);
        Exception? seen = null;
        var intruder = new Thread(() => { try { socket.Bind("tcp://127.0.0.1:*"); } catch (Exception e) { seen = e; } });
        intruder.Start();
        intruder.Join();
        Assert.IsType<InvalidOperationException>(seen);

        string? endpoint = null;
        var heir = new Thread(() =>
        {
            endpoint = BindAnywhere(socket);
            socket.Release(); // give it back to whoever adopts it (the pool pattern)
        });
        socket.HandOverTo(heir);
        Assert.Throws<InvalidOperationException>(() => socket.ReceiveMore); // no longer ours
        heir.Start();
        heir.Join();
        Assert.NotNull(endpoint);
        Assert.Throws<InvalidOperationException>(() => socket.ReceiveMore); // released: nobody's until adopted
        socket.Adopt();
        Assert.False(socket.ReceiveMore);
        var thief = new Thread(() => { try { socket.Adopt(); } catch (Exception e) { seen = e; } });
        seen = null;
        thief.Start();
        thief.Join();
        Assert.IsType<InvalidOperationException>(seen); // owned sockets cannot be adopted
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Disposing_the_context_wakes_a_blocked_receive_on_another_thread()
    {
        var context = new ZmqContext();
        using var ready = new ManualResetEventSlim();
        Exception? outcome = null;
        var worker = new Thread(() =>
        {
            using var rep = context.CreateSocket(ZmqSocketType.Rep);
            rep.Bind("tcp://127.0.0.1:*");
            ready.Set();
            try { rep.ReceiveFrame(); }
            catch (Exception e) { outcome = e; }
        });
        worker.Start();
        Assert.True(ready.Wait(Patience));
        var watch = Stopwatch.StartNew();
        var dispose = Task.Run(context.Dispose);
        Assert.True(dispose.Wait(Patience), "context disposal hung");
        Assert.True(worker.Join(Patience), "blocked receive never returned");
        Assert.IsType<ZmqContextTerminatedException>(outcome);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"shutdown took {watch.Elapsed}");
        Assert.Throws<ObjectDisposedException>(() => context.CreateSocket(ZmqSocketType.Req));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Disposing_the_context_does_not_wait_for_unsent_messages()
    {
        var context = new ZmqContext();
        var push = context.CreateSocket(ZmqSocketType.Push);
        push.Connect("tcp://127.0.0.1:1"); // never connects: the message stays queued
        push.Send("stuck"u8);
        var dispose = Task.Run(context.Dispose); // LINGER 0 is the default here
        Assert.True(dispose.Wait(Patience), "context disposal waited for an unsent message");
        Assert.Throws<ObjectDisposedException>(() => push.Send("x"u8));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Options_round_trip_and_errors_carry_errno_and_text()
    {
        using var s = _context.CreateSocket(ZmqSocketType.Dealer);
        Assert.Equal(TimeSpan.Zero, s.Linger);
        s.SendHighWatermark = 10; Assert.Equal(10, s.SendHighWatermark);
        s.ReceiveHighWatermark = 20; Assert.Equal(20, s.ReceiveHighWatermark);
        Assert.Equal(Timeout.InfiniteTimeSpan, s.ReceiveTimeout);
        s.ReconnectInterval = TimeSpan.FromMilliseconds(250); Assert.Equal(TimeSpan.FromMilliseconds(250), s.ReconnectInterval);
        s.ReconnectIntervalMax = TimeSpan.FromSeconds(8); Assert.Equal(TimeSpan.FromSeconds(8), s.ReconnectIntervalMax);
        s.MaxMessageSize = 1 << 20; Assert.Equal(1 << 20, s.MaxMessageSize);
        s.HeartbeatInterval = TimeSpan.FromSeconds(1); Assert.Equal(TimeSpan.FromSeconds(1), s.HeartbeatInterval);
        s.HeartbeatTimeout = TimeSpan.FromSeconds(3); Assert.Equal(TimeSpan.FromSeconds(3), s.HeartbeatTimeout);
        s.HeartbeatTtl = TimeSpan.FromSeconds(6); Assert.Equal(TimeSpan.FromSeconds(6), s.HeartbeatTtl);
        s.ZapDomain = "meow"; Assert.Equal("meow", s.ZapDomain);

        var e = Assert.Throws<ZmqException>(() => s.Connect("nonsense://x"));
        Assert.Equal(93, e.Errno); // EPROTONOSUPPORT
        Assert.Contains("zmq_connect(nonsense://x)", e.Message, StringComparison.Ordinal);
        Assert.Contains("not supported", e.Message, StringComparison.OrdinalIgnoreCase);

        using var other = _context.CreateSocket(ZmqSocketType.Router);
        var endpoint = BindAnywhere(other);
        using var clash = _context.CreateSocket(ZmqSocketType.Router);
        Assert.Equal(98, Assert.Throws<ZmqException>(() => clash.Bind(endpoint)).Errno); // EADDRINUSE
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Conflate_keeps_only_the_latest_message()
    {
        // The sender conflates while its peer is not there yet, so the outcome does not depend on timing.
        var endpoint = $"ipc://{_ipcDir}/conflate.sock";
        using var push = _context.CreateSocket(ZmqSocketType.Push);
        push.SetConflate(true);
        push.Connect(endpoint);
        push.Send("1"u8);
        push.Send("2"u8);
        push.Send("last"u8);
        using var pull = _context.CreateSocket(ZmqSocketType.Pull);
        pull.Bind(endpoint);
        AssertReadable(pull);
        Assert.Equal(Bytes("last"), pull.ReceiveFrame());
        Assert.False(pull.TryReceive(new byte[8], out _));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void The_span_and_message_paths_do_not_allocate()
    {
        using var pull = _context.CreateSocket(ZmqSocketType.Pull);
        var endpoint = BindAnywhere(pull);
        using var push = _context.CreateSocket(ZmqSocketType.Push);
        push.Connect(endpoint);
        using var message = new ZmqMessage();
        using var poller = new ZmqPoller();
        var at = poller.Add(pull, ZmqPollEvents.In);
        var frame = new byte[200];
        var into = new byte[200];
        var good = 0;
        void RoundTrip()
        {
            push.Send(frame, more: true);
            push.Send(frame);
            var ready = poller.Poll(Patience) == 1 && poller.Ready(at) == ZmqPollEvents.In;
            pull.Receive(message);
            if (ready && message.More && message.Size == frame.Length && pull.Receive(into) == frame.Length) good++;
        }
        RoundTrip(); // warm up (JIT, connection)
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) RoundTrip();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(101, good);
        Assert.Equal(0, allocated);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Disconnect_stops_delivery_to_that_endpoint()
    {
        using var a = _context.CreateSocket(ZmqSocketType.Pull);
        using var b = _context.CreateSocket(ZmqSocketType.Pull);
        var ea = BindAnywhere(a);
        var eb = BindAnywhere(b);
        using var push = _context.CreateSocket(ZmqSocketType.Push);
        push.Connect(ea);
        push.Connect(eb);
        // both connected: round-robin reaches each
        for (var i = 0; i < 2; i++) push.Send("x"u8);
        AssertReadable(a);
        AssertReadable(b);
        a.ReceiveFrame();
        b.ReceiveFrame();
        push.Disconnect(ea);
        for (var i = 0; i < 4; i++) push.Send("y"u8);
        for (var i = 0; i < 4; i++) { AssertReadable(b); b.ReceiveFrame(); }
        Assert.False(a.TryReceive(new byte[4], out _));
    }
}
