using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Sim.Protocol;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>Sim workers and the vector env client over real ZeroMQ sockets (tcp loopback and ipc in a temp dir).</summary>
public sealed class SimWorkerTests : IDisposable
{
    private readonly string ipcDir = Directory.CreateTempSubdirectory("meow-sim-").FullName;
    private readonly List<IDisposable> owned = [];

    public void Dispose()
    {
        for (var i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
        Directory.Delete(ipcDir, recursive: true);
    }

    private static readonly VectorEnvClientOptions Fast = new()
    {
        ReplyTimeout = TimeSpan.FromMilliseconds(500),
        ReconnectBackoff = TimeSpan.FromMilliseconds(10),
        MaxReconnectBackoff = TimeSpan.FromMilliseconds(50),
        GiveUpAfter = TimeSpan.FromSeconds(20),
    };

    private string Bind(string transport, string name = "w") =>
        transport == "tcp" ? "tcp://127.0.0.1:*" : $"ipc://{Path.Combine(ipcDir, name)}.sock";

    private SimWorker StartWorker(string bind, int envs = 2, int seed = 100, ulong session = 1)
    {
        var service = new SimService(new LocalVectorEnv(() => new CountingTask(), envs, seed), session);
        owned.Add(service);
        var worker = SimWorker.Start(service, bind);
        owned.Add(worker);
        return worker;
    }

    private VectorEnvClient Client(VectorEnvClientOptions? options, params string[] endpoints)
    {
        var client = new VectorEnvClient(endpoints, options ?? Fast);
        owned.Add(client);
        return client;
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("ipc")]
    public void Client_speaks_every_message_to_a_worker(string transport)
    {
        var worker = StartWorker(Bind(transport));
        Assert.StartsWith(transport + "://", worker.Endpoint);
        Assert.DoesNotContain("*", worker.Endpoint);
        var env = Client(null, worker.Endpoint);
        Assert.Equal(("counting", 2, 2, 1), (env.Spec.Name, env.NumEnvs, env.Spec.ObsDim, env.Spec.ActDim));
        Assert.Equal(["scale", "lag"], env.Parameters.Select(p => p.Name));
        var batch = new VectorBatch(2, 2);
        env.Reset(batch, seeds: [8, 9], parameters: new Dictionary<string, double> { ["scale"] = 3 });
        Assert.Equal([0f, 8f, 0f, 9f], batch.Obs);
        env.Step([0.5f, 1f], batch);
        Assert.Equal([1.5f, 3f], batch.Reward);
        Assert.Equal([0, 1], batch.Terminated);
        Assert.Equal([1f, 8f, 0f, -1f], batch.Obs);
        Assert.Equal([1f, 9f], batch.FinalObs[2..]);
        Assert.Equal([0, 0], batch.Lost);
        env.Close();
        Assert.Throws<InvalidOperationException>(() => env.Step([0f, 0f], batch));
        Assert.Equal(0, env.Recoveries);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("ipc")]
    public void A_plain_req_socket_works_and_garbage_gets_error_replies(string transport)
    {
        var worker = StartWorker(Bind(transport));
        using var context = new ZmqContext();
        using var req = context.CreateSocket(ZmqSocketType.Req);
        req.Connect(worker.Endpoint);
        byte[] RoundTrip(byte[] message)
        {
            req.Send(message);
            Assert.NotEqual(ZmqPollEvents.None, req.Poll(ZmqPollEvents.In, TimeSpan.FromSeconds(10)));
            return req.ReceiveFrame();
        }
        var hello = new ArrayBufferWriter<byte>();
        SimMessages.WriteRequest(hello, SimOp.Hello);
        Assert.Equal("counting", SimMessages.ReadHelloReply(RoundTrip(hello.WrittenSpan.ToArray())).Spec.Name);
        var gen = ArbMap.Default.ArbFor<byte[]>();
        Prop.ForAll(gen, bytes =>
        {
            var reply = RoundTrip(bytes);
            try
            {
                SimMessages.ReadOkReply(reply); // a few random maps could be valid pings... almost never; either way a v1 reply
            }
            catch (SimWorkerErrorException e)
            {
                Assert.False(string.IsNullOrEmpty(e.Code));
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
        Assert.Equal("counting", SimMessages.ReadHelloReply(RoundTrip(hello.WrittenSpan.ToArray())).Spec.Name);
        Assert.True(worker.Service.Errors >= 190);
    }

    [Fact]
    public void Multipart_garbage_from_a_dealer_is_answered_or_dropped_and_the_worker_keeps_serving()
    {
        var worker = StartWorker(Bind("tcp"));
        using var context = new ZmqContext();
        using var dealer = context.CreateSocket(ZmqSocketType.Dealer);
        dealer.Connect(worker.Endpoint);
        // Extra frames before the request are an envelope: echoed, and the last frame answered.
        dealer.SendMultipart([[1, 2, 3], [], [0xc1]]);
        Assert.NotEqual(ZmqPollEvents.None, dealer.Poll(ZmqPollEvents.In, TimeSpan.FromSeconds(10)));
        var reply = dealer.ReceiveMultipart();
        Assert.Equal(3, reply.Count);
        Assert.Equal([1, 2, 3], reply[0]);
        Assert.Equal(SimErrorCode.Malformed, Assert.Throws<SimWorkerErrorException>(() => SimMessages.ReadOkReply(reply[2])).Code);
        // Too many frames, or an envelope frame too long to be one: dropped, counted, no reply.
        dealer.SendMultipart([[1], [2], [3], [4], [5], [6]]);
        dealer.SendMultipart([new byte[300], [0x80]]);
        var env = Client(null, worker.Endpoint);
        env.Reset(new VectorBatch(2, 2));
        Assert.Equal(2, worker.Dropped);
        Assert.Equal(ZmqPollEvents.None, dealer.Poll(ZmqPollEvents.In, TimeSpan.Zero));
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("ipc")]
    public void Several_workers_form_one_vector_env_in_endpoint_order(string transport)
    {
        var a = StartWorker(Bind(transport, "a"), envs: 2, seed: 10);
        var b = StartWorker(Bind(transport, "b"), envs: 3, seed: 20);
        var env = Client(null, a.Endpoint, b.Endpoint);
        Assert.Equal(5, env.NumEnvs);
        var batch = new VectorBatch(5, 2);
        env.Reset(batch);
        Assert.Equal([10f, 11f, 20f, 21f, 22f], Enumerable.Range(0, 5).Select(i => batch.Obs[2 * i + 1]));
        env.Reset(batch, seeds: [1, 2, 3, 4, 5]);
        Assert.Equal([1f, 2f, 3f, 4f, 5f], Enumerable.Range(0, 5).Select(i => batch.Obs[2 * i + 1]));
        env.Step([0.1f, 0.2f, 0.3f, 0.4f, 0.5f], batch);
        Assert.Equal([0.1f, 0.2f, 0.3f, 0.4f, 0.5f], batch.Reward);
    }

    [Fact]
    public void Workers_of_different_tasks_are_refused()
    {
        var a = StartWorker(Bind("tcp"));
        var other = new SimService(new LocalVectorEnv(() => new CountingTask("other"), 2), 9);
        owned.Add(other);
        var b = SimWorker.Start(other, Bind("tcp"));
        owned.Add(b);
        Assert.Throws<SimWorkerLostException>(() => new VectorEnvClient([a.Endpoint, b.Endpoint], Fast));
    }

    [Fact]
    public void Client_errors_are_reported_without_breaking_the_link()
    {
        var worker = StartWorker(Bind("tcp"));
        var env = Client(null, worker.Endpoint);
        var batch = new VectorBatch(2, 2);
        Assert.Throws<ArgumentException>(() => env.Reset(batch, parameters: new Dictionary<string, double> { ["colour"] = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => env.Reset(batch, parameters: new Dictionary<string, double> { ["scale"] = 11 }));
        env.Reset(batch);
        Assert.Throws<ArgumentException>(() => env.Step([float.NaN, 0f], batch));
        Assert.Throws<ArgumentException>(() => env.Step([0f], batch));
        env.Step([0.5f, 0.5f], batch);
        Assert.Equal([1f, 100f, 1f, 101f], batch.Obs);
        Assert.Equal(0, env.Recoveries);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("ipc")]
    public void A_worker_restarted_on_its_endpoint_is_noticed_and_only_its_envs_lose_the_step(string transport)
    {
        var a = StartWorker(Bind(transport, "a"), seed: 10, session: 1);
        var b = StartWorker(Bind(transport, "b"), seed: 20, session: 2);
        var env = Client(Fast with { HeartbeatInterval = TimeSpan.FromHours(1) }, a.Endpoint, b.Endpoint);
        var recovered = new List<SimWorkerRecoveredEventArgs>();
        env.WorkerRecovered += (_, e) => recovered.Add(e);
        var batch = new VectorBatch(4, 2);
        env.Reset(batch, parameters: new Dictionary<string, double> { ["scale"] = 2 });
        env.Step([0.5f, 0.5f, 0.5f, 0.5f], batch);
        Assert.Equal([1f, 10f, 1f, 11f, 1f, 20f, 1f, 21f], batch.Obs);

        // Worker b restarts on the same endpoint (new process state, fresh envs, seed 30).
        var endpointB = b.Endpoint;
        b.Dispose();
        var b2 = StartWorker(endpointB, seed: 30, session: 3);

        env.Step([0.5f, 0.5f, 0.5f, 0.5f], batch);
        Assert.Equal([1f, 1f, 0f, 0f], batch.Reward); // a stepped (scale 2 × 0.5); b's step was lost
        Assert.Equal([0, 0, 1, 1], batch.Truncated);
        Assert.Equal([0, 0, 0, 0], batch.Terminated);
        Assert.Equal([0, 0, 1, 1], batch.Lost);
        Assert.Equal([1f, 20f, 1f, 21f], batch.FinalObs[4..]); // the observations the lost actions were computed from
        Assert.Equal([2f, 10f, 2f, 11f, 0f, 30f, 0f, 31f], batch.Obs); // b's envs: fresh episodes of the new worker
        Assert.Equal(1, env.Recoveries);
        var e = Assert.Single(recovered);
        Assert.Equal((1, endpointB, true), (e.Worker, e.Endpoint, e.StepLost));
        Assert.Contains("not_reset", e.Reason);
        Assert.Equal(2.0, SimMessages.ReadHelloReply(Hello(b2)).Params["scale"]); // parameters re-applied

        env.Step([0.5f, 0.5f, 0.5f, 0.5f], batch);
        Assert.Equal([0, 0, 0, 0], batch.Lost);
        Assert.Equal([1f, 1f, 1f, 1f], batch.Reward);
    }

    [Fact]
    public void A_heartbeat_notices_a_restart_by_its_session()
    {
        var a = StartWorker(Bind("tcp"), session: 1);
        var env = Client(Fast with { HeartbeatInterval = TimeSpan.FromTicks(1) }, a.Endpoint);
        var recovered = new List<SimWorkerRecoveredEventArgs>();
        env.WorkerRecovered += (_, e) => recovered.Add(e);
        var batch = new VectorBatch(2, 2);
        env.Reset(batch);
        env.Step([0f, 0f], batch);
        Assert.Empty(recovered); // pinged before the step, same session
        var endpoint = a.Endpoint;
        a.Dispose();
        StartWorker(endpoint, session: 2);
        env.Step([0f, 0f], batch);
        Assert.Contains("new session", Assert.Single(recovered).Reason);
        Assert.Equal([1, 1], batch.Truncated);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("ipc")]
    public void A_dead_worker_is_retried_with_backoff_until_it_comes_back(string transport)
    {
        var a = StartWorker(Bind(transport), session: 1);
        var endpoint = a.Endpoint;
        var env = Client(Fast with { HeartbeatInterval = TimeSpan.FromHours(1), ReplyTimeout = TimeSpan.FromMilliseconds(300) }, endpoint);
        var batch = new VectorBatch(2, 2);
        env.Reset(batch);
        a.Dispose();
        var lostEvents = 0;
        // The worker comes back only once the client has noticed the loss (no timing assumptions).
        env.WorkerLost += (_, e) =>
        {
            lostEvents++;
            Assert.Contains("no reply within 300 ms", e.Reason);
            StartWorker(endpoint, seed: 50, session: 2);
        };
        env.Step([0f, 0f], batch);
        Assert.Equal(1, lostEvents);
        Assert.Equal([1, 1], batch.Truncated);
        Assert.Equal([0f, 50f, 0f, 51f], batch.Obs);
        env.Step([0f, 0f], batch);
        Assert.Equal([1f, 50f, 1f, 51f], batch.Obs);
    }

    [Fact]
    public void A_worker_that_never_returns_is_given_up_on()
    {
        var a = StartWorker(Bind("tcp"));
        var env = Client(Fast with { ReplyTimeout = TimeSpan.FromMilliseconds(100), GiveUpAfter = TimeSpan.FromMilliseconds(400), HeartbeatInterval = TimeSpan.FromHours(1) }, a.Endpoint);
        var batch = new VectorBatch(2, 2);
        env.Reset(batch);
        a.Dispose();
        var e = Assert.Throws<SimWorkerLostException>(() => env.Step([0f, 0f], batch));
        Assert.Contains("unreachable", e.Message);
    }

    [Fact]
    public void A_stopping_client_stops_waiting_for_a_gone_worker_within_its_check_interval()
    {
        using var stopping = new CancellationTokenSource();
        var slow = Fast with { ReplyTimeout = TimeSpan.FromSeconds(30), GiveUpAfter = TimeSpan.FromMinutes(5) };
        var a = StartWorker(Bind("ipc"));
        var env = Client(slow with { Stopping = stopping.Token }, a.Endpoint);
        var batch = new VectorBatch(2, 2);
        env.Reset(batch);
        env.Step([0f, 0f], batch);
        a.Dispose();
        // Mid-wait (the reply would take 30 s to be given up on, the reconnection minutes): the stop ends it.
        stopping.CancelAfter(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => env.Step([0f, 0f], batch));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"abandoned after {clock.Elapsed.TotalSeconds:F1} s");

        // First contact with nobody there: the same.
        var clock2 = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => new VectorEnvClient([Bind("ipc", "nobody")], slow with { Stopping = stopping.Token }));
        Assert.True(clock2.Elapsed < TimeSpan.FromSeconds(5), $"first contact abandoned after {clock2.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void A_simulator_failure_truncates_that_workers_envs_and_resets_them()
    {
        var a = StartWorker(Bind("tcp"), seed: 10);
        var env = Client(null, a.Endpoint);
        var batch = new VectorBatch(2, 2);
        env.Reset(batch, seeds: [3, 4]);
        env.Step([-0.5f, 0f], batch); // CountingTask blows up on −0.5
        Assert.Equal([1, 1], batch.Truncated);
        Assert.Equal([1, 1], batch.Lost);
        Assert.Equal([0f, 3f, 0f, 4f], batch.FinalObs);
        Assert.Equal([0f, 0f], batch.Obs.Where((_, i) => i % 2 == 0)); // fresh episodes
        Assert.Equal(1, env.Recoveries);
    }

    [Fact]
    public async Task RunAsync_serves_until_cancelled()
    {
        using var service = new SimService(new LocalVectorEnv(() => new CountingTask(), 1), 5);
        using var cts = new CancellationTokenSource();
        var bound = new TaskCompletionSource<string>();
        var run = SimWorker.RunAsync(service, Bind("tcp"), null, w => bound.SetResult(w.Endpoint), cts.Token);
        var endpoint = await bound.Task.WaitAsync(TimeSpan.FromSeconds(30));
        using (var env = new VectorEnvClient([endpoint], Fast)) Assert.Equal(1, env.NumEnvs);
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            Assert.Throws<ZmqException>(() => SimWorker.Start(service, $"tcp://127.0.0.1:{((System.Net.IPEndPoint)taken.LocalEndpoint).Port}"));
        }
        finally
        {
            taken.Stop();
        }
        Assert.Throws<DirectoryNotFoundException>(() => SimWorker.Start(service, "ipc:///nonexistent-meow-dir/sim.sock"));
    }

    private static byte[] Hello(SimWorker worker)
    {
        using var context = new ZmqContext();
        using var req = context.CreateSocket(ZmqSocketType.Req);
        req.Connect(worker.Endpoint);
        var hello = new ArrayBufferWriter<byte>();
        SimMessages.WriteRequest(hello, SimOp.Hello);
        req.Send(hello.WrittenSpan);
        Assert.NotEqual(ZmqPollEvents.None, req.Poll(ZmqPollEvents.In, TimeSpan.FromSeconds(10)));
        return req.ReceiveFrame();
    }

    [Fact]
    public void An_ipc_path_held_by_a_listener_that_takes_no_lock_is_refused_and_a_stale_file_is_removed()
    {
        var path = Path.Combine(ipcDir, "foreign.sock");
        using (var foreign = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            foreign.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            foreign.Listen(1);
            var e = Assert.Throws<SimEndpointInUseException>(() => IpcPathLock.Acquire("ipc://" + path));
            Assert.Contains("listens on", e.Message);
            Assert.True(File.Exists(path)); // left alone
        }
        // What a killed worker leaves (.NET removed its own socket's file on Dispose): a file nobody listens on, removed.
        File.WriteAllText(path, "");
        var worker = StartWorker("ipc://" + path);
        Assert.True(worker.RemovedStaleSocket);
        Assert.Equal(2, Client(null, worker.Endpoint).NumEnvs);
        // A second worker in this process is refused too (the lock is per open file).
        Assert.Throws<SimEndpointInUseException>(() => StartWorker("ipc://" + path));
        Assert.Null(IpcPathLock.Acquire("tcp://127.0.0.1:*"));
    }
}
