using System.Diagnostics;
using MeowRobot.Campaign.Engines;
using MeowRobot.Campaign.Gates;
using MeowRobot.Testing;
using Xunit.Abstractions;
using static MeowRobot.Campaign.Tests.CampaignProcesses;

namespace MeowRobot.Campaign.Tests;

/// <summary>
/// Issue 17's test campaign end to end, once per engine, with the candidates the campaign itself trains: Pendulum with
/// mass and length randomised, 2 configurations × 2 seeds at a small budget — MEow with a setting that learns enough
/// in 4 000 env steps, and a configuration whose learning starts after its budget (its final policy is the random
/// initial one) —, every candidate gated (held-out <c>policy eval</c> and a rehearsal through the robot's controller
/// configuration); the trained ones pass, the untrained ones are rejected on <c>mean_return</c>. Then the best
/// candidate is promoted to two rehearsal robots (real controllers driving real sim workers, r1 the canary) and
/// widens; the rejected one, forced, is rolled back from the canary's telemetry (its episodes' returns, the sim robot
/// reports them) and the other robot never receives it. The local engine's runner is also killed with SIGKILL
/// mid-way and restarted, losing and repeating nothing.
/// </summary>
public sealed class CampaignEndToEndTests : IDisposable
{
    private const string Good = "meow", Bad = "never-learns";
    private const long Budget = 4000, MetricsEvery = 200, EpisodeLength = 200;
    private const double RollbackBelow = -1000;

    private readonly string _dir = Directory.CreateTempSubdirectory("meow-e2e-").FullName;
    private readonly RehearsalRobots _robots;
    private readonly ITestOutputHelper _output;
    private string? _slurmJobName;

    public CampaignEndToEndTests(ITestOutputHelper output)
    {
        _output = output;
        _robots = new RehearsalRobots(_dir);
        // The robot's controller configuration, for the rehearsal gate and for the robots promoted to: a 200 Hz loop,
        // the plant at 100 Hz (2 s per 200-step episode), the unshaped rate MEow trains with, and a staleness threshold
        // a shared CI box does not trip.
        File.WriteAllText(RobotConfig, """
            { "Controller": { "Loop": { "RateHz": 200 }, "SimRobot": { "StepRateHz": 100 },
                              "Envelope": { "MaxRatePerSecond": [ 2000 ], "ObservationTimeoutSeconds": 0.5 },
                              "Modes": { "ArmOnStart": true } } }
            """);
    }

    private string RobotConfig => Path.Combine(_dir, "robot.json");

    public void Dispose()
    {
        _robots.Dispose();
        CleanUp(_dir, _slurmJobName);
    }

    /// <summary>The campaign, for <paramref name="engine"/> (its <c>engine:</c> lines). Held-out evaluation a little wider
    /// than training; the mean return gate sits between what 4 000 steps of MEow reach (about −500 to −950 held out) and
    /// what the random initial policy scores (about −1 500).</summary>
    private string Spec(string engine) => $$"""
        # Pendulum with mass and length randomisation: 2 configurations × 2 seeds at a small budget, gated and promoted.
        name: pendulum-e2e
        {{PendulumRandomised}}
        configurations:
          - name: {{Good}}
            learner: { Alpha: 0.1, Hidden: 32, ShiftHidden: 32, LearningStarts: 500 }
          - name: {{Bad}}
            learner: { Alpha: 0.1, Hidden: 32, ShiftHidden: 32, LearningStarts: 100000 }
        seeds: [1, 2]
        budget:
          env_steps: {{Budget}}
          eval_every: 2000
          eval_episodes: 2
          checkpoint_every: 400
          metrics_every: {{MetricsEvery}}
        engine:
        {{engine}}
        evaluation:
          randomise:
            mass: uniform(0.6, 1.4)
            length: uniform(0.75, 1.25)
          episodes: 10
          seed: 1000
          rehearsal:
            controller: robot.json
            episodes: 1
        gates:
          mean_return: ">= -1200"
          # A loaded CI box stalls the loop now and then (a safe stop, re-engaged after 0.25 s) and leaves ticks stale:
          # not what this test is about. The returns decide.
          safe_stops_per_episode: "<= 3"
          envelope_interventions_per_episode: "<= 100000"

        """ + _robots.PromotionSection(8, 10, $"""
            safe_stops: 3                   # stalls of a loaded CI box, as in the gates
            envelope_interventions: 100000
            min_mean_return: {RollbackBelow}
        """);

