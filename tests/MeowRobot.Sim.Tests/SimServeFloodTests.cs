using System.Buffers;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Sim.Protocol;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Tasks;
using MeowRobot.Testing;

namespace MeowRobot.Sim.Tests;

/// <summary>
/// Issue 18's first attack on a real `sim serve` process (libzmq aborts the whole process when it fails, so only a
/// separate process shows it): four DEALERs that never read (RCVHWM 1) flood a 4096-env worker with step requests while
/// one of them is closed abruptly every 2 s, for 20 s; then a well-behaved client must still be served.
/// </summary>
public sealed class SimServeFloodTests
{
    [RequiresFact(Requirement.LibZmq)]
    public void Sim_serve_survives_vanishing_flooders_and_then_serves_a_well_behaved_client()
    {
        const int envs = 4096;
        using var sim = new SimServeProcess("--Sim:Task=pendulum", $"--Sim:Envs={envs}", "--Sim:Bind=tcp://127.0.0.1:*", "--Sim:Seed=1");
        var (serve, endpoint) = (sim.Process, sim.Endpoint);
        using (var flood = new StepFlood(endpoint, envs, actDim: 1, dealers: 4, rotateEvery: TimeSpan.FromSeconds(2)))
        {
            // The attack's length, not a synchronisation: the worker either dies within it or survives it.
            var died = serve.WaitForExit(20_000);
            flood.Stop();
            Assert.False(died, $"sim serve died under the flood (exit {(died ? serve.ExitCode : 0)}):\n{sim.Tail()}");
            Assert.True(flood.Closed >= 9, $"only {flood.Closed} abrupt closes");
            Assert.True(flood.Sent >= 1000, $"only {flood.Sent} step requests sent");
        }

        using var env = new VectorEnvClient([endpoint], new VectorEnvClientOptions { ReplyTimeout = TimeSpan.FromSeconds(10), GiveUpAfter = TimeSpan.FromSeconds(30) });
        var batch = new VectorBatch(envs, 3);
        env.Reset(batch, seeds: Enumerable.Range(100, envs).ToArray());
        // Seeded reset: the worker's envs are where this client put them, whatever the flood did before.
        using var reference = new Pendulum();
        var obs = new float[3];
        reference.Reset(100 + envs - 1, obs);
        Assert.Equal(obs, batch.ObsRow(envs - 1).ToArray());
        var actions = new float[envs];
        for (var i = 0; i < 5; i++)
        {
            env.Step(actions, batch);
            Assert.All(batch.Lost, l => Assert.Equal(0, l));
        }
        Assert.Equal(0, env.Recoveries);
        Assert.False(serve.HasExited);
    }

    /// <summary>
    /// The attackers: <c>dealers</c> threads, each with its own DEALER (RCVHWM 1, never reading) sending a reset and
    /// then step requests as fast as the socket takes them; every <c>rotateEvery</c> the next one in turn closes its socket
    /// with unread replies in it (LINGER 0: the kernel answers with a reset) and connects a new one.
    /// </summary>
    private sealed class StepFlood : IDisposable
    {
        private readonly ZmqContext context = new();
        private readonly Thread[] threads;
        private readonly int[] generation;
        private readonly Timer rotation;
        private volatile bool stopping;
        private int turn;
        private long sent;
        private long closed;

        public StepFlood(string endpoint, int numEnvs, int actDim, int dealers, TimeSpan rotateEvery)
        {
            var reset = new ArrayBufferWriter<byte>();
            SimMessages.WriteReset(reset, [], false, null);
            var step = new ArrayBufferWriter<byte>();
            SimMessages.WriteStep(step, new float[numEnvs * actDim]);
            generation = new int[dealers];
            threads = Enumerable.Range(0, dealers).Select(i => new Thread(() => Attack(i, endpoint, reset.WrittenMemory, step.WrittenMemory))
            {
                IsBackground = true,
                Name = $"flood-{i}",
            }).ToArray();
            foreach (var t in threads) t.Start();
            rotation = new Timer(_ => Interlocked.Increment(ref generation[Interlocked.Increment(ref turn) % dealers]), null, rotateEvery, rotateEvery);
        }

        public long Sent => Interlocked.Read(ref sent);
        public long Closed => Interlocked.Read(ref closed);

        public void Stop()
        {
            rotation.Dispose();
            stopping = true;
            foreach (var t in threads) t.Join();
        }

        public void Dispose()
        {
            Stop();
            context.Dispose();
        }

        private void Attack(int i, string endpoint, ReadOnlyMemory<byte> reset, ReadOnlyMemory<byte> step)
        {
            while (!stopping)
            {
                var mine = Volatile.Read(ref generation[i]);
                using (var dealer = context.CreateSocket(ZmqSocketType.Dealer))
                {
                    dealer.ReceiveHighWatermark = 1;
                    dealer.Connect(endpoint);
                    dealer.Send(reset.Span);
                    while (!stopping && Volatile.Read(ref generation[i]) == mine)
                    {
                        if (dealer.TrySend(step.Span)) Interlocked.Increment(ref sent);
                        else dealer.Poll(ZmqPollEvents.Out, TimeSpan.FromMilliseconds(20));
                    }
                }
                Interlocked.Increment(ref closed);
            }
        }
    }
}
