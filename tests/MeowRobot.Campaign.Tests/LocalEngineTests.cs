using System.Globalization;
using MeowRobot.Campaign.Engines;
using MeowRobot.Campaign.Spec;
using MeowRobot.Testing;
using static MeowRobot.Campaign.Tests.CampaignProcesses;

namespace MeowRobot.Campaign.Tests;

/// <summary>
/// The local engine end to end with real processes: `campaign run` (the built executable) runs the Pendulum campaign of
/// <see cref="CampaignSpecTests.Pendulum"/>-like spec (mass and length randomised, 2 configurations × 2 seeds, small
/// budget), is killed with SIGKILL mid-way, and a second runner finishes it without losing or repeating anything.
/// </summary>
public sealed class LocalEngineTests : IDisposable
{
    private static readonly TimeSpan Wait = CampaignProcesses.Wait;
    private readonly string dir = Directory.CreateTempSubdirectory("meow-campaign-").FullName;

    public void Dispose() => CampaignProcesses.CleanUp(dir); // whatever a failed test left running

    private const string Spec = $"""
        # Pendulum with mass and length randomisation: 2 configurations × 2 seeds at a small budget.
        name: pendulum-dr-test
        {PendulumRandomised}
        {EngineTestRuns}
        engine:
          parallel: 2
        """;

