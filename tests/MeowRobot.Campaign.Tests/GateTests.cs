using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using MeowRobot.Campaign.Engines;
using MeowRobot.Campaign.Gates;
using MeowRobot.Campaign.Spec;
using MeowRobot.Control.RobotIo;
using MeowRobot.Testing;

namespace MeowRobot.Campaign.Tests;

/// <summary>
/// Gates: the spec's <c>evaluation:</c> and <c>gates:</c> sections and their errors, the verdict's arithmetic, and the
/// local engine gating candidates end to end with the real tools (<c>trainer policy eval</c>, <c>controller run</c>):
/// a trained policy passes, a configuration whose learning never starts (its final policy is the random initial one)
/// and a damaged policy file are rejected, a tool killed mid-way is run again, a runner killed with SIGKILL mid-gate
/// leaves verdicts written alone and redoes the interrupted gate, and a damaged verdict file is set aside and redone.
/// </summary>
public sealed class GateTests : IDisposable
{
    private static readonly string GoodPolicy = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pendulum-meow-8k-seed1.safetensors");
    private readonly string dir = Directory.CreateTempSubdirectory("meow-gates-").FullName;

    public GateTests()
    {
        // The robot: a 500 Hz loop, the plant at 100 Hz (2 s per 200-step pendulum episode), the unshaped rate the
        // fixture was trained with (4 N·m per 2 ms tick), and a staleness threshold a shared CI box does not trip.
        File.WriteAllText(Path.Combine(dir, "robot.json"),
            """{ "Controller": { "Loop": { "RateHz": 500 }, "SimRobot": { "StepRateHz": 100 }, "Envelope": { "MaxRatePerSecond": [ 2000 ], "ObservationTimeoutSeconds": 0.5 } } }""");
    }

    public void Dispose() => CampaignProcesses.CleanUp(dir); // whatever a failed test left running

    private const string Gated = """
        name: x
        task: pendulum
        configurations: [{name: a}]
        seeds: [1]
        budget: {env_steps: 10}
        evaluation:
          randomise:
            mass: uniform(0.6, 1.6)
          episodes: 6
          seed: 1000
          rehearsal:
            controller: robot.json
            episodes: 2
        gates:
          mean_return: ">= -600"
          safe_stops_per_episode: "<= 0"
        """;

    private CampaignSpec Parse(string text) => CampaignSpec.Parse(text, "spec.yaml", dir);

    [Fact]
    public void The_evaluation_gives_the_held_out_randomisation_episodes_seed_rehearsal_and_gates()
    {
        var e = Parse(Gated).Evaluation!;
        Assert.Equal(["mass=uniform(0.6, 1.6)"], e.Randomise.Select(d => d.ToString()));
        Assert.Equal((6, 1000, 200), (e.Episodes, e.Seed, e.EpisodeSteps));
        Assert.Equal(new RehearsalPlan(Path.Combine(dir, "robot.json"), 2, 500, 100), e.Rehearsal);
        Assert.Equal([new GateCheck("mean_return", ">=", -600, GateSource.Eval), new GateCheck("safe_stops_per_episode", "<=", 0, GateSource.Rehearsal)], e.Gates);
        Assert.Null(Parse(CampaignSpecTests.Pendulum).Evaluation);

        var defaults = Parse(Gated.Replace("  episodes: 6\n  seed: 1000\n", "", StringComparison.Ordinal).Replace("    episodes: 2\n", "", StringComparison.Ordinal)).Evaluation!;
        Assert.Equal((EvaluationPlan.DefaultEpisodes, EvaluationPlan.DefaultSeed, EvaluationPlan.DefaultRehearsalEpisodes), (defaults.Episodes, defaults.Seed, defaults.Rehearsal!.Episodes));
    }

