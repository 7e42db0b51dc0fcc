using System.Diagnostics;
using MeowRobot.Bridge.Sim;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>
/// The Python worker serving any Gymnasium-style env by `--env module:factory`: the documented example
/// (bridge/python/examples/point_mass.py, plain numpy) stepped by the C# client, its sizes, parameters and physics.
/// </summary>
public sealed class SimPythonEnvTests : IDisposable
{
    private static readonly string PythonDir = Path.Combine(SharedMaterial.RepoRoot, "bridge", "python");
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            if (!p.HasExited) p.Kill();
            p.WaitForExit();
            p.Dispose();
        }
    }

    private Process Worker(params string[] args)
    {
        var info = new ProcessStartInfo(Requirements.DebianPython) { WorkingDirectory = PythonDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "meow_sim_worker.py" }.Concat(args)) info.ArgumentList.Add(a);
        var p = Process.Start(info)!;
        _processes.Add(p);
        return p;
    }

    [RequiresFact(Requirement.PythonPeer, Requirement.PythonNumpy, Requirement.LibZmq)]
    public void The_csharp_client_steps_a_numpy_env_served_by_env_module_factory()
    {
        var p = Worker("--env", "examples.point_mass:make", "--envs", "2", "--bind", "tcp://127.0.0.1:*", "--seed", "4");
        var line = p.StandardOutput.ReadLine() ?? throw new InvalidOperationException("worker exited: " + p.StandardError.ReadToEnd());
        Assert.StartsWith("listening on ", line, StringComparison.Ordinal);
        using var env = new VectorEnvClient([line["listening on ".Length..]], new VectorEnvClientOptions { GiveUpAfter = TimeSpan.FromSeconds(30) });

        Assert.Equal(("point_mass", 2, 4, 2, 100), (env.Spec.Name, env.NumEnvs, env.Spec.ObsDim, env.Spec.ActDim, env.Spec.MaxEpisodeSteps));
        Assert.Equal([-1f, -1f], env.Spec.ActLow);
        Assert.Equal([1f, 1f], env.Spec.ActHigh);
        var gain = env.Parameters.Single(q => q.Name == "gain");
        Assert.Equal((1.0, 0.5, 2.0), (gain.Default, gain.Min, gain.Max));

        var batch = new VectorBatch(2, 4);
        env.Reset(batch, seeds: [1, 2]);
        var before = batch.Obs.ToArray();
        float[] actions = [1f, -0.5f, 0.25f, 1f];
        env.Step(actions, batch);
        for (var i = 0; i < 2; i++)
        {
            // The example's physics: the mass moves 0.1·action, the goal stays, reward −distance.
            var x = before[4 * i] + 0.1f * actions[2 * i];
            var y = before[4 * i + 1] + 0.1f * actions[2 * i + 1];
            Assert.Equal([x, y, before[4 * i + 2], before[4 * i + 3]], batch.ObsRow(i).ToArray(), (a, b) => Math.Abs(a - b) < 1e-5f);
            Assert.Equal(-MathF.Sqrt((x - before[4 * i + 2]) * (x - before[4 * i + 2]) + (y - before[4 * i + 3]) * (y - before[4 * i + 3])), batch.Reward[i], 1e-5f);
        }
        env.Reset(batch, parameters: new Dictionary<string, double> { ["gain"] = 2 });
        Assert.Throws<ArgumentOutOfRangeException>(() => env.Reset(batch, parameters: new Dictionary<string, double> { ["gain"] = 3 }));
    }

    [RequiresTheory(Requirement.PythonPeer)]
    [InlineData("nosuchmodule:make", "cannot import module 'nosuchmodule'")]
    [InlineData("examples.point_mass", "--env wants module:factory")]
    [InlineData("examples.point_mass:nothing", "has no 'nothing'")]
    public void A_bad_env_argument_ends_the_worker_with_a_clear_message(string target, string message)
    {
        var p = Worker("--env", target, "--bind", "tcp://127.0.0.1:*");
        var err = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, p.ExitCode);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }
}