    private string WriteSpec(string text)
    {
        var path = Path.Combine(dir, "spec.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_campaign_runs_every_run_and_a_runner_killed_mid_way_is_resumed_without_losing_or_repeating_anything()
    {
        var specPath = WriteSpec(Spec);
        var campaignDir = Path.Combine(dir, "c");
        using var campaign = Campaign.Open(WriteCampaignDirOnce(specPath, campaignDir));
        var runs = campaign.Plan.Runs;

        // First runner: killed with SIGKILL once one run is done and another has checkpointed part of its budget.
        PlannedRun? killedMidway = null;
        using (var first = CampaignProcesses.Runner(specPath, campaignDir, Path.Combine(dir, "runner-1.log")))
        {
            CampaignProcesses.Until(() =>
            {
                var states = runs.Select(campaign.State).ToArray();
                killedMidway = runs.Where((r, i) => states[i].Status == RunStatus.Running && File.Exists(Path.Combine(r.TrainerDirectory, "checkpoint.bin"))
                    && RunProgress.Read(r.TrainerDirectory).EnvSteps < 1000).FirstOrDefault();
                return states.Any(s => s.Status == RunStatus.Done) && killedMidway is not null;
            }, "a finished run and one part-way through");
            first.Kill(); // SIGKILL: no cleanup, its children are orphaned
            first.WaitForExit();
        }
        var doneBefore = runs.Where(r => campaign.State(r).Status == RunStatus.Done).Select(r => r.Id).ToHashSet();
        var orphan = campaign.State(killedMidway!).TrainerPid!.Value;
        Assert.True(ServiceExecutables.Alive(orphan)); // its trainer outlived the runner

        // Second runner: a second one on the same directory at the same time is refused.
        using (var second = CampaignProcesses.Runner(specPath, campaignDir, Path.Combine(dir, "runner-2.log")))
        {
            var log2 = Path.Combine(dir, "runner-2.log");
            CampaignProcesses.Until(() => File.Exists(log2) && File.ReadAllText(log2).Contains("resuming", StringComparison.Ordinal), "the second runner to take over");
            using (var third = CampaignProcesses.Runner(specPath, campaignDir, Path.Combine(dir, "runner-3.log")))
            {
                Assert.True(third.WaitForExit(Wait));
                Assert.Equal(78, third.ExitCode);
            }
            Assert.Contains("is being run by another process", File.ReadAllText(Path.Combine(dir, "runner-3.log")), StringComparison.Ordinal);
            Assert.True(second.WaitForExit(Wait), "the second runner did not finish");
            Assert.True(second.ExitCode == 0, File.ReadAllText(Path.Combine(dir, "runner-2.log")));
        }
        Assert.False(ServiceExecutables.Alive(orphan)); // stopped (and checkpointed) before its run was restarted

        foreach (var run in runs)
        {
            var state = campaign.State(run);
            Assert.Equal(RunStatus.Done, state.Status);
            var resumes = CampaignProcesses.AssertNothingLostOrRepeated(run, campaign.Spec, 100, 200);
            if (doneBefore.Contains(run.Id))
            {
                Assert.Equal((1, 0), (state.Attempts, resumes)); // finished runs were not run again
            }
            else if (run == killedMidway)
            {
                Assert.Equal((2, 1), (state.Attempts, resumes)); // resumed from its checkpoint
            }
        }
        var status = ServiceExecutables.RunToEnd("MeowRobot.Campaign", ["status", campaignDir], TimeSpan.FromMinutes(1));
        Assert.Equal(0, status.Code);
        Assert.Contains("4 runs: 4 done, 0 running, 0 failed, 0 pending; best eval return so far", status.Output, StringComparison.Ordinal);
        Assert.Contains("alpha-0.3-s2             done", status.Output, StringComparison.Ordinal);
    }

    [RequiresFact(Requirement.LibZmq, Requirement.LibMuJoCo, Requirement.MuJoCoModels)]
    public void A_MuJoCo_campaigns_runs_are_evaluated_on_the_spec_model_so_they_have_learning_curves()
    {
        // The trainer has no model of a MuJoCo task unless it is given one: without it a Hopper campaign had no
        // evaluation rows at all (no learning curves, no "best eval return"), found running the Hopper benchmark.
        var specPath = WriteSpec($$"""
            name: hopper-eval-test
            task: hopper
            model: {{SharedMaterial.MuJoCoModel("hopper")}}
            envs: 1
            randomise:
              body_mass.torso: uniform(2.9, 4.4)
            configurations:
              - name: meow
                learner: { Hidden: 16, ShiftHidden: 16, BatchSize: 32, LearningStarts: 100 }
            seeds: [1]
            budget:
              env_steps: 400
              eval_every: 200
              eval_episodes: 2
            engine:
              parallel: 1
            """);
        using var campaign = Campaign.OpenForRun(specPath, Path.Combine(dir, "hopper"));
        new LocalEngine(campaign, TextWriter.Null).RunAsync(CancellationToken.None).GetAwaiter().GetResult();
        var run = campaign.Plan.Runs.Single();
        Assert.Equal(RunStatus.Done, campaign.State(run).Status);
        var rows = Rows(Path.Combine(run.TrainerDirectory, "metrics.csv"), out var header);
        int ev = Array.IndexOf(header, "event"), steps = Array.IndexOf(header, "env_steps"), ret = Array.IndexOf(header, "eval_return_mean");
        var evals = rows.Where(r => r[ev] == "eval").ToArray();
        Assert.Equal(["200", "400"], evals.Select(r => r[steps]));
        // Hopper pays 1 per step alive: any evaluated episode has a positive return.
        Assert.All(evals, r => Assert.True(double.Parse(r[ret], CultureInfo.InvariantCulture) > 0, string.Join(",", r)));
        Assert.Contains("in-process", File.ReadAllText(Path.Combine(run.Directory, "trainer.log")), StringComparison.Ordinal);
    }

    /// <summary>Creates the campaign directory as the runner would (spec kept in it), so the test can watch it from the start.</summary>
    private static string WriteCampaignDirOnce(string specPath, string campaignDir)
    {
        using (Campaign.OpenForRun(specPath, campaignDir)) { }
        return campaignDir;
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_learner_key_the_trainer_refuses_is_a_spec_error_at_its_configuration_before_anything_runs()
    {
        var specPath = WriteSpec(Spec.Replace("Alpha: 0.3,", "Alfa: 0.3,", StringComparison.Ordinal));
        using var campaign = Campaign.OpenForRun(specPath, Path.Combine(dir, "bad"));
        var e = Assert.Throws<CampaignSpecException>(() => new LocalEngine(campaign, TextWriter.Null).RunAsync(CancellationToken.None).GetAwaiter().GetResult());
        Assert.Equal((11L, "configurations[1]"), (e.Line, e.Key));
        Assert.Contains("Trainer:Learner:Alfa", e.Problem, StringComparison.Ordinal);
        Assert.All(campaign.Plan.Runs, r => Assert.Equal(RunStatus.Pending, campaign.State(r).Status));
        Assert.False(Directory.Exists(campaign.Plan.Runs[0].TrainerDirectory));
    }
}