    [Theory]
    [InlineData("evaluation:\n  randomise:\n    mass: uniform(0.6, 1.6)\n  episodes: 6\n  seed: 1000\n  rehearsal:\n    controller: robot.json\n    episodes: 2\n", "", 7, "gates", "gates need an evaluation")]
    [InlineData("gates:\n  mean_return: \">= -600\"\n  safe_stops_per_episode: \"<= 0\"", "", 7, "evaluation", "needs gates")]
    [InlineData("  mean_return: \">= -600\"", "  mean_retrun: \">= -600\"", 15, "gates.mean_retrun", "unknown gate")]
    [InlineData("\">= -600\"", "\"-600\"", 15, "gates.mean_return", "is not a condition")]
    [InlineData("\">= -600\"", "\">= lots\"", 15, "gates.mean_return", "is not a condition")]
    [InlineData("\">= -600\"", ">= -600", 15, "", "must be quoted")]
    [InlineData("  rehearsal:\n    controller: robot.json\n    episodes: 2\n", "", 13, "gates.safe_stops_per_episode", "needs evaluation.rehearsal")]
    [InlineData("controller: robot.json", "controller: nope.json", 12, "evaluation.rehearsal.controller", "does not exist")]
    [InlineData("controller: robot.json", "controller: bad.json", 12, "evaluation.rehearsal.controller", "Controller:Envelope:MaxRate")]
    [InlineData("controller: robot.json", "controller: wide.json", 12, "evaluation.rehearsal.controller", "the controller refuses")]
    [InlineData("    controller: robot.json\n", "", 12, "evaluation.rehearsal", "missing key 'controller'")]
    [InlineData("    mass: uniform(0.6, 1.6)", "    masss: uniform(0.6, 1.6)", 8, "evaluation.randomise.masss", "no parameter 'masss'")]
    [InlineData("    mass: uniform(0.6, 1.6)", "    mass: uniform(0.1, 1.6)", 8, "evaluation.randomise.mass", "low bound")]
    [InlineData("  episodes: 6", "  episodes: 0", 9, "evaluation.episodes", "outside")]
    [InlineData("  seed: 1000", "  sede: 1000", 10, "evaluation.sede", "unknown key")]
    [InlineData("  safe_stops_per_episode: \"<= 0\"", "  stall_safe_stops_per_episode: \"at most 1\"", 16, "gates.stall_safe_stops_per_episode", "is not a condition")]
    [InlineData("  safe_stops_per_episode: \"<= 0\"", "  policy_safe_stops_per_episode: \"<= none\"", 16, "gates.policy_safe_stops_per_episode", "is not a condition")]
    public void Evaluation_and_gate_errors_name_the_key_and_the_line(string find, string replace, int line, string key, string problem)
    {
        File.WriteAllText(Path.Combine(dir, "bad.json"), """{ "Controller": { "Envelope": { "MaxRate": 3 } } }""");
        File.WriteAllText(Path.Combine(dir, "wide.json"), """{ "Controller": { "Envelope": { "ActionLow": [ -1, -1 ], "ActionHigh": [ 1, 1 ] } } }""");
        var text = Gated.Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(Gated, text);
        var e = Assert.Throws<CampaignSpecException>(() => Parse(text));
        Assert.Equal((line, key), ((int)e.Line, e.Key == "(top level)" ? "" : e.Key));
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_10th_percentile_interpolates_between_order_statistics_and_gates_compare_as_written()
    {
        Assert.Equal(1.9, GateVerdict.P10([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]), 12);   // numpy.percentile(range(1, 11), 10)
        Assert.Equal(-5.0, GateVerdict.P10([-5]));
        Assert.Equal(-1450.0, GateVerdict.P10([-1000, -1500]));
        Assert.True(double.IsNaN(GateVerdict.P10([])));
        Assert.True(new GateCheck("mean_return", ">=", -400, GateSource.Eval).Passes(-400));
        Assert.False(new GateCheck("mean_return", ">", -400, GateSource.Eval).Passes(-400));
        Assert.True(new GateCheck("deadline_misses", "<", 1, GateSource.Rehearsal).Passes(0));
        Assert.False(new GateCheck("safe_stops_per_episode", "<=", 0, GateSource.Rehearsal).Passes(double.NaN));
    }

    [Fact]
    public void The_rehearsal_splits_safe_stops_into_stalls_and_policy_stops_and_each_kind_can_be_gated()
    {
        // A rehearsal report as controller run --output writes it, read back from the file: one stall, one state bound.
        var report = Path.Combine(dir, "rehearsal.json");
        new EpisodeReport(
        [
            new EpisodeResult(7, -200, 200, false, [0f], SafeStops: new Dictionary<string, long> { ["observation_stale"] = 1 }),
            new EpisodeResult(8, -300, 200, false, [0f], SafeStops: new Dictionary<string, long> { ["state_out_of_bounds"] = 1 }),
            new EpisodeResult(9, -250, 200, false, [0f], SafeStops: new Dictionary<string, long>()),
            new EpisodeResult(10, -250, 200, false, [0f], SafeStops: new Dictionary<string, long>()),
        ],
        [
            new("safe_stops", 2), new("envelope_interventions", 8), new("deadline_misses", 3), new("ticks", 4000),
            new("stall_safe_stops", 1), new("policy_safe_stops", 1),
        ]).Save(report);
        var rehearsal = GateVerdict.RehearsalFrom(EpisodeReport.Load(report), 7, "robot.json");
        Assert.Equal((0.5, 0.25, 0.25), (rehearsal.SafeStopsPerEpisode, rehearsal.StallSafeStopsPerEpisode, rehearsal.PolicySafeStopsPerEpisode));
        Assert.Equal(new Dictionary<string, long> { ["observation_stale"] = 1, ["state_out_of_bounds"] = 1 }, rehearsal.SafeStopsByReason);

        var gates = Parse(Gated.Replace("  safe_stops_per_episode: \"<= 0\"", "  policy_safe_stops_per_episode: \"<= 0.3\"\n  stall_safe_stops_per_episode: \"<= 0\"", StringComparison.Ordinal)).Evaluation!.Gates;
        Assert.Equal([("policy_safe_stops_per_episode", GateSource.Rehearsal), ("stall_safe_stops_per_episode", GateSource.Rehearsal)], gates.Skip(1).Select(g => (g.Name, g.Source)));
        var checks = GateVerdict.Apply(gates, GateVerdict.EvalFrom(EpisodeReport.Load(report), 7), rehearsal);
        Assert.Equal([("mean_return", true), ("policy_safe_stops_per_episode", true), ("stall_safe_stops_per_episode", false)], checks.Select(c => (c.Name, c.Passed)));

        // The verdict's rehearsal block carries both kinds and the reasons, and its failures name them.
        var file = Path.Combine(dir, GateVerdict.FileName);
        var verdict = new GateVerdict { Candidate = "a-s1", Policy = "p", Configuration = "a", Rehearsal = rehearsal, Checks = checks };
        Assert.Equal("stall_safe_stops_per_episode 0.25 (needs <= 0; observation_stale 1)", verdict.Why());
        Assert.EndsWith("(needs <= 0; observation_stale 1, state_out_of_bounds 1)", (verdict with { Checks = GateVerdict.Apply(Parse(Gated).Evaluation!.Gates, GateVerdict.EvalFrom(EpisodeReport.Load(report), 7), rehearsal) }).Why(), StringComparison.Ordinal);
        verdict.Write(file);
        using var json = JsonDocument.Parse(File.ReadAllText(file));
        var block = json.RootElement.GetProperty("rehearsal");
        Assert.Equal((0.25, 0.25), (block.GetProperty("stall_safe_stops_per_episode").GetDouble(), block.GetProperty("policy_safe_stops_per_episode").GetDouble()));
        Assert.Equal(1, block.GetProperty("safe_stops_by_reason").GetProperty("observation_stale").GetInt64());
        Assert.Equal(rehearsal.SafeStopsByReason, GateVerdict.Read(file)!.Rehearsal!.SafeStopsByReason);
    }

    private const string GatedCampaign = """
        name: gates-test
        task: pendulum
        envs: 2
        randomise:
          mass: uniform(0.8, 1.2)
        configurations:
          - name: good              # its run is finished beforehand with the trained fixture
          - name: damaged           # finished beforehand with a damaged policy file
          - name: never-learns      # trained here: learning starts after the budget, so its policy stays the random initial one
            learner: { LearningStarts: 100000, Hidden: 16, ShiftHidden: 16 }
        seeds: [1]
        budget:
          env_steps: 400
          eval_every: 400
          eval_episodes: 1
        evaluation:
          randomise:                # held out: wider than training's
            mass: uniform(0.6, 1.6)
            length: uniform(0.8, 1.3)
          episodes: 6
          seed: 1000
          rehearsal:
            controller: robot.json
            episodes: 2
        gates:
          mean_return: ">= -600"
          p10_return: ">= -900"
          rehearsal_mean_return: ">= -700"
          safe_stops_per_episode: "<= 5"
          envelope_interventions_per_episode: "<= 100000"
        engine:
          parallel: 1
        """;

    private static string StateFile(PlannedRun run) => Path.Combine(CandidateGate.DirectoryOf(run), "state.json");

    /// <summary>The pid of the candidate's gate tool in flight (gate/state.json), when it is <paramref name="tool"/> and alive.</summary>
    private static int? ToolPid(PlannedRun run, string tool)
    {
        try
        {
            using var state = JsonDocument.Parse(File.ReadAllText(StateFile(run)));
            var pid = state.RootElement.GetProperty("pid").GetInt32();
            return state.RootElement.GetProperty("tool").GetString() == tool && ServiceExecutables.Alive(pid) ? pid : null;
        }
        catch (IOException)
        {
            return null; // not written yet, or gone with the verdict
        }
    }

    [RequiresFact(Requirement.LibZmq)]
    public void The_engine_passes_a_trained_candidate_rejects_an_untrained_and_a_damaged_one_and_a_gate_killed_mid_way_is_redone()
    {
        var specPath = Path.Combine(dir, "spec.yaml");
        File.WriteAllText(specPath, GatedCampaign);
        var campaignDir = Path.Combine(dir, "c");
        using (Campaign.OpenForRun(specPath, campaignDir)) { }
        using var campaign = Campaign.Open(campaignDir);
        PlannedRun good = campaign.Plan.Runs[0], damaged = campaign.Plan.Runs[1], untrained = campaign.Plan.Runs[2];
        foreach (var (run, bytes) in new[] { (good, File.ReadAllBytes(GoodPolicy)), (damaged, "not a policy file"u8.ToArray()) })
        {
            Directory.CreateDirectory(run.TrainerDirectory);
            File.WriteAllBytes(run.PolicyFile, bytes);
            new RunState { Id = run.Id, Status = RunStatus.Done, Attempts = 1 }.Write(run.StateFile);
        }

        // First runner: the good candidate's rehearsal is killed once (a crashing tool: run again); the runner itself is
        // killed with SIGKILL while the untrained candidate's rehearsal is in flight.
        int? leftover = null;
        using (var first = CampaignProcesses.Runner(specPath, campaignDir, Path.Combine(dir, "runner-1.log")))
        {
            int? crashing = null;
            CampaignProcesses.Until(() => (crashing = ToolPid(good, "rehearsal")) is not null, "the good candidate's rehearsal");
            ServiceExecutables.Signal(crashing!.Value, ServiceExecutables.SigKill);
            CampaignProcesses.Until(() => (leftover = ToolPid(untrained, "rehearsal")) is not null, "the untrained candidate's rehearsal");
            first.Kill();
            first.WaitForExit();
        }
        Assert.Null(CandidateGate.Verdict(untrained));
        var goodVerdict = CandidateGate.Verdict(good)!;
        var damagedVerdict = CandidateGate.Verdict(damaged)!;
        // A verdict file damaged between runners: status says so, the next runner moves it aside and gates again.
        File.WriteAllText(CandidateGate.VerdictFile(damaged), "{ \"candidate\": ");
        Assert.Contains("damaged verdict", campaign.StatusTable(), StringComparison.Ordinal);

        using (var second = CampaignProcesses.Runner(specPath, campaignDir, Path.Combine(dir, "runner-2.log")))
        {
            Assert.True(second.WaitForExit(CampaignProcesses.Wait), "the second runner did not finish");
            Assert.True(second.ExitCode == 0, File.ReadAllText(Path.Combine(dir, "runner-2.log")));
        }
        var log2 = File.ReadAllText(Path.Combine(dir, "runner-2.log"));
        Assert.False(ServiceExecutables.Alive(leftover!.Value));
        Assert.Contains("gating never-learns-s1", log2, StringComparison.Ordinal);
        Assert.DoesNotContain("gating good-s1", log2, StringComparison.Ordinal);   // written verdicts are final
        Assert.Equal(goodVerdict.EvaluatedAt, CandidateGate.Verdict(good)!.EvaluatedAt);
        Assert.Contains($"moved to {CandidateGate.VerdictFile(damaged)}.damaged; damaged-s1 is gated again", log2, StringComparison.Ordinal);
        Assert.Equal(damagedVerdict.Error, CandidateGate.Verdict(damaged)!.Error);

        // The trained candidate passes every gate, with its evidence.
        Assert.True(goodVerdict.Passed, goodVerdict.Why());
        Assert.Equal(("good-s1", "runs/good-s1/trainer/policy.safetensors", "meow", "good", 1), (goodVerdict.Candidate, goodVerdict.Policy, goodVerdict.Algorithm, goodVerdict.Configuration, goodVerdict.Seed));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(GoodPolicy))), goodVerdict.PolicySha256);
        Assert.Equal(["mean_return", "p10_return", "rehearsal_mean_return", "safe_stops_per_episode", "envelope_interventions_per_episode"], goodVerdict.Checks.Select(c => c.Name));
        Assert.All(goodVerdict.Checks, c => Assert.True(c.Passed));
        var eval = goodVerdict.Eval!;
        Assert.Equal((6, 1000, 6, 6), (eval.Episodes, eval.Seed, eval.Returns.Count, eval.Params.Count));
        Assert.Equal(eval.Returns.Average(), eval.MeanReturn, 9);
        Assert.All(eval.Params, p => Assert.True(p["mass"] is >= 0.6 and <= 1.6 && p["length"] is >= 0.8 and <= 1.3, string.Join(",", p)));
        Assert.True(eval.Params.Any(p => p["mass"] > 1.2 || p["mass"] < 0.8), "no held-out draw outside the training range");
        var rehearsal = goodVerdict.Rehearsal!;
        Assert.Equal((2, 2), (rehearsal.Episodes, rehearsal.Returns.Count));
        Assert.Equal(eval.Params.Take(2), rehearsal.Params);   // the same seeds draw the same physics in both tools
        Assert.Equal(Path.Combine(dir, "robot.json"), rehearsal.Controller);
        var rehearsalLog = File.ReadAllText(Path.Combine(CandidateGate.DirectoryOf(good), "rehearsal.log"));
        Assert.Contains("rehearsal attempt 2", rehearsalLog, StringComparison.Ordinal);
        Assert.False(File.Exists(StateFile(good)));

        // The untrained one fails on its returns; the damaged file is rejected without evaluation.
        var untrainedVerdict = CandidateGate.Verdict(untrained)!;
        Assert.False(untrainedVerdict.Passed);
        Assert.False(untrainedVerdict.Checks.Single(c => c.Name == "mean_return").Passed);
        Assert.True(untrainedVerdict.Eval!.MeanReturn < -900, $"a random policy scored {untrainedVerdict.Eval.MeanReturn}");
        Assert.False(damagedVerdict.Passed);
        Assert.Contains("cannot be evaluated", damagedVerdict.Error, StringComparison.Ordinal);
        Assert.Null(damagedVerdict.Eval);

        // The file as the contract has it (snake_case keys, the checks' fields).
        using var json = JsonDocument.Parse(File.ReadAllText(CandidateGate.VerdictFile(untrained)));
        var root = json.RootElement;
        Assert.Equal(["candidate", "policy", "policy_sha256", "algorithm", "configuration", "seed", "passed", "checks", "eval", "rehearsal", "error", "evaluated_at"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(">=", root.GetProperty("checks")[0].GetProperty("op").GetString());
        Assert.Equal("eval", root.GetProperty("checks")[0].GetProperty("source").GetString());
        Assert.True(root.GetProperty("eval").TryGetProperty("p10_return", out _));
        Assert.True(root.GetProperty("rehearsal").TryGetProperty("envelope_interventions_per_episode", out _));
        var stops = root.GetProperty("rehearsal");   // the real controller's counts: both kinds add up to all safe stops
        Assert.Equal(stops.GetProperty("safe_stops_per_episode").GetDouble(),
            stops.GetProperty("stall_safe_stops_per_episode").GetDouble() + stops.GetProperty("policy_safe_stops_per_episode").GetDouble(), 12);
        Assert.Equal(stops.GetProperty("safe_stops").GetInt64(), stops.GetProperty("safe_stops_by_reason").EnumerateObject().Sum(r => r.Value.GetInt64()));
        Assert.EndsWith("Z", root.GetProperty("evaluated_at").GetString(), StringComparison.Ordinal);

        var status = ServiceExecutables.RunToEnd("MeowRobot.Campaign", ["status", campaignDir], TimeSpan.FromMinutes(1));
        Assert.Equal(0, status.Code);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"gates: 3 gated, 1 passed, 2 failed; best gate result good-s1 (passed: mean_return {eval.MeanReturn:F1}"), status.Output, StringComparison.Ordinal);
        Assert.Contains("never-learns-s1          done            1      400/400", status.Output, StringComparison.Ordinal);
        Assert.Contains("failed: mean_return", status.Output, StringComparison.Ordinal);
    }
}
