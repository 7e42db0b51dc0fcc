using System.Globalization;
using MeowRobot.Campaign.Engines;
using MeowRobot.Campaign.Spec;
using MeowRobot.Testing;
using static MeowRobot.Campaign.Tests.CampaignProcesses;

namespace MeowRobot.Campaign.Tests;

/// <summary>
/// The Slurm engine end to end against a real Slurm (the one-node cluster ./meow test starts: .ci/slurm): the Pendulum
/// campaign (mass and length randomised, 2 configurations × 2 seeds, small budget) goes as one job array, is visible in
/// `campaign status` from squeue while it runs, each run's sim worker is a job step of its task, a second `campaign run`
/// while the array lives submits nothing, a task cancelled with scancel (every step signalled at once) fails and is submitted again by the next `campaign run`, resuming from its checkpoint without
/// losing or repeating anything. Plus what happens when Slurm is not there.
/// </summary>
public sealed class SlurmEngineTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("meow-slurm-campaign-").FullName;
    private string? jobName;

    public void Dispose() => CleanUp(dir, jobName);

    private const string Spec = $"""
        # Pendulum with mass and length randomisation: 2 configurations × 2 seeds at a small budget, on Slurm.
        name: pendulum-dr-slurm-test
        {PendulumRandomised}
        {EngineTestRuns}
        engine:
          kind: slurm
          parallel: 2
          cpus_per_run: 1
        """;

    private string WriteSpec()
    {
        var path = Path.Combine(dir, "spec.yaml");
        File.WriteAllText(path, Spec);
        return path;
    }


    /// <summary>This campaign's tasks that squeue lists as pending (ARRAYJOB_TASK).</summary>
    private string[] PendingTasks() =>
        Command("squeue", "--noheader", "--array", $"--name={jobName}", "--states=PENDING", "--format=%i").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The distinct array jobs of this campaign that squeue lists.</summary>
    private string[] LiveArrays() =>
        Command("squeue", "--noheader", "--array", $"--name={jobName}", "--format=%F").Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct().ToArray();

    [RequiresFact(Requirement.LibZmq, Requirement.Slurm)]
    public void A_campaign_runs_as_a_job_array_and_a_cancelled_task_is_submitted_again_and_resumes_without_losing_or_repeating_anything()
    {
        var specPath = WriteSpec();
        var campaignDir = Path.Combine(dir, "c");
        using (Campaign.OpenForRun(specPath, campaignDir)) { }
        using var campaign = Campaign.Open(campaignDir);
        jobName = SlurmCluster.JobName(campaign);
        var runs = campaign.Plan.Runs;
        string Status() => RunToEnd(Path.Combine(dir, $"status-{Guid.NewGuid():N}.log"), null, "status", campaignDir).Output;

        // First runner: submits the array and follows it.
        using var first = Runner(Path.Combine(dir, "runner-1.log"), null, "run", specPath, "--dir", campaignDir);
        string? live = null;
        Until(() => (live = Status()).Contains("RUNNING on", StringComparison.Ordinal) && live.Contains("PENDING (", StringComparison.Ordinal),
            "campaign status to show running and pending tasks from squeue");
        Assert.Contains("slurm", live!.Split('\n')[0], StringComparison.Ordinal);
        var arrays = LiveArrays();
        Assert.Single(arrays);

        // The tasks still pending are held (an operator's `scontrol hold`): live in Slurm for as long as the test needs.
        var held = new List<string>();
        Until(() =>
        {
            foreach (var pending in PendingTasks().Where(t => !held.Contains(t)))
                if (Command("scontrol", "hold", pending).Trim().Length == 0) held.Add(pending); // silent on success
            return held.Count > 0;
        }, "a pending task to hold");

        // A second runner while the array lives submits nothing (held tasks are live tasks too).
        var second = RunToEnd(Path.Combine(dir, "runner-2.log"), null, "run", specPath, "--dir", campaignDir, "--detach");
        Assert.True(second.Code == 0, second.Output);
        Assert.Contains("still queued or running in Slurm", second.Output, StringComparison.Ordinal);
        Assert.Contains("nothing to submit", second.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("submitted job array", second.Output, StringComparison.Ordinal);
        Assert.Equal(arrays, LiveArrays()); // the same single array, nothing added

        // scancel of a task part-way through its budget (one released from the hold and watched from its start): its
        // trainer checkpoints, the run is failed.
        var watched = runs[int.Parse(held[0].Split('_')[1], CultureInfo.InvariantCulture)];
        Command("scontrol", "release", held[0]);
        Until(() => campaign.State(watched) is { Status: RunStatus.Running, SlurmJob: not null }
            && File.Exists(Path.Combine(watched.TrainerDirectory, "checkpoint.bin")) && RunProgress.Read(watched.TrainerDirectory).EnvSteps is > 0 and < 900,
            $"{watched.Id} part-way through its budget");
        var cancelled = watched;
        var task = campaign.State(cancelled).SlurmJob!;
        // Its sim worker is a job step of the task, beside the batch step its trainer runs in.
        var steps = Command("squeue", "--steps", "--noheader", $"--jobs={task}", "--format=%i|%j").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains($"{task}.0|{SlurmCluster.SimStepName}", steps);
        Command("scancel", task);
        Until(() => campaign.State(cancelled).Status == RunStatus.Failed, $"{cancelled.Id} to fail after scancel {task}");
        foreach (var t in held.Skip(1)) Command("scontrol", "release", t);
        Assert.Equal(RunAttempt.CancelledMessage, campaign.State(cancelled).Message);
        Assert.Contains("checkpoint (stop)", File.ReadAllText(Path.Combine(cancelled.Directory, "trainer.log")), StringComparison.Ordinal);

        // The first runner follows the array to its end: one run failed.
        Assert.True(first.WaitForExit(Wait), "the first runner did not finish following");
        Assert.Equal(1, first.ExitCode);
        Assert.All(runs.Where(r => r != cancelled), r => Assert.Equal((RunStatus.Done, 1), (campaign.State(r).Status, campaign.State(r).Attempts)));

        // A third runner submits the cancelled run alone; it resumes from its checkpoint.
        var third = RunToEnd(Path.Combine(dir, "runner-3.log"), null, "run", specPath, "--dir", campaignDir);
        Assert.True(third.Code == 0, third.Output);
        var submitted = third.Output.Split('\n').Single(l => l.StartsWith("submitted job array", StringComparison.Ordinal));
        Assert.Contains(cancelled.Id, submitted, StringComparison.Ordinal);
        Assert.Single(runs, r => submitted.Contains(r.Id, StringComparison.Ordinal));

        foreach (var run in runs)
        {
            var state = campaign.State(run);
            Assert.Equal(RunStatus.Done, state.Status);
            Assert.NotNull(state.SlurmJob);
            var resumes = AssertNothingLostOrRepeated(run, campaign.Spec, 100, 200);
            // The cancelled run resumed from its checkpoint; the others finished without being run again.
            Assert.Equal(run == cancelled ? (2, 1) : (1, 0), (state.Attempts, resumes));
        }
        var status = Status();
        Assert.Contains("4 runs: 4 done, 0 running, 0 failed, 0 pending; best eval return so far", status, StringComparison.Ordinal);
        Assert.Contains($"{cancelled.Id}", status, StringComparison.Ordinal);
        Assert.Matches(@$"{cancelled.Id} +done +2 .* \d+_\d+", status);
    }

    [RequiresFact(Requirement.LibZmq, Requirement.Slurm)]
    public void A_slurmctld_that_does_not_answer_at_submit_is_exit_69_and_nothing_is_marked_submitted()
    {
        // The same cluster's configuration with the controller's port moved to one nobody listens on.
        var conf = File.ReadAllLines(Environment.GetEnvironmentVariable("SLURM_CONF")!)
            .Select(l => l.StartsWith("SlurmctldPort=", StringComparison.Ordinal) ? $"SlurmctldPort={ClosedPort()}" : l);
        var deadConf = Path.Combine(dir, "slurm.conf");
        File.WriteAllLines(deadConf, conf);
        var specPath = WriteSpec();
        var campaignDir = Path.Combine(dir, "c");
        var (code, output) = RunToEnd(Path.Combine(dir, "run.log"), new Dictionary<string, string> { ["SLURM_CONF"] = deadConf }, "run", specPath, "--dir", campaignDir);
        Assert.True(code == 69, output);
        Assert.Contains("campaign run: Slurm does not answer, nothing was submitted: squeue failed", output, StringComparison.Ordinal);
        using var campaign = Campaign.Open(campaignDir);
        Assert.All(campaign.Plan.Runs, r => Assert.Equal(RunStatus.Pending, campaign.State(r).Status));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Without_Slurms_commands_run_is_a_configuration_error_and_status_shows_the_runs_own_states()
    {
        var specPath = WriteSpec();
        var campaignDir = Path.Combine(dir, "c");
        var noSlurm = new Dictionary<string, string> { ["PATH"] = Path.Combine(dir, "empty-path") };
        var (code, output) = RunToEnd(Path.Combine(dir, "run.log"), noSlurm, "run", specPath, "--dir", campaignDir);
        Assert.True(code == 78, output);
        Assert.Contains("squeue is not on PATH: the Slurm engine needs Slurm's client commands (Debian: apt-get install slurm-client)", output, StringComparison.Ordinal);

        // A Slurm campaign's directory read where squeue is missing: the runs' own states, and why no more.
        using (var campaign = Campaign.Open(campaignDir))
        {
            Directory.CreateDirectory(Path.Combine(campaignDir, SlurmEngine.Folder));
            var run = campaign.Plan.Runs[1];
            (campaign.State(run) with { Status = RunStatus.Done, Attempts = 1, SlurmJob = "41_1" }).Write(run.StateFile);
        }
        var status = RunToEnd(Path.Combine(dir, "status.log"), noSlurm, "status", campaignDir);
        Assert.True(status.Code == 0, status.Output);
        Assert.Matches(@"alpha-0.1-s2 +done +1 .* 41_1", status.Output);
        Assert.Contains("Slurm not reachable (squeue is not on PATH", status.Output, StringComparison.Ordinal);
        Assert.Contains("4 runs: 1 done, 0 running, 0 failed, 3 pending", status.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_engine_section_gives_the_Slurm_engine_its_partition_time_limit_and_cpus_and_its_errors_name_the_key_and_line()
    {
        const string head = "name: x\ntask: pendulum\nconfigurations: [{name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\n";
        var spec = CampaignSpec.Parse(head + "engine:\n  kind: slurm\n  partition: gpu-a\n  time_limit: 1-02:00\n  cpus_per_run: 4\n  mem_per_run: 8G\n  parallel: 3\n",
            "spec.yaml", dir);
        Assert.Equal(new EngineSpec("slurm", 3, "gpu-a", "1-02:00", 4, "8G", null, null), spec.Engine);
        Assert.Equal(3, spec.Parallel);
        var local = CampaignSpec.Parse(head, "spec.yaml", dir).Engine;
        Assert.Equal((EngineSpec.LocalKind, null, EngineSpec.DefaultCpusPerRun), (local.Kind, local.Parallel, local.CpusPerRun));

        foreach (var (engine, key, problem) in new[]
        {
            ("  kind: pbs\n", "engine.kind", "unknown engine 'pbs' (engines: local, slurm)"),
            ("  time_limit: 2h\n", "engine.time_limit", "not a Slurm time limit"),
            ("  partition: a b;rm\n", "engine.partition", "not a Slurm name"),
            ("  cpus_per_run: 0\n", "engine.cpus_per_run", "outside [1, 1024]"),
            ("  mem_per_run: lots\n", "engine.mem_per_run", "not a Slurm memory size"),
            ("  nodes: 2\n", "engine.nodes", "unknown key"),
        })
        {
            var e = Assert.Throws<CampaignSpecException>(() => CampaignSpec.Parse(head + "engine:\n" + engine, "spec.yaml", dir));
            Assert.Equal((7L, key), (e.Line, e.Key));
            Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        }
    }

    private static int ClosedPort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port; // released on return: nothing listens there
    }
}
