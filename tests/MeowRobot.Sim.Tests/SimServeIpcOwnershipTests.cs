using System.Text.RegularExpressions;
using MeowRobot.Bridge.Sim;
using MeowRobot.Testing;

namespace MeowRobot.Sim.Tests;

/// <summary>Issue 18's second-worker attack with real `sim serve` processes: a second worker on a live worker's ipc
/// path is refused (the first keeps serving), and a SIGKILLed worker's leftover socket is cleaned up by the next one.</summary>
public sealed class SimServeIpcOwnershipTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("meow-ipcown-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string[] Args(string endpoint, int seed) => ["--Sim:Task=pendulum", "--Sim:Envs=1", $"--Sim:Bind={endpoint}", $"--Sim:Seed={seed}"];

    private static VectorEnvClient Client(string endpoint) =>
        new([endpoint], new VectorEnvClientOptions { ReplyTimeout = TimeSpan.FromSeconds(10), GiveUpAfter = TimeSpan.FromSeconds(30) });

    [RequiresFact(Requirement.LibZmq)]
    public void A_second_worker_on_a_live_workers_ipc_path_is_refused_and_the_first_keeps_serving()
    {
        var endpoint = $"ipc://{dir}/sim.sock";
        using var first = new SimServeProcess(Args(endpoint, 1));
        using var env = Client(endpoint);
        var session = env.Workers[0].Session;

        var (code, log) = SimServeProcess.RunToExit(TimeSpan.FromSeconds(60), Args(endpoint, 2));
        Assert.Equal(78, code);      // a resource taken by another process: a configuration error, not a crash to restart
        Assert.Contains("another live sim worker holds", log);

        // The first worker still owns the path: a new client reaches it (same session), and the old one still steps.
        using (var again = Client(endpoint)) Assert.Equal(session, again.Workers[0].Session);
        var batch = new VectorBatch(1, 3);
        env.Reset(batch);
        env.Step([0f], batch);
        Assert.Equal([0], batch.Lost);
        Assert.False(first.Process.HasExited);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_killed_workers_stale_socket_is_removed_by_the_next_worker()
    {
        var endpoint = $"ipc://{dir}/sim.sock";
        using (var dead = new SimServeProcess(Args(endpoint, 1)))
        {
            dead.Process.Kill(); // SIGKILL: its socket file stays, the kernel drops its lock
            dead.Process.WaitForExit();
        }
        Assert.True(File.Exists($"{dir}/sim.sock"));
        using var next = new SimServeProcess(Args(endpoint, 2));
        Assert.NotNull(next.WaitForLine(new Regex("removed a dead worker's socket file"), TimeSpan.FromSeconds(10)));
        using var env = Client(endpoint);
        Assert.Equal(1, env.NumEnvs);
    }
}
