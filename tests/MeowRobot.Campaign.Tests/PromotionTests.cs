using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Campaign.Engines;
using MeowRobot.Campaign.Promotion;
using MeowRobot.Campaign.Spec;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Telemetry;
using MeowRobot.Control.WeightStream;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Testing;
using Xunit.Abstractions;

namespace MeowRobot.Campaign.Tests;

/// <summary>
/// Promotion with two rehearsal robots, as deployed: two `sim serve` workers (multigoal, a point mass), two
/// `controller serve` robots driving them (r1 the canary), the promotion stream (`campaign stream serve`) and the
/// `campaign promote` / `campaign rollback` executables. Candidates are SAC policy files with a constant action: zero
/// (the point stays in the envelope's state bounds) or full throttle (it leaves them within a few plant steps).
/// </summary>
public sealed class PromotionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("meow-promotion-").FullName;
    private readonly RehearsalRobots _robots;

    private string Keys => _robots.Keys;
    private string CampaignDir => Path.Combine(_dir, "campaign");
    private string Socket(string name) => _robots.Socket(name);

    private readonly ITestOutputHelper _output;

    public PromotionTests(ITestOutputHelper output)
    {
        _output = output;
        _robots = new RehearsalRobots(_dir);
        // The robots: a point mass whose envelope's state bounds are ±3 on its position.
        File.WriteAllText(RobotConfig, """
            { "Controller": {
                "Loop": { "RateHz": 200 },
                "SimRobot": { "StepRateHz": 50 },
                "Envelope": { "ObservationTimeoutSeconds": 0.5,
                              "StateBounds": [ { "Index": 0, "Min": -3, "Max": 3 }, { "Index": 1, "Min": -3, "Max": 3 } ] },
                "Modes": { "ArmOnStart": true } } }
            """);
    }

    private string RobotConfig => Path.Combine(_dir, "robot.json");

    public void Dispose()
    {
        _robots.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string SpecText(double silenceSeconds = 10) => $"""
        name: promotion-test
        task: multigoal
        configurations:
          - name: good
          - name: bad
          - name: better
        seeds: [1]
        budget:
          env_steps: 100

        """ + _robots.PromotionSection(1.5, silenceSeconds, """
            safe_stops: 0
            envelope_interventions: 100000   # stale ticks of a loaded CI box are not what this test is about
        """);

    /// <summary>A SAC policy for multigoal whose deterministic action is tanh(<paramref name="preTanh"/>) in every state.</summary>
    private static PolicyFile ConstantPolicy(float preTanh, int seed)
    {
        var file = PolicyFile.Initialized(new PolicyMetadata
        {
            Algorithm = PolicyAlgorithm.Sac, ObsDim = 2, ActDim = 2, Task = "multigoal", Sac = new SacArchitecture { Hidden = 8 },
        }, seed);
        return new PolicyFile(file.Metadata, file.Tensors.Select(t => t.Name switch
        {
            "actor.fc_mean.weight" => t with { Values = new float[t.Values.Length] },
            "actor.fc_mean.bias" => t with { Values = [.. Enumerable.Repeat(preTanh, t.Values.Length)] },
            _ => t,
        }));
    }

    /// <summary>A campaign directory with the three candidates' final policies and gate verdicts (bad-s1's failed).</summary>
    private void WriteCampaign(double silenceSeconds = 10)
    {
        Directory.CreateDirectory(CampaignDir);
        File.WriteAllText(Path.Combine(CampaignDir, MeowRobot.Campaign.Campaign.SpecFileName), SpecText(silenceSeconds));
        foreach (var (id, preTanh, passed, seed) in new[] { ("good-s1", 0f, true, 1), ("bad-s1", 10f, false, 2), ("better-s1", 0f, true, 3) })
        {
            var run = Path.Combine(CampaignDir, "runs", id);
            Directory.CreateDirectory(Path.Combine(run, "trainer"));
            Directory.CreateDirectory(Path.Combine(run, "gate"));
            var policy = Path.Combine(run, "trainer", "policy.safetensors");
            ConstantPolicy(preTanh, seed).Save(policy);
            var verdict = new
            {
                candidate = id, policy = $"runs/{id}/trainer/policy.safetensors",
                policy_sha256 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(policy))), passed,
                checks = new[] { new { name = "envelope_interventions_per_episode", op = "<=", threshold = 0.0, value = passed ? 0.0 : 3.0, passed } },
            };
            File.WriteAllText(Path.Combine(run, "gate", "verdict.json"), JsonSerializer.Serialize(verdict));
        }
    }

    private string Log(string name) => _robots.Log(name);
    private static (int Code, string Output) Campaign(params string[] args) => RehearsalRobots.Campaign(args);
    private static void WaitFor(Func<bool> condition, string what) => RehearsalRobots.WaitFor(condition, what);
    private PromotionState State() => RehearsalRobots.State(CampaignDir);
    private IReadOnlyList<PromotionEvent> History() => RehearsalRobots.History(CampaignDir);

    [Fact]
    public void A_good_candidate_widens_a_bad_one_is_rolled_back_from_the_canary_and_never_reaches_the_other_robot_and_rollback_and_restart_keep_the_promoted_release()
    {
        WriteCampaign();
        var r2Process = _robots.Start("multigoal", CampaignDir, RobotConfig)["r2"];
        using var r1 = _robots.Telemetry("r1");
        using var r2 = _robots.Telemetry("r2");
        WaitFor(() => r1.Latest is not null && r2.Latest is not null, "both robots' telemetry");
        Assert.Equal(0, r1.Latest!.Value.PolicyVersion);   // nothing promoted yet: nothing to run

        // A good candidate: canary r1, watched, then widened to r2; both run it.
        var (code, output) = Campaign("promote", CampaignDir, "--candidate", "good-s1");
        Assert.True(code == 0, output + Log("stream"));
        Assert.Contains("canaries passed; widened to r2 v1", output, StringComparison.Ordinal);
        WaitFor(() => r1.Latest?.PolicyVersion == 1 && r2.Latest?.PolicyVersion == 1, "both robots to run good-s1 as v1");
        var state = State();
        Assert.Equal("widened", state.Phase);
        Assert.All(state.Robots.Values, r => Assert.Equal(("good-s1", 1UL), (r.Candidate!, r.Version)));
        Assert.Equal(["canary", "widen"], History().Select(e => e.Action));

        // A candidate whose gate failed is refused, and nothing changes.
        (code, output) = Campaign("promote", CampaignDir, "--candidate", "bad-s1");
        Assert.Equal(78, code);
        Assert.Contains("did not pass its gates (envelope_interventions_per_episode)", output, StringComparison.Ordinal);
        Assert.Equal("refused", History()[^1].Action);
        Assert.Equal(1UL, State().Robots["r1"].Version);

        // Forced, it trips the canary's envelope: r1 is rolled back to good-s1 under a new version; r2 never gets it.
        (code, output) = Campaign("promote", CampaignDir, "--candidate", "bad-s1", "--force");
        Assert.True(code == 1, output);
        var events = History();
        Assert.Equal(("canary", true), (events[^2].Action, events[^2].Forced));
        var rollback = events[^1];
        Assert.Equal("rollback", rollback.Action);
        Assert.Equal(["r1"], rollback.Robots);
        Assert.Matches("canary r1: [0-9]+ (safe stop|envelope intervention)", rollback.Reason!);
        Assert.True(rollback.Telemetry!["r1"].SafeStops + rollback.Telemetry["r1"].EnvelopeInterventions > 0);
        WaitFor(() => r1.Latest?.PolicyVersion == 3, "r1 to run the rollback, v3");
        Assert.Contains(2L, r1.Versions);   // the canary did run the bad candidate
        state = State();
        Assert.Equal(("good-s1", 3UL, "rolled-back"), (state.Robots["r1"].Candidate!, state.Robots["r1"].Version, state.Phase));
        Assert.Equal(("good-s1", 1UL), (state.Robots["r2"].Candidate!, state.Robots["r2"].Version));
        Assert.DoesNotContain(2L, r2.Versions);
        Assert.Equal(1UL, r2.Latest!.Value.StreamVersion);
        Assert.DoesNotContain("bundle v2", Log("controller-r2"), StringComparison.Ordinal);

        // The next good candidate widens again, each robot's version above everything it had.
        (code, output) = Campaign("promote", CampaignDir, "--candidate", "better-s1");
        Assert.True(code == 0, output);
        WaitFor(() => r1.Latest?.PolicyVersion == 4 && r2.Latest?.PolicyVersion == 2, "r1 v4 and r2 v2 (better-s1)");

        // campaign rollback: both robots back to good-s1, under new versions.
        (code, output) = Campaign("rollback", CampaignDir);
        Assert.True(code == 0, output);
        WaitFor(() => r1.Latest?.PolicyVersion == 5 && r2.Latest?.PolicyVersion == 3, "r1 v5 and r2 v3 (good-s1 again)");
        state = State();
        Assert.All(state.Robots.Values, r => Assert.Equal("good-s1", r.Candidate));
        Assert.Equal("manual-rollback", History()[^1].Action);

        // A robot that restarts gets its promoted release from the stream's snapshot.
        ServiceExecutables.Signal(r2Process.Id, ServiceExecutables.SigTerm);
        Assert.True(r2Process.WaitForExit(TimeSpan.FromSeconds(30)), "r2's controller did not stop on SIGTERM");
        var before = r2.Messages;
        _robots.StartController("r2", RobotConfig);
        WaitFor(() => r2.Messages > before && r2.Latest?.PolicyVersion == 3 && r2.Latest?.Tick < 2000, "the restarted r2 to run v3 again");
        foreach (var line in File.ReadAllLines(new PromotionRecords(CampaignDir).HistoryPath)) _output.WriteLine(line);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void The_unit_install_sh_installs_passes_its_own_check_once_its_site_file_names_a_campaign_with_robots()
    {
        var prefix = Path.Combine(_dir, "root");
        var install = InstallScript.Run("--prefix", prefix, "--no-publish", "--no-enable", "--services", "promotion");
        Assert.True(install.Code == 0, install.Out + install.Err);
        // The unit's ExecStart with --check, its /etc/meowrobot/ under the prefix and its program the one built here.
        var unit = File.ReadAllText(Path.Combine(prefix, "etc", "systemd", "system", "meow-promotion.service"));
        var execStart = unit.Split('\n').Single(l => l.StartsWith("ExecStart=/opt/meowrobot/campaign/MeowRobot.Campaign ", StringComparison.Ordinal));
        var args = execStart["ExecStart=/opt/meowrobot/campaign/MeowRobot.Campaign ".Length..]
            .Replace("/etc/meowrobot/", prefix + "/etc/meowrobot/", StringComparison.Ordinal).Split(' ').Append("--check").ToArray();
        var site = Path.Combine(prefix, "etc", "meowrobot", "promotion.json");

        // As installed, the site file names a campaign that is not there yet: a configuration error.
        var (code, output) = Campaign(args);
        Assert.True(code == 78, output);
        Assert.Contains("/var/lib/meowrobot/campaigns/", output, StringComparison.Ordinal);

        WriteCampaign();
        File.WriteAllText(site, JsonSerializer.Serialize(new { Promotion = new { Campaign = CampaignDir } }));
        (code, output) = Campaign(args);
        Assert.True(code == 0, output);
    }

    [Fact]
    public void Unknown_candidates_gate_failures_and_a_second_promote_are_refused_before_anything_is_published()
    {
        WriteCampaign(silenceSeconds: 1);
        using var campaign = MeowRobot.Campaign.Campaign.Open(CampaignDir);
        var promoter = new Promoter(campaign, TextWriter.Null);
        var e = Assert.Throws<PromotionRefusedException>(() => promoter.Promote("nope-s9", force: false, CancellationToken.None));
        Assert.StartsWith("unknown candidate 'nope-s9' (the campaign's runs: good-s1, bad-s1, better-s1)", e.Message, StringComparison.Ordinal);
        File.Delete(Path.Combine(CampaignDir, "runs", "good-s1", "gate", "verdict.json"));
        e = Assert.Throws<PromotionRefusedException>(() => promoter.Promote("good-s1", force: false, CancellationToken.None));
        Assert.Contains("has no gate verdict", e.Message, StringComparison.Ordinal);
        ConstantPolicy(0f, 9).Save(Path.Combine(CampaignDir, "runs", "better-s1", "trainer", "policy.safetensors"));   // retrained after its gate
        e = Assert.Throws<PromotionRefusedException>(() => promoter.Promote("better-s1", force: false, CancellationToken.None));
        Assert.Contains("its gate verdict is for another policy file", e.Message, StringComparison.Ordinal);
        Assert.Equal(["refused", "refused", "refused"], promoter.Records.ReadHistory().Select(h => h.Action));
        Assert.False(File.Exists(promoter.Records.StatePath));

        using (promoter.Records.Lock())
        {
            var (code, output) = Campaign("promote", CampaignDir, "--candidate", "good-s1");
            Assert.Equal(75, code);
            Assert.Contains("another promote or rollback is in progress", output, StringComparison.Ordinal);
        }

        // Canaries whose telemetry is silent (no controller runs here) are not promoted to: refused, nothing written.
        var silent = Assert.Throws<PromotionRefusedException>(() => promoter.Promote("bad-s1", force: true, CancellationToken.None));
        Assert.Contains("canary r1: no telemetry from", silent.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(promoter.Records.StatePath));
    }

    [Fact]
    public void A_canary_that_goes_silent_during_its_watch_is_rolled_back()
    {
        WriteCampaign(silenceSeconds: 1);
        var records = new PromotionRecords(CampaignDir);
        // The last release r1 was given (good-s1 as v1), so the silent canary has something to go back to.
        var sha = records.Keep(Path.Combine(CampaignDir, "runs", "good-s1", "trainer", "policy.safetensors"));
        records.WriteState(new PromotionState
        {
            Phase = "widened", Candidate = "good-s1",
            Robots = new() { ["r1"] = new RobotRelease { Candidate = "good-s1", Version = 1, Sha256 = sha }, ["r2"] = new RobotRelease { Candidate = "good-s1", Version = 1, Sha256 = sha } },
        });
        // r1's controller, at the edge: real telemetry messages on its endpoint, running what state.json gives it, until
        // it goes quiet (a canary that disconnects).
        using var context = new ZmqContext();
        using var bound = new ManualResetEventSlim();
        using var quiet = new CancellationTokenSource();
        var canary = new Thread(() =>
        {
            using var pub = context.CreateSocket(ZmqSocketType.Pub);
            pub.Bind(Socket("r1-telemetry"));
            bound.Set();
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            var snapshot = new LoopSnapshot { RateHz = 200, Running = true, PolicyVersion = 1 };
            var started = Stopwatch.StartNew();
            while (!quiet.IsCancellationRequested)
            {
                var given = (long)records.ReadState().Robots["r1"].Version;
                if (snapshot.PolicyVersion == given && given > 1 && started.Elapsed > TimeSpan.FromSeconds(0.5)) break;   // running the candidate a while: silence
                if (given != snapshot.PolicyVersion) started.Restart();
                snapshot.PolicyVersion = given;
                snapshot.Tick += 40;
                buffer.ResetWrittenCount();
                TelemetryWire.EncodeTelemetry(snapshot, new StreamTelemetry((ulong)given, 1, 0, null), buffer);
                pub.Send(TelemetryWire.TelemetryTopic, more: true);
                pub.Send(buffer.WrittenSpan);
                quiet.Token.WaitHandle.WaitOne(100);   // the controller's telemetry interval
            }
        }) { IsBackground = true };
        canary.Start();
        bound.Wait();
        using var campaign = MeowRobot.Campaign.Campaign.Open(CampaignDir);
        var outcome = new Promoter(campaign, TextWriter.Null).Promote("better-s1", force: false, CancellationToken.None);
        quiet.Cancel();
        canary.Join();
        Assert.Equal(PromotionOutcome.RolledBack, outcome);
        var rollback = records.ReadHistory()[^1];
        Assert.Equal("rollback", rollback.Action);
        Assert.StartsWith("canary r1: telemetry silent for 1 s", rollback.Reason, StringComparison.Ordinal);
        var state = records.ReadState();
        Assert.Equal(("good-s1", 3UL), (state.Robots["r1"].Candidate!, state.Robots["r1"].Version));
        Assert.Equal(("good-s1", 1UL), (state.Robots["r2"].Candidate!, state.Robots["r2"].Version));   // never widened to
    }

    [Fact]
    public void The_promotion_section_is_checked_with_key_and_line()
    {
        void Refused(string extraRobots, string expected, string? replace = null)
        {
            var text = SpecText().Replace("  canary: [r1]", extraRobots + "  canary: [r1]", StringComparison.Ordinal);
            if (replace is not null) text = text.Replace("  canary: [r1]", replace, StringComparison.Ordinal);
            var e = Assert.Throws<CampaignSpecException>(() => CampaignSpec.Parse(text, "spec.yaml", _dir));
            Assert.Matches(expected, e.Message);
        }
        Assert.Equal(["r1"], CampaignSpec.Parse(SpecText(), "spec.yaml", _dir).Promotion!.Canary);
        Refused("", @"^spec\.yaml:2[0-9]: promotion\.canary\[0\]: 'r3' is not one of the robots \(r1, r2\)$", "  canary: [r3]");
        Refused($"    - name: r1\n      key_file: {Keys}/r1.key\n      stream: {Socket("x")}\n      telemetry: {Socket("y")}\n",
            @"^spec\.yaml:2[0-9]: promotion\.robots\[2\]\.name: robot 'r1' is named twice$");
        Refused($"    - name: r3\n      key_file: {Keys}/r2.key\n      stream: {Socket("r1-stream")}\n      telemetry: {Socket("y")}\n",
            @"promotion\.robots\[2\]: robot 'r3' has the public key of robot 'r2'$");
        Refused($"    - name: r3\n      key_file: {Keys}/stream.key\n      stream: {Socket("r1-stream")}\n      telemetry: {Socket("y")}\n",
            @"promotion\.robots\[2\]\.stream: robot 'r3' shares a stream endpoint with robot 'r1'");
        Refused($"    - name: r3\n      key: abc\n      stream: {Socket("z")}\n      telemetry: {Socket("y")}\n", @"promotion\.robots\[2\]\.key: not a 40-character Z85 public key$");
        Refused("", @"promotion\.watch: unknown key \(known here: stream_key, robots, canary, watch_seconds", "  canary: [r1]\n  watch: 3");
        var negative = Assert.Throws<CampaignSpecException>(() => CampaignSpec.Parse(SpecText().Replace("safe_stops: 0", "safe_stops: -1", StringComparison.Ordinal), "spec.yaml", _dir));
        Assert.Matches(@"^spec\.yaml:[0-9]+: promotion\.rollback\.safe_stops: -1 is outside \[0, ", negative.Message);
    }

    [Fact]
    public void The_rollback_rule_counts_safe_stops_over_all_kinds_or_by_kind_as_the_gates_split_them()
    {
        RollbackRule Rule(string rollback) =>
            CampaignSpec.Parse(SpecText().Replace("    safe_stops: 0\n", rollback, StringComparison.Ordinal), "spec.yaml", _dir).Promotion!.Rollback;
        // A canary that stopped once on stale observations (a stall: the machine's doing) and once on a state bound.
        var twoKinds = new CanaryObservation(4, "Policy", 10, SafeStops: 2, StallSafeStops: 1, EnvelopeInterventions: 0, [], []);
        var stallOnly = twoKinds with { SafeStops = 1 };
        string? Judge(RollbackRule rule, CanaryObservation o) => Promoter.Judge(rule, "r1", o, final: true);

        var strict = Rule("");                                    // no key: no safe stop of any kind
        Assert.Equal("canary r1: 2 safe stop(s) in 10 s > 0 allowed", Judge(strict, twoKinds));
        Assert.Equal("canary r1: 1 safe stop(s) in 10 s > 0 allowed", Judge(strict, stallOnly));

        var tolerateStalls = Rule("    policy_safe_stops: 0\n"); // only the policy's own stops count
        Assert.Null(tolerateStalls.SafeStops);
        Assert.Null(Judge(tolerateStalls, stallOnly));
        Assert.Equal("canary r1: 1 policy safe stop(s) in 10 s > 0 allowed", Judge(tolerateStalls, twoKinds));

        var fewStalls = Rule("    policy_safe_stops: 1\n    stall_safe_stops: 0\n");
        Assert.Equal("canary r1: 1 stall safe stop(s) in 10 s > 0 allowed", Judge(fewStalls, stallOnly));
        Assert.Null(Judge(Rule("    safe_stops: 2\n"), twoKinds));

        var negative = Assert.Throws<CampaignSpecException>(() => Rule("    stall_safe_stops: -3\n"));
        Assert.Matches(@"^spec\.yaml:[0-9]+: promotion\.rollback\.stall_safe_stops: -3 is outside \[0, ", negative.Message);
    }

    [Fact]
    public void A_robot_that_does_not_follow_live_refuses_bundles_for_any_robot_and_runs_those_promoted_to_it()
    {
        var trainer = ZmqCurveKeyPair.Generate();
        using var publisher = new WeightStreamPublisher(trainer, null, new WeightStreamPublisherOptions { PublishEndpoint = Socket("live"), SnapshotEndpoint = Socket("live.snapshot") });
        var bytes = ConstantPolicy(0f, 1).ToBytes();
        publisher.Publish(PolicyBundle.Create(1, new PolicyIdentity("multigoal", 2, 2, PolicyIdentity.AnyRobot), bytes, DateTimeOffset.UnixEpoch, "sac"));
        var delivered = new List<long>();
        BundleOutcome? last = null;
        WeightStreamSubscriber Robot(bool requireAddressed) => new(new WeightStreamSubscriberOptions
        {
            PublishEndpoints = [publisher.PublishEndpoint], SnapshotEndpoints = [publisher.SnapshotEndpoint], TrainerPublicKey = trainer.PublicKey.ToArray(),
            Identity = new PolicyIdentity("multigoal", 2, 2, "r1"), RequireAddressed = requireAddressed,
        }, p => { lock (delivered) delivered.Add(p.Version); }, o => last = o);

        using (var promoted = Robot(requireAddressed: true))
        {
            WaitFor(() => promoted.Rejected > 0, "the live bundle to be refused");
            Assert.Equal(BundleVerdict.WrongIdentity, last!.Value.Verdict);
            Assert.Contains("Controller:WeightStream:FollowLive=true", last.Value.Reason, StringComparison.Ordinal);
            publisher.Publish(PolicyBundle.Create(2, new PolicyIdentity("multigoal", 2, 2, "r1"), bytes, DateTimeOffset.UnixEpoch, "sac"));
            WaitFor(() => promoted.AcceptedVersion == 2, "the bundle addressed to r1");
        }
        lock (delivered) Assert.Equal([2L], delivered);
        publisher.Publish(PolicyBundle.Create(3, new PolicyIdentity("multigoal", 2, 2, PolicyIdentity.AnyRobot), bytes, DateTimeOffset.UnixEpoch, "sac"));
        using var live = Robot(requireAddressed: false);
        WaitFor(() => live.AcceptedVersion == 3, "a robot following live to take the live bundle");
    }
}