    /// <summary>Writes the spec for <paramref name="engine"/> and creates the campaign directory as the runner would (the
    /// spec kept in it), so the test can watch it from the start.</summary>
    private (string SpecPath, Campaign Campaign) NewCampaign(string engine)
    {
        var path = Path.Combine(_dir, "spec.yaml");
        File.WriteAllText(path, Spec(engine));
        var campaignDir = Path.Combine(_dir, "c");
        using (Campaign.OpenForRun(path, campaignDir)) { }
        return (path, Campaign.Open(campaignDir));
    }

    private static string LogOf(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    [RequiresFact(Requirement.LibZmq)]
    public void On_the_local_engine_a_campaign_killed_mid_way_resumes_gates_its_candidates_and_promotes_the_best_while_the_rejected_one_is_rolled_back_from_the_canary()
    {
        var clock = Stopwatch.StartNew();
        var (specPath, opened) = NewCampaign("  parallel: 2");
        using var campaign = opened;
        var campaignDir = campaign.Directory;
        var runs = campaign.Plan.Runs;

        // First runner: killed with SIGKILL once a candidate has its verdict, the trained runs are done (what a resume
        // changes in a run that learns is not what this test is about) and an untrained run (whose final policy a resume
        // cannot change) has checkpointed part of its budget.
        PlannedRun? killedMidway = null;
        using (var first = Runner(specPath, campaignDir, Path.Combine(_dir, "runner-1.log")))
        {
            Until(() =>
            {
                killedMidway = runs.FirstOrDefault(r => r.Configuration.Name == Bad && campaign.State(r).Status == RunStatus.Running
                    && File.Exists(Path.Combine(r.TrainerDirectory, "checkpoint.bin")) && RunProgress.Read(r.TrainerDirectory).EnvSteps < Budget - 1000);
                return killedMidway is not null && runs.Any(r => File.Exists(CandidateGate.VerdictFile(r)))
                    && runs.Where(r => r.Configuration.Name == Good).All(r => campaign.State(r).Status == RunStatus.Done);
            }, "a gated candidate and an untrained run part-way");
            first.Kill();
            first.WaitForExit();
        }
        var gatedBefore = runs.Where(r => File.Exists(CandidateGate.VerdictFile(r))).Select(r => r.Id).ToHashSet();
        var runningBefore = runs.Where(r => campaign.State(r).Status == RunStatus.Running).ToHashSet();
        var orphan = campaign.State(killedMidway!).TrainerPid!.Value;
        Assert.True(ServiceExecutables.Alive(orphan)); // its trainer outlived the runner

        var log2 = Path.Combine(_dir, "runner-2.log");
        using (var second = Runner(specPath, campaignDir, log2))
        {
            Assert.True(second.WaitForExit(Wait), "the second runner did not finish");
            Assert.True(second.ExitCode == 0, LogOf(log2));
        }
        Assert.Contains($"resuming {killedMidway!.Id} from its checkpoint", LogOf(log2), StringComparison.Ordinal);
        Assert.False(ServiceExecutables.Alive(orphan)); // stopped (and checkpointed) before its run was restarted
        foreach (var id in gatedBefore) Assert.DoesNotContain($"gating {id}", LogOf(log2), StringComparison.Ordinal); // verdicts are final

        foreach (var run in runs)
        {
            var state = campaign.State(run);
            Assert.Equal(RunStatus.Done, state.Status);
            var resumes = AssertNothingLostOrRepeated(run, campaign.Spec, MetricsEvery, EpisodeLength);
            Assert.Equal(runningBefore.Contains(run) ? (2, 1) : (1, 0), (state.Attempts, resumes)); // resumed once, or never run again
        }
        AssertVerdicts(campaign);
        _output.WriteLine($"campaign (two runners) {clock.Elapsed.TotalSeconds:F0} s");
        PromoteTheBestAndRollBackTheRejected(campaign);
        _output.WriteLine($"whole test {clock.Elapsed.TotalSeconds:F0} s");
    }

    [RequiresFact(Requirement.LibZmq, Requirement.Slurm)]
    public void On_the_Slurm_engine_the_array_tasks_gate_their_candidates_and_the_best_is_promoted_while_the_rejected_one_is_rolled_back_from_the_canary()
    {
        var clock = Stopwatch.StartNew();
        var (specPath, opened) = NewCampaign("  kind: slurm\n  parallel: 2\n  cpus_per_run: 1");
        using var campaign = opened;
        var campaignDir = campaign.Directory;
        _slurmJobName = SlurmCluster.JobName(campaign);

        var log = Path.Combine(_dir, "runner.log");
        using (var runner = Runner(specPath, campaignDir, log))
        {
            Assert.True(runner.WaitForExit(Wait), "the runner did not follow the array to its end");
            Assert.True(runner.ExitCode == 0, LogOf(log));
        }
        Assert.Contains("submitted job array", LogOf(log), StringComparison.Ordinal);
        // Each candidate was gated inside its run's array task (the task's output says so).
        var taskOutputs = string.Concat(Directory.GetFiles(Path.Combine(campaignDir, SlurmEngine.Folder), "*.out").Select(File.ReadAllText));
        foreach (var run in campaign.Plan.Runs)
        {
            var state = campaign.State(run);
            Assert.Equal((RunStatus.Done, 1), (state.Status, state.Attempts));
            Assert.NotNull(state.SlurmJob);
            Assert.Equal(0, AssertNothingLostOrRepeated(run, campaign.Spec, MetricsEvery, EpisodeLength));
            Assert.Contains($"gating {run.Id}", taskOutputs, StringComparison.Ordinal);
        }
        AssertVerdicts(campaign);
        _output.WriteLine($"campaign on Slurm {clock.Elapsed.TotalSeconds:F0} s");
        PromoteTheBestAndRollBackTheRejected(campaign);
        _output.WriteLine($"whole test {clock.Elapsed.TotalSeconds:F0} s");
    }

    /// <summary>From the verdict files: the trained candidates passed every check; the untrained ones were rejected on
    /// mean_return (the check named, its value far below the threshold), with their evidence.</summary>
    private void AssertVerdicts(Campaign campaign)
    {
        foreach (var run in campaign.Plan.Runs)
        {
            var verdict = CandidateGate.Verdict(run);
            Assert.NotNull(verdict);
            _output.WriteLine($"{run.Id}: {(verdict.Passed ? "passed" : "rejected: " + verdict.Why())}; held out {verdict.Eval?.MeanReturn:F1}, rehearsal {verdict.Rehearsal?.MeanReturn:F1}");
            Assert.Null(verdict.Error);
            Assert.Equal((run.Id, run.Configuration.Name), (verdict.Candidate, verdict.Configuration));
            Assert.Equal((10, 10), (verdict.Eval!.Episodes, verdict.Eval.Returns.Count));
            Assert.Equal(1, verdict.Rehearsal!.Episodes);
            Assert.Equal(["mean_return", "safe_stops_per_episode", "envelope_interventions_per_episode"], verdict.Checks.Select(c => c.Name));
            if (run.Configuration.Name == Good)
            {
                Assert.True(verdict.Passed, verdict.Why());
                Assert.All(verdict.Checks, c => Assert.True(c.Passed, c.Name));
            }
            else
            {
                Assert.False(verdict.Passed);
                Assert.Equal("mean_return", verdict.Checks.First(c => !c.Passed).Name);
                Assert.StartsWith("mean_return ", verdict.Why(), StringComparison.Ordinal);
                Assert.True(verdict.Eval.MeanReturn < -1300, $"a random initial policy scored {verdict.Eval.MeanReturn}");
            }
        }
        var status = campaign.StatusTable();
        Assert.Contains("gates: 4 gated, 2 passed, 2 failed", status, StringComparison.Ordinal);
        Assert.Matches($@"{Bad}-s1 +done .* failed: mean_return", status);
    }

    /// <summary>The best passed candidate (highest held-out mean) to both robots, canary first: it widens. The first
    /// rejected candidate: refused for its gate, then forced: the canary's returns over the watch are below the rollback
    /// rule's, so r1 goes back to the best candidate under a new version and r2 never receives it.</summary>
    private void PromoteTheBestAndRollBackTheRejected(Campaign campaign)
    {
        var verdicts = campaign.Plan.Runs.Select(CandidateGate.Verdict).Select(v => v!).ToList();
        var best = verdicts.Where(v => v.Passed).MaxBy(v => v.Eval!.MeanReturn)!.Candidate;
        var rejected = $"{Bad}-s1";
        var dir = campaign.Directory;
        _robots.Start("pendulum", dir, RobotConfig);
        using var r1 = _robots.Telemetry("r1");
        using var r2 = _robots.Telemetry("r2");
        RehearsalRobots.WaitFor(() => r1.Latest is not null && r2.Latest is not null, "both robots' telemetry");
        Assert.Equal(0, r1.Latest!.Value.PolicyVersion);   // nothing promoted yet: nothing to run

        var (code, output) = RehearsalRobots.Campaign("promote", dir, "--candidate", best);
        _output.WriteLine(output);
        Assert.True(code == 0, output + _robots.Log("stream"));
        Assert.Contains("canaries passed; widened to r2 v1", output, StringComparison.Ordinal);
        RehearsalRobots.WaitFor(() => r1.Latest?.PolicyVersion == 1 && r2.Latest?.PolicyVersion == 1, $"both robots to run {best} as v1");
        var history = RehearsalRobots.History(dir);
        Assert.Equal(["canary", "widen"], history.Select(e => e.Action));
        var watched = history[^1].Telemetry!["r1"];
        Assert.NotEmpty(watched.Returns);   // the canary's episodes were judged
        Assert.True(watched.Returns.Average() >= RollbackBelow);

        (code, output) = RehearsalRobots.Campaign("promote", dir, "--candidate", rejected);
        Assert.Equal(78, code);
        Assert.Contains("did not pass its gates (mean_return", output, StringComparison.Ordinal);

        (code, output) = RehearsalRobots.Campaign("promote", dir, "--candidate", rejected, "--force");
        _output.WriteLine(output);
        Assert.True(code == 1, output);
        history = RehearsalRobots.History(dir);
        Assert.Equal(("canary", true, rejected), (history[^2].Action, history[^2].Forced, history[^2].Candidate!));
        var rollback = history[^1];
        Assert.Equal(("rollback", rejected), (rollback.Action, rollback.Candidate!));
        Assert.Equal(["r1"], rollback.Robots);
        Assert.Matches(@"^canary r1: mean return -[0-9.]+ over [0-9]+ episode\(s\) < -1000", rollback.Reason!);
        Assert.True(rollback.Telemetry!["r1"].Returns.Average() < RollbackBelow);
        RehearsalRobots.WaitFor(() => r1.Latest?.PolicyVersion == 3, "r1 to run the rollback, v3");
        Assert.Contains(2L, r1.Versions);   // the canary did run the rejected candidate
        var state = RehearsalRobots.State(dir);
        Assert.Equal((best, 3UL, "rolled-back"), (state.Robots["r1"].Candidate!, state.Robots["r1"].Version, state.Phase));
        Assert.Equal((best, 1UL), (state.Robots["r2"].Candidate!, state.Robots["r2"].Version));
        Assert.DoesNotContain(2L, r2.Versions);
        Assert.Equal(1UL, r2.Latest!.Value.StreamVersion);
        Assert.DoesNotContain("bundle v2", _robots.Log("controller-r2"), StringComparison.Ordinal);
        foreach (var line in File.ReadAllLines(new Promotion.PromotionRecords(dir).HistoryPath)) _output.WriteLine(line);
    }
}
