using System.Diagnostics;
using MeowRobot.Bridge.Randomness;
using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;
using MeowRobot.Tasks.MuJoCo;
using MeowRobot.Testing;

namespace MeowRobot.Sim.Tests;

/// <summary>Per-episode domain randomisation (docs/tasks.md, "Domain randomisation"): in-process, and through real
/// `sim serve` workers over ZeroMQ.</summary>
public sealed class DomainRandomisationTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("meow-dr-").FullName;
    private readonly List<Process> children = [];

    private static readonly ParameterDistribution[] MassAndLength =
    [
        ParameterDistribution.Parse("length=log_uniform(0.5, 2)"),
        ParameterDistribution.Parse("mass=uniform(0.5, 2)"),
    ];

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

    [Fact]
    public void Each_episode_draws_its_parameters_from_its_own_seed_and_the_physics_uses_them()
    {
        using var env = TaskCatalog.CreateVectorEnv("pendulum", 3, randomisation: MassAndLength);
        using var plain = TaskCatalog.CreateVectorEnv("pendulum", 3);
        var batch = new VectorBatch(3, 3);
        var plainBatch = new VectorBatch(3, 3);
        env.Reset(batch, [11, 12, 11]);
        plain.Reset(plainBatch, [11, 12, 11]);
        Assert.Equal(["length", "mass"], batch.EpisodeParamNames);
        Assert.Equal(batch.EpisodeParamsRow(0).ToArray(), batch.EpisodeParamsRow(2).ToArray()); // same seed, same draw
        Assert.NotEqual(batch.EpisodeParamsRow(0).ToArray(), batch.EpisodeParamsRow(1).ToArray());
        // The draw comes from the episode seed's stream 2 (the state uses stream 0, so initial states are unchanged).
        var rng = new Rng(11, LocalVectorEnv.DrawStream);
        Assert.Equal(Math.Exp(rng.Uniform(Math.Log(0.5), Math.Log(2))), batch.EpisodeParamsRow(0)[0]);
        Assert.Equal(rng.Uniform(0.5, 2.0), batch.EpisodeParamsRow(0)[1]);
        Assert.Equal(plainBatch.Obs, batch.Obs);

        // The physics runs with the drawn values: a plain pendulum given them by hand steps identically.
        using var reference = new Pendulum();
        reference.SetParameter("length", batch.EpisodeParamsRow(1)[0]);
        reference.SetParameter("mass", batch.EpisodeParamsRow(1)[1]);
        var obs = new float[3];
        reference.Reset(12, obs);
        env.Step([1.5f, 1.5f, 1.5f], batch);
        reference.Step([1.5f], obs);
        Assert.Equal(obs, batch.ObsRow(1).ToArray());
        plain.Step([1.5f, 1.5f, 1.5f], plainBatch);
        Assert.NotEqual(plainBatch.ObsRow(1).ToArray(), batch.ObsRow(1).ToArray());
    }

    [Fact]
    public void An_automatic_reset_draws_again_and_the_ended_episode_reports_what_it_was_played_with()
    {
        using var env = TaskCatalog.CreateVectorEnv("pendulum", 2, randomisation: MassAndLength);
        var batch = new VectorBatch(2, 3);
        env.Reset(batch, [1, 2]);
        var first = batch.EpisodeParams.ToArray();
        for (var t = 1; t < 200; t++)
        {
            env.Step([0f, 0f], batch);
            Assert.Equal(first, batch.EpisodeParams); // constant within an episode
        }
        env.Step([0f, 0f], batch); // step 200: both truncate and start new episodes
        Assert.Equal([1, 1], batch.Truncated);
        Assert.Equal(first, batch.FinalEpisodeParams);
        Assert.NotEqual(first, batch.EpisodeParams);
        Assert.All(batch.EpisodeParams, v => Assert.InRange(v, 0.5, 2.0));
        Assert.Equal(batch.EpisodeParamsRow(1)[1], env.EpisodeParamsOf(1)[1]);
    }

    [Fact]
    public void Draws_stay_in_bounds_integers_are_whole_and_a_truncated_normal_centres_on_its_mean()
    {
        var rng = new Rng(5);
        var delay = ParameterDistribution.Parse("action_delay=uniform(0, 3)");
        var normal = ParameterDistribution.Parse("gravity=normal(10, 1, 9, 12)");
        var log = ParameterDistribution.Parse("mass=log_uniform(0.5, 2)");
        var delays = Enumerable.Range(0, 2000).Select(_ => delay.Sample(rng, integer: true)).ToArray();
        Assert.Equal([0.0, 1, 2, 3], delays.Distinct().Order());
        var g = Enumerable.Range(0, 4000).Select(_ => normal.Sample(rng)).ToArray();
        Assert.All(g, x => Assert.InRange(x, 9.0, 12.0));
        Assert.InRange(g.Count(x => x < 10) / 4000.0, 0.38, 0.48); // N(10, 1) cut at 9: P(x < 10 | x ≥ 9) ≈ 0.43
        var m = Enumerable.Range(0, 4000).Select(_ => log.Sample(rng)).ToArray();
        Assert.InRange(m.Count(x => x < 1) / 4000.0, 0.46, 0.54); // log-uniform on [½, 2]: half the mass below 1
    }

    [Fact]
    public void Unknown_or_out_of_range_randomisation_is_a_typed_error_and_changes_nothing()
    {
        using var env = TaskCatalog.CreateVectorEnv("pendulum", 1, randomisation: MassAndLength);
        var e = Assert.Throws<ArgumentException>(() => env.SetRandomisation([ParameterDistribution.Parse("masss=uniform(1, 2)")]));
        Assert.Contains("no parameter 'masss'", e.Message);
        e = Assert.Throws<ArgumentException>(() => env.SetRandomisation([ParameterDistribution.Parse("mass=uniform(0.1, 2)")]));
        Assert.Contains("low bound", e.Message);
        Assert.Throws<ArgumentException>(() => env.SetRandomisation([MassAndLength[1], MassAndLength[1]]));
        Assert.Equal(MassAndLength, env.Randomisation);
        foreach (var bad in new[] { "mass=uniform(2)", "mass=gaussian(1, 2)", "mass=uniform(2, 1)", "mass=log_uniform(0, 1)",
                     "mass=normal(1, 0, 0.5, 2)", "mass=uniform(1, x)", "uniform(1, 2)", "=uniform(1, 2)" })
            Assert.Throws<FormatException>(() => ParameterDistribution.Parse(bad));
        Assert.Throws<ArgumentException>(() => TaskCatalog.CreateVectorEnv("pendulum", 1, randomisation: [ParameterDistribution.Parse("cart_mass=uniform(1, 2)")]));
    }

    [Fact]
    public void The_text_form_reads_back_exactly()
    {
        var list = ParameterDistribution.ParseList("mass=uniform(0.5, 2); length=log_uniform(0.7, 1.3); gravity=normal(10, 0.3, 9.1, 11)");
        Assert.Equal(3, list.Count);
        Assert.Equal(list, ParameterDistribution.ParseList(ParameterDistribution.FormatList(list)));
        Assert.Equal("gravity=normal(10, 0.3, 9.1, 11)", list[2].ToString());
    }

    [Fact]
    public void The_action_rate_limit_moves_the_command_at_most_its_share_of_the_range_per_step()
    {
        // Pendulum torque range is 4 (±2): a limit of 0.1 lets the command move 0.4 per step from 0.
        using var limited = new Pendulum();
        using var reference = new Pendulum();
        limited.SetParameter(SimTask.ActionRateLimitName, 0.1);
        float[] a = new float[3], b = new float[3];
        limited.Reset(4, a);
        reference.Reset(4, b);
        foreach (var command in new[] { 0.4f, 0.8f, 1.2f })
        {
            limited.Step([2f], a);
            reference.Step([command], b);
            Assert.Equal(b, a);
        }
        limited.Step([1.0f], a); // 1.2 → 1.0 is within the limit: followed at once
        reference.Step([1.0f], b);
        Assert.Equal(b, a);
    }

    [RequiresFact(Requirement.MuJoCoModels, Requirement.LibMuJoCo)]
    public void MuJoCo_tasks_randomise_named_bodies_geoms_joints_and_actuators()
    {
        using var hopper = MuJoCoTaskTests.Make("hopper");
        var names = hopper.Parameters.Select(p => p.Name).ToArray();
        Assert.Contains("body_mass.torso", names);
        Assert.Contains("geom_friction.foot_geom", names);
        Assert.Contains("joint_damping.thigh_joint", names);
        Assert.Contains("actuator_gear.thigh_joint", names); // unnamed actuator: named after the joint it drives
        var torso = hopper.Parameters.Single(p => p.Name == "body_mass.torso");
        Assert.Equal(torso.Default, hopper.Sim.BodyMass[hopper.Sim.BodyId("torso")]);
        Assert.Equal(2.0, hopper.Parameters.Single(p => p.Name == "geom_friction.foot_geom").Default);
        Assert.Equal(200.0, hopper.Parameters.Single(p => p.Name == "actuator_gear.thigh_joint").Default);
        Assert.NotNull(hopper.Parameters.Single(p => p.Name == "body_mass.torso").Validate(0.1 * torso.Default));

        float[] Run(params (string Name, double Value)[] set)
        {
            using var task = MuJoCoTaskTests.Make("hopper");
            foreach (var (name, value) in set) task.SetParameter(name, value);
            var obs = new float[11];
            task.Reset(3, obs);
            for (var t = 0; t < 20; t++) task.Step([0.5f, -0.5f, 0.3f], obs);
            return obs;
        }
        var nominal = Run();
        Assert.Equal(nominal, Run(("body_mass.torso", torso.Default), ("actuator_gear.thigh_joint", 200)));
        Assert.NotEqual(nominal, Run(("body_mass.torso", 2 * torso.Default)));
        Assert.NotEqual(nominal, Run(("actuator_gear.thigh_joint", 100)));
        Assert.NotEqual(nominal, Run(("joint_damping.thigh_joint", 5)));
        using var scaled = MuJoCoTaskTests.Make("hopper");
        scaled.SetParameter("body_mass.torso", 2 * torso.Default);
        scaled.SetParameter(MuJoCoTask.BodyMassScaleName, 1.5);
        scaled.Reset(1, new float[11]);
        Assert.Equal(3 * torso.Default, scaled.Sim.BodyMass[scaled.Sim.BodyId("torso")], 12);
    }

    private string Serve(params string[] args)
    {
        var endpoint = $"ipc://{dir}/sim-{children.Count}.sock";
        var exe = Path.Combine(AppContext.BaseDirectory, "MeowRobot.Sim.dll");
        var p = Process.Start(new ProcessStartInfo("dotnet", [exe, "serve", "--Sim:Task=pendulum", "--Sim:Envs=2", $"--Sim:Bind={endpoint}", .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        // Wait for the worker's "serving" log line: on a loaded machine a child can take longer to bind than a reply
        // timeout, and a test that races its start measures the machine, not the protocol.
        var serving = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        DataReceivedEventHandler read = (_, e) =>
        {
            if (e.Data is not { } line) return;
            output.Enqueue(line);
            if (line.Contains("serving pendulum", StringComparison.Ordinal)) serving.TrySetResult();
        };
        p.OutputDataReceived += read;
        p.ErrorDataReceived += read;
        p.Exited += (_, _) => serving.TrySetException(new InvalidOperationException("sim serve exited: " + string.Join(" | ", output)));
        p.EnableRaisingEvents = true;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        children.Add(p);
        Assert.True(serving.Task.Wait(TimeSpan.FromMinutes(2)), "sim serve did not start serving within 2 minutes: " + string.Join(" | ", output));
        return endpoint;
    }

    private static VectorEnvClient Connect(params string[] endpoints) => new(endpoints, new VectorEnvClientOptions
    {
        ReplyTimeout = TimeSpan.FromSeconds(10),
        HeartbeatInterval = TimeSpan.FromHours(1),
        GiveUpAfter = TimeSpan.FromSeconds(60),
    });

    [RequiresFact(Requirement.LibZmq)]
    public void Real_workers_draw_what_the_trainer_asks_exactly_as_in_process_and_report_it_per_episode()
    {
        // Worker A is configured with its own randomisation (--randomise); worker B has none until the client sends one.
        var a = Serve("--randomise", "mass=uniform(0.5, 2)", "--randomise", "length=log_uniform(0.5, 2)");
        var b = Serve();
        using (var own = Connect(a))
        {
            Assert.Equal(MassAndLength, own.Randomisation); // reported in hello, adopted by the client
        }
        using var env = Connect(a, b);
        var losses = new List<string>();
        env.WorkerLost += (_, e) => losses.Add(e.ToString());
        env.SetRandomisation(MassAndLength);
        using var local = TaskCatalog.CreateVectorEnv("pendulum", 4, randomisation: MassAndLength);
        var batch = new VectorBatch(4, 3);
        var localBatch = new VectorBatch(4, 3);
        int[] seeds = [21, 22, 23, 24];
        env.Reset(batch, seeds);
        local.Reset(localBatch, seeds);
        Assert.Equal(localBatch.EpisodeParams, batch.EpisodeParams);
        Assert.Equal(localBatch.Obs, batch.Obs);
        var first = batch.EpisodeParams.ToArray();
        for (var t = 0; t < 200; t++)
        {
            env.Step([1f, -1f, 0.5f, 0f], batch);
            local.Step([1f, -1f, 0.5f, 0f], localBatch);
        }
        Assert.True(losses.Count == 0, string.Join("; ", losses));
        Assert.Equal(localBatch.Obs, batch.Obs); // the workers' physics ran with the draws
        Assert.Equal(first, batch.FinalEpisodeParams);
        Assert.Equal(localBatch.EpisodeParams, batch.EpisodeParams); // the automatic resets drew the same next episodes

        var e = Assert.Throws<ArgumentException>(() => env.SetRandomisation([ParameterDistribution.Parse("masss=uniform(1, 2)")]));
        Assert.Contains("masss", e.Message);
        env.SetRandomisation([]); // back to fixed parameters
        env.Reset(batch, seeds);
        Assert.Empty(batch.EpisodeParamNames);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_bad_randomisation_fails_the_workers_check_naming_its_key()
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "MeowRobot.Sim.dll");
        foreach (var (bad, expect) in new[] { ("masss=uniform(1, 2)", "masss"), ("mass=uniform(0.1, 2)", "low bound"), ("mass=gauss(1, 2)", "unknown distribution") })
        {
            using var p = Process.Start(new ProcessStartInfo("dotnet", [exe, "serve", "--check", "--Sim:Task=pendulum", $"--Sim:Bind=ipc://{dir}/bad.sock", "--randomise", bad])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = p.StandardOutput.ReadToEndAsync();
            var error = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(78, p.ExitCode); // found by --check, before any socket
            Assert.Contains(expect, error + output.Result);
            Assert.Contains("Sim:Randomise:", error + output.Result);
        }
    }
}
