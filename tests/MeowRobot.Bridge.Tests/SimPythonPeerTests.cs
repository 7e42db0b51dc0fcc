using System.Buffers;
using System.Diagnostics;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Sim.Protocol;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>
/// The Python sim worker (bridge/python/meow_sim_worker.py, an independent implementation of sim protocol v1 on pyzmq
/// and msgpack-python) driven by the C# client: hello/reset/step, its pendulum physics against the Pendulum-v1 equations
/// worked here, the same error codes for the same bad requests, and recovery from a SIGKILLed worker process.
/// </summary>
public sealed class SimPythonPeerTests(SimPythonPeerTests.SharedPeer shared) : IDisposable, IClassFixture<SimPythonPeerTests.SharedPeer>
{
    /// <summary>One Python worker (2 envs) for the many bad-request rows: starting a process per row would dominate the run.</summary>
    public sealed class SharedPeer : IDisposable
    {
        private readonly SimPythonPeerTests owner = new(null!);
        private readonly Lazy<string> endpoint;

        public SharedPeer() => endpoint = new(() => owner.StartPeer("tcp://127.0.0.1:*", envs: 2));

        public string Endpoint => endpoint.Value;

        public void Dispose() => owner.Dispose();
    }

    private static readonly string Script = Path.Combine(SharedMaterial.RepoRoot, "bridge", "python", "meow_sim_worker.py");
    private readonly List<Process> processes = [];

    public void Dispose()
    {
        foreach (var p in processes)
        {
            if (!p.HasExited) p.Kill();
            p.WaitForExit();
            p.Dispose();
        }
    }

    private readonly List<string> stderr = [];
    private readonly SemaphoreSlim stderrLines = new(0);

    /// <summary>Starts the Python worker and returns the endpoint it printed once bound (its stderr lines go to <see cref="stderr"/>).</summary>
    private string StartPeer(string bind, int envs, int seed = 0, params string[] extra)
    {
        var p = Launch([Script, "--envs", envs.ToString(), "--bind", bind, "--seed", seed.ToString(), .. extra]);
        var line = p.StandardOutput.ReadLine();
        if (line is null)
        {
            p.WaitForExit();
            throw new InvalidOperationException("python worker exited: " + Stderr());
        }
        Assert.StartsWith("listening on ", line);
        return line["listening on ".Length..];
    }

