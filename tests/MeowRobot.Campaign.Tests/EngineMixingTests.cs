using MeowRobot.Campaign.Engines;
using MeowRobot.Testing;
using static MeowRobot.Campaign.Tests.CampaignProcesses;

namespace MeowRobot.Campaign.Tests;

/// <summary>
/// One campaign directory, two engines: whichever engine has runs in flight there, `campaign run` with the other is
/// refused (exit 78, as a second runner is) before it starts or submits anything, so no run is ever trained by two
/// engines at once. A live local runner holds campaign.lock; the processes a killed one left, and the tasks a Slurm
/// submission left queued or running, are found from the runs' own run.json.
/// </summary>
public sealed class EngineMixingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("meow-engines-").FullName;
    private string? _jobName;

    public void Dispose() => CleanUp(_dir, _jobName);

    /// <summary>Runs far longer than the test (it stops them): they are surely in flight whenever the other engine looks.</summary>
    private const string Spec = $$"""
        name: engine-mixing-test
        {{PendulumRandomised}}
        configurations:
          - name: long
            learner: { Hidden: 16, ShiftHidden: 16, LearningStarts: 1000000 }
        seeds: [1, 2]
        budget:
          env_steps: 1000000
        engine:
          parallel: 2
          cpus_per_run: 1
        """;

    private (string SpecPath, Campaign Campaign) NewCampaign()
    {
        var specPath = Path.Combine(_dir, "spec.yaml");
        File.WriteAllText(specPath, Spec);
        var campaignDir = Path.Combine(_dir, "c");
        using (Campaign.OpenForRun(specPath, campaignDir)) { }
        return (specPath, Campaign.Open(campaignDir));
    }

    private (int Code, string Output) RunToEnd(string name, params string[] args) => CampaignProcesses.RunToEnd(Path.Combine(_dir, name + ".log"), null, args);

    [RequiresFact(Requirement.LibZmq)]
    public void The_Slurm_engine_is_refused_on_a_directory_whose_runs_a_local_runner_or_the_processes_it_left_are_training()
    {
        var (specPath, opened) = NewCampaign();
        using var campaign = opened;
        var runs = campaign.Plan.Runs;
        string[] slurm = ["run", specPath, "--dir", campaign.Directory, "--engine", "slurm"];

        using (var local = Runner(specPath, campaign.Directory, Path.Combine(_dir, "local.log")))
        {
            Until(() => runs.Any(r => campaign.State(r) is { Status: RunStatus.Running, TrainerPid: { } pid } && ServiceExecutables.Alive(pid)), "a run training locally");
            // The runner is alive: it holds the directory.
            var (code, output) = RunToEnd("slurm-1", slurm);
            Assert.True(code == 78, output);
            Assert.Contains("is being run by another process", output, StringComparison.Ordinal);
            local.Kill();   // SIGKILL: its runs' processes go on training
            local.WaitForExit();
        }
        var orphaned = runs.Where(r => campaign.State(r) is { Status: RunStatus.Running, TrainerPid: { } pid } && ServiceExecutables.Alive(pid)).ToList();
        Assert.NotEmpty(orphaned);

        // The runner is gone, its processes are not: still refused, naming the runs, before anything is submitted.
        var refused = RunToEnd("slurm-2", slurm);
        Assert.True(refused.Code == 78, refused.Output);
        Assert.Contains($"runs {string.Join(", ", orphaned.Select(r => r.Id))} are still running as local processes", refused.Output, StringComparison.Ordinal);
        Assert.Contains("resume them with the local engine", refused.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("submitted job array", refused.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(campaign.Directory, SlurmEngine.Folder)));
        Assert.All(orphaned, r => Assert.Equal((RunStatus.Running, null, 1), (campaign.State(r).Status, campaign.State(r).SlurmJob, campaign.State(r).Attempts)));
        Assert.All(orphaned, r => Assert.True(ServiceExecutables.Alive(campaign.State(r).TrainerPid!.Value)));   // left alone
    }

    [RequiresFact(Requirement.LibZmq, Requirement.Slurm)]
    public void The_local_engine_is_refused_on_a_directory_whose_runs_are_queued_or_running_in_Slurm()
    {
        var (specPath, opened) = NewCampaign();
        using var campaign = opened;
        _jobName = SlurmCluster.JobName(campaign);
        var submit = RunToEnd("slurm", "run", specPath, "--dir", campaign.Directory, "--engine", "slurm", "--detach");
        Assert.True(submit.Code == 0, submit.Output);
        Assert.Contains("submitted job array ", submit.Output, StringComparison.Ordinal);

        var refused = RunToEnd("local", "run", specPath, "--dir", campaign.Directory, "--engine", "local");
        Assert.True(refused.Code == 78, refused.Output);
        Assert.Matches(@"runs [a-z0-9., -]+ are queued or running in Slurm \(job name meow-engine-mixing-test-[0-9a-f]{8}\): the local engine would train them a second time", refused.Output);
        Assert.Contains($"scancel --name={_jobName}", refused.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("started ", refused.Output, StringComparison.Ordinal);
        // Nothing was run locally: every run is still Slurm's (queued, or running in its task).
        Assert.All(campaign.Plan.Runs, r => Assert.True(campaign.State(r) is { Status: RunStatus.Queued } or { Status: RunStatus.Running, SlurmJob: not null }, $"{r.Id}: {campaign.State(r)}"));
    }
}
