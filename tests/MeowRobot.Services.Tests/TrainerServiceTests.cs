using System.Collections.Concurrent;
using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Control.WeightStream;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Tasks;
using MeowRobot.Testing;
using MeowRobot.Trainer.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MeowRobot.Services.Tests;

/// <summary>`trainer serve` in-process against a real sim worker: training, metrics, checkpoints, resume, the bundle stream.</summary>
public sealed class TrainerServiceTests
{
    private static Task<TrainerProgress> Finished(TrainerService trainer)
    {
        var done = new TaskCompletionSource<TrainerProgress>(TaskCreationOptions.RunContinuationsAsynchronously);
        trainer.Reported += p => { if (p.Done) done.TrySetResult(p); };
        if (trainer.Progress is { Done: true } already) done.TrySetResult(already);
        return done.Task.WaitAsync(TrainerRig.Wait);
    }

    [RequiresFact(Requirement.LibZmq)]
    public async Task A_run_trains_writes_metrics_and_a_checkpoint_publishes_newer_bundles_and_a_new_instance_resumes_it()
    {
        using var rig = new TrainerRig();
        var accepted = new BlockingCollection<ulong>();
        using var robot = new WeightStreamSubscriber(new WeightStreamSubscriberOptions
        {
            PublishEndpoints = [rig.PublishEndpoint],
            SnapshotEndpoints = [rig.SnapshotEndpoint],
            TrainerPublicKey = rig.TrainerKeys.PublicKey.ToArray(),
            RobotKeys = rig.RobotKeys,
            Identity = new PolicyIdentity("pendulum", 3, 1, "robot-1"),
        }, _ => { }, outcome => { if (outcome.Verdict == BundleVerdict.Accepted) accepted.Add(outcome.Version); });

        // First instance: 800 env steps from scratch.
        TrainerProgress first;
        using (var host = rig.Host(rig.Settings(800)))
        {
            var trainer = TrainerRig.Trainer(host);
            var finished = Finished(trainer);
            await host.StartAsync();
            Assert.Null(trainer.Progress!.ResumedFrom);
            first = await finished;
            // The robot hears bundles while the run goes on, each newer than the last.
            var versions = new List<ulong> { accepted.Take(new CancellationTokenSource(TrainerRig.Wait).Token) };
            while (versions[^1] < first.PublishedVersion && accepted.TryTake(out var v, TrainerRig.Wait)) versions.Add(v);
            Assert.Equal(first.PublishedVersion, versions[^1]);
            Assert.True(versions.Zip(versions.Skip(1)).All(p => p.Second > p.First), string.Join(",", versions));

            // A second trainer on the same run directory is refused while this one holds it.
            using var intruder = rig.Host(rig.Settings(800));
            var refused = await Assert.ThrowsAsync<TrainerSetupException>(() => intruder.StartAsync());
            Assert.Contains("is in use by another trainer process", refused.Message, StringComparison.Ordinal);
            await host.StopAsync();
        }
        Assert.Equal(800, first.EnvSteps);
        // A quarter update per transition, one per vector step (4 envs), from env step 200 on: (800 − 200) / 4 + 1.
        Assert.Equal(151, first.Updates);
        Assert.Equal(4UL, first.PublishedVersion);   // updates 50, 100, 150, and the final 151
        Assert.NotNull(first.LastEvalReturn);

        var rows = rig.MetricsRows();
        var train = rows.Where(r => r["event"] == "train").ToList();
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (i * 100).ToString(CultureInfo.InvariantCulture)), train.Select(r => r["env_steps"]));
        Assert.All(train.Where(r => long.Parse(r["env_steps"], CultureInfo.InvariantCulture) > 200), r => Assert.NotEqual("", r["loss"]));
        Assert.Equal(["400", "800"], rows.Where(r => r["event"] == "eval").Select(r => r["env_steps"]));
        Assert.All(rows.Where(r => r["event"] == "eval"), r => Assert.True(double.Parse(r["eval_return_mean"], CultureInfo.InvariantCulture) < 0));

        var saved = RunCheckpoint.Inspect(rig.CheckpointPath).Counters;
        Assert.Equal((800L, 151L, 4UL, "pendulum"), (saved.EnvSteps, saved.Updates, saved.PublishedVersion, saved.Task));
        var checkpointedPolicy = PolicyFile.Load(Path.Combine(rig.RunDir, TrainerService.PolicyFileName));

        // Second instance, same run directory, a larger budget: it resumes where the first stopped.
        using (var host = rig.Host(rig.Settings(1200)))
        {
            var trainer = TrainerRig.Trainer(host);
            var finished = Finished(trainer);
            // The first report is the resumed state, and the bundle out at that moment the resumed one; read both in the
            // handler, since by the time a continuation runs on a busy box the trainer may have trained the 400
            // remaining steps and published three more.
            var started = new TaskCompletionSource<(TrainerProgress Progress, PolicyBundle? Bundle)>(TaskCreationOptions.RunContinuationsAsynchronously);
            trainer.Reported += p => started.TrySetResult((p, trainer.LatestBundle));
            await host.StartAsync();
            var (start, resumedBundle) = await started.Task.WaitAsync(TrainerRig.Wait);
            Assert.Equal(saved, start.ResumedFrom);
            Assert.Equal((800L, 151L), (start.EnvSteps, start.Updates));
            // At once on resuming it publishes the checkpointed weights, under a newer version.
            Assert.NotNull(resumedBundle);
            Assert.Equal(5UL, resumedBundle.Version);
            var resumedPolicy = PolicyFile.Parse(resumedBundle.PolicyBytes);
            Assert.Equal(checkpointedPolicy.Tensors.Select(t => t.Name), resumedPolicy.Tensors.Select(t => t.Name));
            Assert.All(checkpointedPolicy.Tensors.Zip(resumedPolicy.Tensors), p => Assert.Equal(p.First.Values, p.Second.Values));

            var second = await finished;
            Assert.Equal((1200L, 251L), (second.EnvSteps, second.Updates));
            await host.StopAsync();
        }
        rows = rig.MetricsRows();
        var resume = Assert.Single(rows, r => r["event"] == "resume");
        Assert.Equal(("800", "151"), (resume["env_steps"], resume["updates"]));
        var after = rows.SkipWhile(r => r["event"] != "resume").Skip(1).Where(r => r["event"] == "train").Select(r => r["env_steps"]);
        Assert.Equal(["900", "1000", "1100", "1200"], after);
        Assert.Equal(1200, RunCheckpoint.Inspect(rig.CheckpointPath).Counters.EnvSteps);
    }

    [RequiresFact(Requirement.LibZmq)]
    public async Task A_run_trains_against_a_curve_sim_worker_that_admits_the_trainers_key_only()
    {
        using var rig = new TrainerRig(simCurve: true);
        using (var host = rig.Host(rig.Settings(400)))
        {
            var finished = Finished(TrainerRig.Trainer(host));
            await host.StartAsync();
            Assert.Equal(400, (await finished).EnvSteps);
            await host.StopAsync();
        }
        Assert.True(rig.SimWorker.Admitted >= 1);
        Assert.Equal(0, rig.SimWorker.Refused);
        // Without the worker's key the trainer is refused like anyone else, and gives up.
        using var plain = rig.Host(rig.Settings(400, ("Trainer:SimServerKeyFile", null!), ("Trainer:SimGiveUpAfter", "00:00:01")));
        var refused = await Assert.ThrowsAsync<SimWorkerLostException>(() => plain.StartAsync());
        Assert.Contains("never answered: no reply to hello", refused.Message, StringComparison.Ordinal);
    }

    [RequiresFact(Requirement.LibZmq)]
    public async Task A_run_directory_whose_checkpoint_does_not_fit_the_settings_refuses_to_start_and_keeps_the_checkpoint()
    {
        using var rig = new TrainerRig();
        using (var host = rig.Host(rig.Settings(400)))
        {
            var finished = Finished(TrainerRig.Trainer(host));
            await host.StartAsync();
            await finished;
            await host.StopAsync();
        }
        var before = File.ReadAllBytes(rig.CheckpointPath);

        using var changed = rig.Host(rig.Settings(800, ("Trainer:Learner:Hidden", "8")));
        var e = await Assert.ThrowsAsync<TrainerSetupException>(() => changed.StartAsync());

        Assert.StartsWith($"{rig.CheckpointPath} does not fit this configuration (", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("restore the run's Trainer:Learner settings or give a new run its own Trainer:RunDir", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(rig.CheckpointPath));
    }

    [Fact]
    public void A_corrupted_or_truncated_checkpoint_is_skipped_for_the_previous_one()
    {
        var dir = Directory.CreateTempSubdirectory("meow-ckpt-");
        try
        {
            var store = new RunCheckpoint(dir.FullName);
            RunCounters Counters(long steps) => new("pendulum", 3, 1, steps, steps / 2, 1, 1.5, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000 + steps));
            store.Save(Counters(100), s => s.Write(new byte[5000]));
            store.Save(Counters(200), s => s.Write(Enumerable.Range(0, 7000).Select(i => (byte)i).ToArray()));
            var skipped = new List<string>();
            Assert.Equal([200L, 100L], store.FindIntact((p, why) => skipped.Add(why)).Select(c => c.Counters.EnvSteps));
            Assert.Empty(skipped);

            // One flipped bit in the learner's state.
            var bytes = File.ReadAllBytes(store.Current);
            bytes[^100] ^= 0x10;
            File.WriteAllBytes(store.Current, bytes);
            var found = Assert.Single(store.FindIntact((p, why) => skipped.Add($"{Path.GetFileName(p)}: {why}")));
            Assert.Equal(100, found.Counters.EnvSteps);
            Assert.Equal(["checkpoint.bin: SHA-256 does not match its content (corrupted)"], skipped);

            // Cut short, as a crash in the middle of a non-atomic copy would leave it.
            File.WriteAllBytes(store.Current, bytes[..(bytes.Length / 2)]);
            skipped.Clear();
            Assert.Equal(100, Assert.Single(store.FindIntact((p, why) => skipped.Add(why))).Counters.EnvSteps);
            Assert.EndsWith("(partial write?)", Assert.Single(skipped), StringComparison.Ordinal);

            // What the learner part holds comes back byte for byte.
            using var state = RunCheckpoint.OpenLearnerState(found);
            var learner = new byte[found.LearnerLength];
            state.ReadExactly(learner);
            Assert.Equal(new byte[5000], learner);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Learner_settings_are_validated_by_key_and_unknown_ones_refused()
    {
        using var dir = new TempDir();
        var builder = MeowRobot.Hosting.ServiceHostBuilder.Create(MeowRobot.Trainer.TrainerServiceHost.Service with
        {
            BaseDirectory = dir.Path,
            DefaultSiteConfig = Path.Combine(dir.Path, "absent.json"),
        }, [], ["--Trainer:SimEndpoints:0=tcp://127.0.0.1:5601", "--Trainer:RunDir=" + dir.Path, "--Trainer:Learner:SigmaMin=1",
            "--Trainer:Learner:SigmaMax=-1", "--Trainer:Learner:BatchSize=0", "--Trainer:Learner:Alfa=0.1", "--Trainer:EvalEpisodes=0"], _ => null);
        MeowRobot.Trainer.TrainerServiceHost.Configure(builder);
        using var host = builder.Build();
        var e = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IStartupValidator>().Validate());
        var failures = e.Failures.ToList();
        Assert.Equal(4, failures.Count);
        // The refusal lists the known keys (in the settings' declaration order), so a typo can be matched by eye.
        Assert.Contains(failures, f => f.StartsWith("Trainer:Learner:Alfa: unknown key (known keys of Trainer:Learner: ", StringComparison.Ordinal)
            && f.Contains(" Alpha,", StringComparison.Ordinal) && f.Contains(" Gamma,", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Trainer:Learner:BatchSize: The field BatchSize must be between 1 and 65536.", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Trainer:Learner:SigmaMin: SigmaMin 1 must be below SigmaMax -1", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Trainer:EvalEpisodes: The field EvalEpisodes must be between 1 and 10000.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("tcp://*:5700", "tcp://*:5701")]
    [InlineData("tcp://10.0.0.5:5570", "tcp://10.0.0.5:5571")]
    [InlineData("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")]
    [InlineData("ipc:///run/meow/weights", "ipc:///run/meow/weights.snapshot")]
    [InlineData("tcp://10.0.0.5", null)]               // malformed: no pair, and no exception (validation reports it)
    [InlineData("tcp://10.0.0.5:weights", null)]
    [InlineData("tcp://10.0.0.5:65535", null)]
    [InlineData("ü\n\t{}", null)]
    public void The_snapshot_endpoint_defaults_to_the_next_port_or_a_sibling_socket(string publish, string? snapshot) =>
        Assert.Equal(snapshot, MeowRobot.Control.WeightStream.WeightStreamEndpoints.DefaultSnapshot(publish));

    [RequiresFact(Requirement.LibZmq)]
    public async Task An_eval_model_for_a_built_in_task_is_refused_at_start()
    {
        using var rig = new TrainerRig();
        var anyFile = Path.Combine(rig.Dir.FullName, "keys", "trainer.key");
        using var host = rig.Host(rig.Settings(400, ("Trainer:EvalModel", anyFile)));
        var e = await Assert.ThrowsAsync<TrainerSetupException>(() => host.StartAsync());
        Assert.Contains("Trainer:EvalModel: task 'pendulum' takes no model", e.Message, StringComparison.Ordinal);
    }

    [RequiresFact(Requirement.LibZmq, Requirement.LibMuJoCo, Requirement.MuJoCoModels)]
    public async Task A_MuJoCo_task_is_evaluated_in_process_on_its_eval_model_and_another_tasks_model_is_refused_at_start()
    {
        using var rig = new TrainerRig();
        using var sim = new SimService(TaskCatalog.CreateVectorEnv("hopper", 1, new TaskOptions(SharedMaterial.MuJoCoModel("hopper"))));
        using var worker = SimWorker.Start(sim, "ipc://" + Path.Combine(rig.Dir.FullName, "hopper.sock"));
        (string, string)[] hopper = [("Trainer:SimEndpoints:0", worker.Endpoint), ("Trainer:PublishEndpoint", null!), ("Trainer:SecretKeyFile", null!),
            ("Trainer:AllowedRobotKeysDir", null!), ("Trainer:Learner:UpdatesPerTransition", "1")];

        // Walker2d's model is not a hopper: refused at start, naming the key, not at the first evaluation.
        using (var wrong = rig.Host(rig.Settings(200, [.. hopper, ("Trainer:EvalModel", SharedMaterial.MuJoCoModel("walker2d"))])))
        {
            var e = await Assert.ThrowsAsync<TrainerSetupException>(() => wrong.StartAsync());
            Assert.StartsWith($"Trainer:EvalModel {SharedMaterial.MuJoCoModel("walker2d")}: hopper: the model has 6 actuators", e.Message, StringComparison.Ordinal);
        }

        using var host = rig.Host(rig.Settings(400, [.. hopper, ("Trainer:EvalModel", SharedMaterial.MuJoCoModel("hopper"))]));
        var finished = Finished(TrainerRig.Trainer(host));
        await host.StartAsync();
        await finished;
        await host.StopAsync();
        var evals = rig.MetricsRows().Where(r => r["event"] == "eval").ToArray();
        Assert.Equal(["400"], evals.Select(r => r["env_steps"]));
        Assert.True(double.Parse(evals[0]["eval_return_mean"], CultureInfo.InvariantCulture) > 0); // 1 per step alive
    }

    private sealed class TempDir : IDisposable
    {
        private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-trainer-config-");
        public string Path => _dir.FullName;
        public void Dispose() => _dir.Delete(recursive: true);
    }
}
