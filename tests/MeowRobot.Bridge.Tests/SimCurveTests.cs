using System.Buffers;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Sim.Protocol;
using MeowRobot.Bridge.Zmq;

namespace MeowRobot.Bridge.Tests;

/// <summary>Sim protocol v1 with CURVE + a ZAP allow-list, over real sockets: allowed keys are served, anyone else gets
/// nothing and is counted and reported; network endpoints need keys.</summary>
public sealed class SimCurveTests : IDisposable
{
    private static readonly ZmqCurveKeyPair WorkerKeys = ZmqCurveKeyPair.Generate();
    private static readonly ZmqCurveKeyPair Trainer = ZmqCurveKeyPair.Generate();
    private static readonly ZmqCurveKeyPair Intruder = ZmqCurveKeyPair.Generate();

    private readonly SimService service = new(new LocalVectorEnv(() => new CountingTask(), 2, 100), 7);
    private readonly SimWorker worker;
    private readonly List<ZapRefusal> refusals = [];
    private readonly SemaphoreSlim refused = new(0);

    public SimCurveTests()
    {
        worker = SimWorker.Start(service, "tcp://127.0.0.1:*", new SimServerCurve(WorkerKeys, [Trainer.PublicKey.ToArray()]));
        worker.ClientRefused += r =>
        {
            lock (refusals) refusals.Add(r);
            refused.Release();
        };
    }

    public void Dispose()
    {
        worker.Dispose();
        service.Dispose();
    }

    private static VectorEnvClientOptions Options(ZmqCurveKeyPair? keys, byte[]? serverKey = null) => new()
    {
        ReplyTimeout = TimeSpan.FromMilliseconds(300),
        ReconnectBackoff = TimeSpan.FromMilliseconds(20),
        GiveUpAfter = keys is null || keys == Intruder || serverKey is not null ? TimeSpan.FromMilliseconds(600) : TimeSpan.FromSeconds(20),
        Curve = keys is null ? null : new SimClientCurve(keys, serverKey ?? WorkerKeys.PublicKey.ToArray()),
    };

    [Fact]
    public void An_allow_listed_client_is_served()
    {
        using var env = new VectorEnvClient([worker.Endpoint], Options(Trainer) with { ReplyTimeout = TimeSpan.FromSeconds(10) });
        var batch = new VectorBatch(2, 2);
        env.Reset(batch, seeds: [5, 6]);
        env.Step([0.5f, 0f], batch);
        Assert.Equal([1f, 5f, 1f, 6f], batch.Obs);
        Assert.True(worker.Admitted >= 1);
        Assert.Equal(0, worker.Refused);
    }

    [Fact]
    public void An_unknown_key_gets_nothing_and_is_counted_and_reported()
    {
        var e = Assert.Throws<SimWorkerLostException>(() => new VectorEnvClient([worker.Endpoint], Options(Intruder)));
        Assert.Contains("allow-list", e.Message);
        Assert.True(refused.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(worker.Refused >= 1);
        lock (refusals)
        {
            Assert.Equal(Intruder.PublicKeyZ85, refusals[0].ClientKey);
            Assert.Equal("127.0.0.1", refusals[0].Address);
            Assert.Contains("not allowed", refusals[0].Reason);
        }
        // Not one request reached the simulation.
        Assert.Equal(0, service.Requests);
    }

    [Fact]
    public void A_refused_raw_peer_sending_reset_with_other_physics_changes_nothing()
    {
        using var context = new ZmqContext();
        using var dealer = context.CreateSocket(ZmqSocketType.Dealer);
        dealer.MakeCurveClient(Intruder, WorkerKeys.PublicKey);
        dealer.Connect(worker.Endpoint);
        var reset = new ArrayBufferWriter<byte>();
        SimMessages.WriteReset(reset, [], false, new Dictionary<string, double> { ["scale"] = 9 });
        dealer.Send(reset.WrittenSpan);
        Assert.True(refused.Wait(TimeSpan.FromSeconds(10)));
        // Refused at the handshake: the request never left the intruder's queue.
        Assert.Equal(ZmqPollEvents.None, dealer.Poll(ZmqPollEvents.In, TimeSpan.FromMilliseconds(200)));
        Assert.Equal(0, service.Requests);
        Assert.Equal(1.0, service.Env.GetParameter("scale"));
    }

    [Fact]
    public void A_plain_client_or_one_pinning_another_worker_key_gets_nothing()
    {
        Assert.Throws<SimWorkerLostException>(() => new VectorEnvClient([worker.Endpoint], Options(null)));
        Assert.Throws<SimWorkerLostException>(() => new VectorEnvClient([worker.Endpoint], Options(Trainer, ZmqCurveKeyPair.Generate().PublicKey.ToArray())));
        Assert.Equal(0, service.Requests);
    }

    [Theory]
    [InlineData("tcp://0.0.0.0:5601")]
    [InlineData("tcp://*:5601")]
    [InlineData("tcp://eth0:5601")]
    [InlineData("tcp://192.168.1.10:*")]
    [InlineData("tcp://[::]:5601")]
    public void A_network_endpoint_is_not_bound_without_keys(string bind)
    {
        Assert.False(SimEndpoint.IsLoopback(bind));
        var e = Assert.Throws<ArgumentException>(() => SimWorker.Start(service, bind));
        Assert.Contains("CURVE", e.Message);
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:*")]
    [InlineData("tcp://127.3.2.1:5601")]
    [InlineData("tcp://localhost:5601")]
    [InlineData("tcp://[::1]:5601")]
    [InlineData("ipc:///run/meow/sim.sock")]
    public void Loopback_and_ipc_endpoints_may_go_without_keys(string bind) => Assert.True(SimEndpoint.IsLoopback(bind));
}
