using System.Diagnostics;
using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;
using MeowRobot.Testing;

namespace MeowRobot.Sim.Tests;

/// <summary>A real `sim serve` child process, SIGKILLed under a client and restarted on the same endpoint.</summary>
public sealed class SimServeProcessTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("meow-serve-").FullName;
    private readonly List<Process> children = [];

    public void Dispose()
    {
        foreach (var p in children)
        {
            if (!p.HasExited) p.Kill();
            p.WaitForExit();
            p.Dispose();
        }
        Directory.Delete(dir, recursive: true);
    }

    private void Serve(string endpoint)
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "MeowRobot.Sim.dll");
        var p = Process.Start(new ProcessStartInfo("dotnet", [exe, "serve", "--Sim:Task=pendulum", "--Sim:Envs=2", $"--Sim:Bind={endpoint}", "--Sim:Seed=3"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        children.Add(p);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_sigkilled_sim_serve_is_recovered_from_when_it_restarts()
    {
        var endpoint = $"ipc://{dir}/sim.sock";
        Serve(endpoint);
        // The client's first contact waits (retrying) until the child has bound: no sleeps needed.
        using var env = new VectorEnvClient([endpoint], new VectorEnvClientOptions
        {
            ReplyTimeout = TimeSpan.FromSeconds(2),
            ReconnectBackoff = TimeSpan.FromMilliseconds(50),
            MaxReconnectBackoff = TimeSpan.FromMilliseconds(500),
            GiveUpAfter = TimeSpan.FromSeconds(60),
            HeartbeatInterval = TimeSpan.FromHours(1),
        });
        Assert.Equal(("pendulum", 2), (env.Spec.Name, env.NumEnvs));
        var batch = new VectorBatch(2, 3);
        env.Reset(batch);
        env.Step([1f, -1f], batch);
        var before = batch.Obs.ToArray();

        children[0].Kill(); // SIGKILL
        children[0].WaitForExit();
        var lost = 0;
        env.WorkerLost += (_, _) => { lost++; Serve(endpoint); };
        env.Step([1f, -1f], batch);

        Assert.Equal(1, lost);
        Assert.Equal([1, 1], batch.Lost);
        Assert.Equal([1, 1], batch.Truncated);
        Assert.Equal(before, batch.FinalObs);
        // The new process's envs start from seed 3 + i, as the first one's did.
        using var reference = new Pendulum();
        var obs = new float[3];
        for (var i = 0; i < 2; i++)
        {
            reference.Reset(3 + i, obs);
            Assert.Equal(obs, batch.ObsRow(i).ToArray());
        }
        env.Step([0f, 0f], batch);
        Assert.Equal([0, 0], batch.Lost);
    }
}