    private Process Launch(string[] args)
    {
        var p = Process.Start(new ProcessStartInfo(Requirements.DebianPython, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        processes.Add(p);
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.Add(e.Data);
            stderrLines.Release();
        };
        p.BeginErrorReadLine();
        return p;
    }

    private string Stderr()
    {
        lock (stderr) return string.Join('\n', stderr);
    }

    private static readonly VectorEnvClientOptions Options = new()
    {
        ReplyTimeout = TimeSpan.FromSeconds(1),
        ReconnectBackoff = TimeSpan.FromMilliseconds(20),
        MaxReconnectBackoff = TimeSpan.FromMilliseconds(200),
        GiveUpAfter = TimeSpan.FromSeconds(30),
        HeartbeatInterval = TimeSpan.FromHours(1),
    };

    /// <summary>Pendulum-v1 from its equations (θ from the observation; Gymnasium's update order).</summary>
    private static (float[] Obs, float Reward) PendulumStep(ReadOnlySpan<float> obs, float action)
    {
        var theta = Math.Atan2(obs[1], obs[0]);
        double thetaDot = obs[2];
        var u = Math.Clamp(action, -2.0, 2.0);
        var cost = theta * theta + 0.1 * thetaDot * thetaDot + 0.001 * u * u; // atan2 is already in [−π, π]
        var newDot = Math.Clamp(thetaDot + (3 * 10 / 2.0 * Math.Sin(theta) + 3.0 * u) * 0.05, -8, 8);
        var newTheta = theta + newDot * 0.05;
        return ([(float)Math.Cos(newTheta), (float)Math.Sin(newTheta), (float)newDot], (float)-cost);
    }

    [RequiresFact(Requirement.PythonPeer, Requirement.LibZmq)]
    public void The_csharp_client_steps_the_python_pendulum_and_its_physics_match_the_equations()
    {
        var endpoint = StartPeer("tcp://127.0.0.1:*", envs: 3, seed: 7);
        using var env = new VectorEnvClient([endpoint], Options);
        Assert.Equal(("pendulum", 3, 3, 1, 200), (env.Spec.Name, env.NumEnvs, env.Spec.ObsDim, env.Spec.ActDim, env.Spec.MaxEpisodeSteps));
        Assert.Equal([-2f], env.Spec.ActLow);
        Assert.Equal((0.5, 2.0), (env.Parameters.Single(p => p.Name == "mass").Min, env.Parameters.Single(p => p.Name == "mass").Max));
        var batch = new VectorBatch(3, 3);
        env.Reset(batch, seeds: [1, 2, 3]);
        var first = batch.Obs.ToArray();
        env.Reset(batch, seeds: [1, 2, 3]);
        Assert.Equal(first, batch.Obs); // seeded resets reproduce
        for (var i = 0; i < 3; i++)
        {
            var row = batch.ObsRow(i);
            Assert.Equal(1f, row[0] * row[0] + row[1] * row[1], 1e-5f);
            Assert.InRange(row[2], -1f, 1f);
        }
        float[] actions = [1.5f, -0.7f, 5f]; // the last one is clipped to 2
        var before = batch.Obs.ToArray();
        env.Step(actions, batch);
        for (var i = 0; i < 3; i++)
        {
            var (obs, reward) = PendulumStep(before.AsSpan(i * 3, 3), actions[i]);
            Assert.Equal(reward, batch.Reward[i], 1e-3f);
            for (var k = 0; k < 3; k++) Assert.Equal(obs[k], batch.ObsRow(i)[k], 1e-4f);
        }
        Assert.Equal([0, 0, 0], batch.Terminated);
        // 199 more steps: every episode is truncated at 200, and auto-reset.
        for (var t = 1; t < 200; t++) env.Step([0f, 0f, 0f], batch);
        Assert.Equal([1, 1, 1], batch.Truncated);
        Assert.Equal([0, 0, 0], batch.Terminated);
        env.Reset(batch, parameters: new Dictionary<string, double> { ["mass"] = 2 });
        using (var second = new VectorEnvClient([endpoint], Options)) Assert.Equal(2.0, second.Workers[0].Params["mass"]);
        Assert.Throws<ArgumentOutOfRangeException>(() => env.Reset(batch, parameters: new Dictionary<string, double> { ["mass"] = 3 }));
    }

    [RequiresFact(Requirement.PythonPeer, Requirement.LibZmq)]
    public void The_python_peer_randomises_per_episode_as_asked_and_reports_the_draws()
    {
        var endpoint = StartPeer("tcp://127.0.0.1:*", envs: 2, seed: 7);
        using var env = new VectorEnvClient([endpoint], Options);
        Assert.Empty(env.Randomisation);
        ParameterDistribution[] randomisation = [ParameterDistribution.Parse("length=uniform(0.5, 1.5)"), ParameterDistribution.Parse("mass=log_uniform(0.5, 2)")];
        env.SetRandomisation(randomisation);
        var batch = new VectorBatch(2, 3);
        env.Reset(batch, seeds: [4, 4]);
        Assert.Equal(["length", "mass"], batch.EpisodeParamNames);
        Assert.Equal(batch.EpisodeParamsRow(0).ToArray(), batch.EpisodeParamsRow(1).ToArray()); // same episode seed, same draw
        var draws = batch.EpisodeParams.ToArray();
        env.Reset(batch, seeds: [4, 5]);
        Assert.Equal(draws[..2], batch.EpisodeParamsRow(0).ToArray());
        Assert.NotEqual(draws[..2], batch.EpisodeParamsRow(1).ToArray());
        var (l, m) = (batch.EpisodeParamsRow(1)[0], batch.EpisodeParamsRow(1)[1]);
        Assert.InRange(l, 0.5, 1.5);
        Assert.InRange(m, 0.5, 2.0);
        // Its physics uses them: θ̇′ = θ̇ + (3g/(2l) sin θ + 3/(m l²) u) dt.
        var before = batch.ObsRow(1).ToArray();
        env.Step([0f, 1f], batch);
        var theta = Math.Atan2(before[1], before[0]);
        var expected = before[2] + (3 * 10 / (2 * l) * Math.Sin(theta) + 3.0 / (m * l * l)) * 0.05;
        Assert.Equal(expected, batch.ObsRow(1)[2], 1e-4);
        for (var t = 1; t < 200; t++) env.Step([0f, 0f], batch);
        Assert.Equal([1, 1], batch.Truncated);
        Assert.Equal(l, batch.FinalEpisodeParamsRow(1)[0]);
        using (var second = new VectorEnvClient([endpoint], Options)) Assert.Equal(randomisation, second.Randomisation); // hello reports it
        Assert.Throws<ArgumentException>(() => env.SetRandomisation([ParameterDistribution.Parse("mass=uniform(0.1, 1)")]));
    }

    [RequiresTheory(Requirement.PythonPeer, Requirement.LibZmq)]
    [MemberData(nameof(SimProtocolTests.BadRequests), MemberType = typeof(SimProtocolTests))]
    public void The_python_peer_answers_bad_requests_with_the_same_codes(string hex, string code)
    {
        // The rows name CountingTask's parameters: "scale" becomes the pendulum's "mass" (11 is out of range for both);
        // "lag" (a whole-number parameter) has no pendulum counterpart.
        if (hex.Contains("a3 6c 61 67 cb", StringComparison.Ordinal)) return;
        hex = hex.Replace("a5 73 63 61 6c 65", "a4 6d 61 73 73", StringComparison.Ordinal);
        var endpoint = shared.Endpoint;
        using var context = new ZmqContext();
        using var req = context.CreateSocket(ZmqSocketType.Req);
        req.Connect(endpoint);
        byte[] RoundTrip(ReadOnlySpan<byte> message)
        {
            req.Send(message);
            Assert.NotEqual(ZmqPollEvents.None, req.Poll(ZmqPollEvents.In, TimeSpan.FromSeconds(10)));
            return req.ReceiveFrame();
        }
        var reset = new ArrayBufferWriter<byte>();
        SimMessages.WriteReset(reset, [1, 2], true, null);
        SimMessages.ReadResetReply(RoundTrip(reset.WrittenSpan), new float[6]);
        var reply = RoundTrip(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)));
        Assert.Equal(code, Assert.Throws<SimWorkerErrorException>(() => SimMessages.ReadOkReply(reply)).Code);
    }

    [RequiresFact(Requirement.PythonPeer, Requirement.LibZmq)]
    public void A_sigkilled_worker_process_is_recovered_from_when_it_is_restarted()
    {
        var first = StartPeer("tcp://127.0.0.1:*", envs: 2, seed: 3);
        using var env = new VectorEnvClient([first], Options);
        var batch = new VectorBatch(2, 3);
        env.Reset(batch);
        env.Step([0f, 0f], batch);
        var before = batch.Obs.ToArray();
        processes[0].Kill(); // SIGKILL: no goodbye on the socket
        processes[0].WaitForExit();
        env.WorkerLost += (_, _) => StartPeer(first, envs: 2, seed: 3);
        env.Step([0f, 0f], batch);
        Assert.Equal([1, 1], batch.Lost);
        Assert.Equal([1, 1], batch.Truncated);
        Assert.Equal(before, batch.FinalObs);
        Assert.Equal(1, env.Recoveries);
        env.Step([0f, 0f], batch);
        Assert.Equal([0, 0], batch.Lost);
    }

    [RequiresFact(Requirement.PythonPeer, Requirement.LibZmq)]
    public void The_python_peer_with_curve_serves_allowed_keys_and_refuses_logs_and_counts_others()
    {
        using var dir = new TempKeys();
        var endpoint = StartPeer("tcp://127.0.0.1:*", envs: 2, seed: 0, "--secret-key", dir.WorkerSecret, "--allowed-client-keys", dir.AllowedDir);
        using (var env = new VectorEnvClient([endpoint], Options with { Curve = new SimClientCurve(dir.Trainer, dir.Worker.PublicKey.ToArray()) }))
        {
            var batch = new VectorBatch(2, 3);
            env.Reset(batch, seeds: [1, 2]);
            env.Step([0f, 0f], batch);
            Assert.Equal([0, 0], batch.Lost);
        }
        var intruder = ZmqCurveKeyPair.Generate();
        Assert.Throws<SimWorkerLostException>(() => new VectorEnvClient([endpoint], Options with
        {
            Curve = new SimClientCurve(intruder, dir.Worker.PublicKey.ToArray()),
            ReplyTimeout = TimeSpan.FromMilliseconds(300),
            GiveUpAfter = TimeSpan.FromMilliseconds(600),
        }));
        Assert.True(stderrLines.Wait(TimeSpan.FromSeconds(10)), "no refusal logged");
        Assert.Contains($"refused a client handshake from 127.0.0.1 (key {intruder.PublicKeyZ85}): client key not allowed; 1 refused so far", Stderr());
        // A plain client is not served either.
        Assert.Throws<SimWorkerLostException>(() => new VectorEnvClient([endpoint], Options with { ReplyTimeout = TimeSpan.FromMilliseconds(300), GiveUpAfter = TimeSpan.FromMilliseconds(600) }));
    }

    [RequiresFact(Requirement.PythonPeer)]
    public void The_python_peer_refuses_a_network_bind_without_keys_with_exit_78()
    {
        var p = Launch([Script, "--bind", "tcp://0.0.0.0:0"]);
        Assert.True(p.WaitForExit(30_000));
        Assert.Equal(78, p.ExitCode);
        p.WaitForExit(); // the stderr reader has drained
        Assert.Contains("reachable from the network", Stderr());
    }

    [RequiresFact(Requirement.PythonPeer, Requirement.LibZmq)]
    public void The_python_peer_refuses_an_ipc_path_a_live_csharp_worker_holds()
    {
        using var keys = new TempKeys(); // a temp dir
        var endpoint = $"ipc://{keys.Root}/sim.sock";
        using var service = new SimService(new LocalVectorEnv(() => new CountingTask(), 1), 3);
        using var worker = SimWorker.Start(service, endpoint);
        var p = Launch([Script, "--bind", endpoint]);
        Assert.True(p.WaitForExit(30_000));
        p.WaitForExit();
        Assert.Equal(1, p.ExitCode);
        Assert.Contains("another live sim worker holds", Stderr());
        using var env = new VectorEnvClient([endpoint], Options);
        Assert.Equal(3UL, env.Workers[0].Session); // still the C# worker
    }

    /// <summary>A worker key pair and an allow-list directory holding the trainer's public key, in a temp dir.</summary>
    private sealed class TempKeys : IDisposable
    {
        private readonly string root = Directory.CreateTempSubdirectory("meow-simkeys-").FullName;

        public string Root => root;

        public TempKeys()
        {
            Worker.Save(WorkerSecret, Path.Combine(root, "worker.key"));
            Directory.CreateDirectory(AllowedDir);
            Trainer.Save(Path.Combine(root, "trainer.key_secret"), Path.Combine(AllowedDir, "trainer.key"));
        }

        public ZmqCurveKeyPair Worker { get; } = ZmqCurveKeyPair.Generate();
        public ZmqCurveKeyPair Trainer { get; } = ZmqCurveKeyPair.Generate();
        public string WorkerSecret => Path.Combine(root, "worker.key_secret");
        public string AllowedDir => Path.Combine(root, "allowed");

        public void Dispose() => Directory.Delete(root, recursive: true);
    }
}
