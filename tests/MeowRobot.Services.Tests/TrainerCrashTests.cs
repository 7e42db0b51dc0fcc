using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;
using MeowRobot.Testing;
using MeowRobot.Trainer.Service;

namespace MeowRobot.Services.Tests;

/// <summary>The built `trainer serve` executable killed and restarted: checkpoints survive kill -9 and SIGTERM writes one,
/// even when the sim worker is gone, or the eval workers during the final evaluation.</summary>
public sealed class TrainerCrashTests
{
    /// <summary>The process with its stdout lines collected (the log), stderr kept for failure messages.</summary>
    private sealed class Trainer : IDisposable
    {
        private readonly Process _process;
        public readonly BlockingCollection<string> Lines = [];
        public readonly ConcurrentQueue<string> Errors = new();
        private readonly ConcurrentQueue<string> _all = new();

        public Trainer(TrainerRig rig, Dictionary<string, string?> settings, Dictionary<string, string>? environment = null)
        {
            var site = Path.Combine(rig.Dir.FullName, "site.json");
            File.WriteAllText(site, "{}");
            _process = ServiceProcesses.Start("MeowRobot.Trainer",
                ["serve", "--config", site, .. settings.Select(kv => $"--{kv.Key}={kv.Value}")], environment ?? []);
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                _all.Enqueue(e.Data);
                Lines.Add(e.Data);
            };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Errors.Enqueue(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public Process Process => _process;

        /// <summary>The first log line containing <paramref name="text"/>, waiting for it.</summary>
        public string Line(string text)
        {
            using var timeout = new CancellationTokenSource(TrainerRig.Wait);
            try
            {
                foreach (var line in Lines.GetConsumingEnumerable(timeout.Token))
                    if (line.Contains(text, StringComparison.Ordinal)) return line;
            }
            catch (OperationCanceledException)
            {
            }
            Assert.Fail($"no log line with '{text}' (exited: {_process.HasExited}; stderr: {string.Join(" | ", Errors)}; last lines: {string.Join(" | ", _all.TakeLast(12))})");
            return "";
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    private static long Long(string s) => long.Parse(s, CultureInfo.InvariantCulture);

    [RequiresFact(Requirement.LibZmq)]
    public void After_kill_9_a_restart_resumes_from_the_last_checkpoint_ignoring_a_partial_one_and_SIGTERM_checkpoints_before_exit_0()
    {
        using var rig = new TrainerRig();
        var settings = rig.Settings(1_000_000, ("Trainer:CheckpointEveryEnvSteps", "300"));

        CheckpointCandidate newest;
        using (var first = new Trainer(rig, settings))
        {
            first.Line("checkpoint (scheduled) at env step 600");
            first.Process.Kill();   // SIGKILL: no chance to write anything more
            first.Process.WaitForExit();
            // Killed at any instant, even between the renames of a checkpoint, an intact one is there.
            newest = new RunCheckpoint(rig.RunDir).FindIntact((path, why) => Assert.Fail($"{path}: {why}"))[0];
        }
        var killedAt = newest.Counters;
        Assert.True(killedAt.EnvSteps >= 600 && killedAt.EnvSteps % 300 == 0, $"checkpoint at {killedAt.EnvSteps}");
        // A crash in the middle of writing the next checkpoint leaves a partial temp file behind.
        var partial = File.ReadAllBytes(newest.Path);
        File.WriteAllBytes(Path.Combine(rig.RunDir, RunCheckpoint.TempFileName), partial[..(partial.Length / 3)]);

        using var systemd = new NotifyListener();
        using (var second = new Trainer(rig, settings, new() { ["NOTIFY_SOCKET"] = systemd.Address }))
        {
            var resumed = second.Line("resumed from");
            Assert.Contains($"resumed from {newest.Path}: env step {killedAt.EnvSteps}, update {killedAt.Updates}, published version {killedAt.PublishedVersion}",
                resumed, StringComparison.Ordinal);
            // READY=1 only once connected and resumed: systemd's "active" means training.
            var status = $"STATUS=training pendulum: {killedAt.EnvSteps} env steps, {killedAt.Updates} updates,";
            var notes = systemd.ReceiveUntil(m => m.Any(x => x.StartsWith("READY=1", StringComparison.Ordinal)), TrainerRig.Wait);
            var connecting = notes.IndexOf("STATUS=connecting to 1 sim worker(s)");
            var resumedStatus = notes.FindIndex(x => x.StartsWith(status, StringComparison.Ordinal));
            var ready = notes.FindIndex(x => x.StartsWith("READY=1", StringComparison.Ordinal));
            Assert.True(connecting >= 0 && connecting < resumedStatus && resumedStatus < ready, string.Join(" | ", notes));
            // The metrics continue from the checkpoint: a resume row, then training rows past it.
            var next = killedAt.EnvSteps + 300;
            second.Line($"checkpoint (scheduled) at env step {next}");
            var rows = rig.MetricsRows();
            var resume = rows.Last(r => r["event"] == "resume");
            Assert.Equal((killedAt.EnvSteps, killedAt.Updates), (Long(resume["env_steps"]), Long(resume["updates"])));
            var continued = rows.SkipWhile(r => !ReferenceEquals(r, resume)).Skip(1).Where(r => r["event"] == "train").Select(r => Long(r["env_steps"])).ToList();
            Assert.Equal(killedAt.EnvSteps + 100, continued[0]);
            Assert.True(continued.Zip(continued.Skip(1)).All(p => p.Second == p.First + 100), string.Join(",", continued));
            Assert.True(Long(resume["published_version"]) >= (long)killedAt.PublishedVersion);

            ServiceProcesses.Terminate(second.Process);
            var stopped = second.Line("checkpoint (stop) at env step");
            Assert.True(second.Process.WaitForExit(TrainerRig.Wait), "trainer did not exit after SIGTERM");
            Assert.Equal(0, second.Process.ExitCode);
            var final = RunCheckpoint.Inspect(rig.CheckpointPath).Counters;
            Assert.Contains($"checkpoint (stop) at env step {final.EnvSteps}, update {final.Updates}:", stopped, StringComparison.Ordinal);
            Assert.True(final.EnvSteps >= next, $"final checkpoint at {final.EnvSteps}");
            Assert.False(File.Exists(Path.Combine(rig.RunDir, RunCheckpoint.TempFileName)), "the partial temp file was replaced and renamed");
        }
    }

    [RequiresFact(Requirement.LibZmq)]
    public void SIGTERM_while_the_sim_worker_is_gone_checkpoints_at_once_instead_of_waiting_for_it()
    {
        using var rig = new TrainerRig();
        // A worker of its own, so the test can take it away (as a cancelled Slurm job takes its sim step).
        var simDir = Directory.CreateDirectory(Path.Combine(rig.Dir.FullName, "gone")).FullName;
        using var service = new SimService(TaskCatalog.CreateVectorEnv("pendulum", 4, baseSeed: 3));
        var worker = SimWorker.Start(service, "ipc://" + Path.Combine(simDir, "sim.sock"));
        var settings = rig.Settings(1_000_000, ("Trainer:SimEndpoints:0", worker.Endpoint), ("Trainer:CheckpointEveryEnvSteps", "300"));

        using var trainer = new Trainer(rig, settings);
        trainer.Line("checkpoint (scheduled) at env step 300");
        worker.Dispose();
        // The trainer notices (no reply within its reply timeout) and keeps trying to reconnect, for minutes by default.
        trainer.Line("lost: no reply within");
        var clock = Stopwatch.StartNew();
        ServiceProcesses.Terminate(trainer.Process);
        var dropped = trainer.Line("stopping while waiting on a sim worker");
        var stopped = trainer.Line("checkpoint (stop) at env step");
        Assert.True(trainer.Process.WaitForExit(TrainerRig.Wait), "trainer did not exit after SIGTERM");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the stop took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(0, trainer.Process.ExitCode);
        var final = RunCheckpoint.Inspect(rig.CheckpointPath).Counters;
        Assert.Contains($"checkpoint (stop) at env step {final.EnvSteps}, update {final.Updates}:", stopped, StringComparison.Ordinal);
        Assert.Contains($"the run stands at env step {final.EnvSteps}", dropped, StringComparison.Ordinal);
        Assert.True(final.EnvSteps >= 300, $"final checkpoint at {final.EnvSteps}");
    }

    [RequiresFact(Requirement.LibZmq)]
    public void SIGTERM_during_the_final_evaluation_leaves_the_run_done_and_the_next_start_evaluates_it()
    {
        using var rig = new TrainerRig();
        var evalDir = Directory.CreateDirectory(Path.Combine(rig.Dir.FullName, "eval")).FullName;
        using var evalService = new SimService(TaskCatalog.CreateVectorEnv("pendulum", 1, baseSeed: 5));
        var evalEndpoint = "ipc://" + Path.Combine(evalDir, "sim.sock");
        var evalWorker = SimWorker.Start(evalService, evalEndpoint);
        // Only the final evaluation: the eval workers are not used before the budget is reached.
        var settings = rig.Settings(2000, ("Trainer:EvalSimEndpoints:0", evalEndpoint), ("Trainer:EvalEvery", "1000000"));

        using (var trainer = new Trainer(rig, settings))
        {
            trainer.Line("connected: task pendulum");
            evalWorker.Dispose();
            var lost = trainer.Line("lost: no reply within");
            Assert.Contains(evalEndpoint, lost, StringComparison.Ordinal);
            ServiceProcesses.Terminate(trainer.Process);
            trainer.Line("stopping during the final evaluation: the run is done at env step 2000");
            trainer.Line("checkpoint (done) at env step 2000");
            Assert.True(trainer.Process.WaitForExit(TrainerRig.Wait), "trainer did not exit after SIGTERM");
            Assert.Equal(0, trainer.Process.ExitCode);
        }
        Assert.Equal(2000, RunCheckpoint.Inspect(rig.CheckpointPath).Counters.EnvSteps);
        Assert.DoesNotContain(rig.MetricsRows(), r => r["event"] == "eval");

        // The eval worker back: the run is evaluated at its budget, once, and trains no further.
        using var back = SimWorker.Start(evalService, evalEndpoint);
        using (var second = new Trainer(rig, settings))
        {
            second.Line("resumed from");
            second.Line("done: 2000 env steps");
            second.Line("checkpoint (done) at env step 2000");
            ServiceProcesses.Terminate(second.Process);
            Assert.True(second.Process.WaitForExit(TrainerRig.Wait), "trainer did not exit after SIGTERM");
            Assert.Equal(0, second.Process.ExitCode);
        }
        var evals = rig.MetricsRows().Where(r => r["event"] == "eval").ToList();
        Assert.Equal("2000", Assert.Single(evals)["env_steps"]);
    }
}
