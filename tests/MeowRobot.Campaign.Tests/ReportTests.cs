using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MeowRobot.Campaign.Report;
using MeowRobot.Trainer.Reporting;

namespace MeowRobot.Campaign.Tests;

/// <summary>
/// <c>campaign report</c> on campaign directories the tests build in the documented formats: run.json and metrics.csv
/// written by their real writers (<see cref="RunState"/>, the trainer's <see cref="MetricsCsv"/>), gate verdicts and
/// the promotion's history and state as docs/campaigns.md specifies them. Every expected figure is computed here from
/// what the test wrote, not by the report's code.
/// </summary>
public sealed class ReportTests : IDisposable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly string dir = Directory.CreateTempSubdirectory("meow-report-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private const string Spec = """
        name: pendulum-report-test
        task: pendulum
        envs: 2
        randomise:
          mass: uniform(0.7, 1.3)
          length: uniform(0.8, 1.2)
        configurations:
          - name: alpha-0.1
            learner: { Alpha: 0.1 }
          - name: sac
            algorithm: sac
        seeds: [1, 2]
        budget:
          env_steps: 1200
          eval_every: 400
          eval_episodes: 2
        """;

    private static readonly string[] Configurations = ["alpha-0.1", "sac"];
    private static readonly int[] Seeds = [1, 2];
    private static readonly long[] EvalSteps = [400, 800, 1200];

    /// <summary>The evaluation returns the test wrote, per run id, in env-step order.</summary>
    private readonly Dictionary<string, List<(long Steps, double Mean)>> written = [];

    private static string RunDir(string root, string id) => Path.Combine(root, "runs", id);

    /// <summary>A campaign of 2 configurations × 2 seeds, all done unless <paramref name="running"/> names one, each
    /// with train rows every 100 env steps and an evaluation at 400, 800, 1200 (a running run stops half way).</summary>
    private void WriteRuns(string? running = null)
    {
        File.WriteAllText(Path.Combine(dir, Campaign.SpecFileName), Spec);
        var rng = new Rng(7);
        var start = new DateTimeOffset(2026, 12, 2, 1, 0, 0, TimeSpan.Zero);
        var k = 0;
        foreach (var c in Configurations)
            foreach (var s in Seeds)
            {
                var id = $"{c}-s{s}";
                var trainer = Path.Combine(RunDir(dir, id), "trainer");
                Directory.CreateDirectory(trainer);
                var isRunning = id == running;
                var evals = written[id] = [];
                using (var csv = new MetricsCsv(trainer))
                {
                    for (long steps = 100; steps <= (isRunning ? 600 : 1200); steps += 100)
                    {
                        var t = start.AddSeconds(k * 10 + steps / 100.0);
                        csv.Append(new MetricsRow(t, "train", steps, steps / 4, 50, 400, -1400 + steps / 10.0, 0.5, 1.2, -30, null, null, 0, steps / 100.0));
                        if (Array.IndexOf(EvalSteps, steps) < 0) continue;
                        // One decimal and at most 6 significant digits: what the writer's G6 keeps exactly.
                        var mean = Math.Round(-1500 + steps * 0.8 + rng.Uniform(-200.0, 200.0) + (c == "sac" ? 150 : 0), 1);
                        evals.Add((steps, mean));
                        csv.Append(new MetricsRow(t, "eval", steps, steps / 4, null, null, null, null, null, null, mean, 55.5, 0, steps / 100.0));
                    }
                }
                new RunState
                {
                    Id = id,
                    Status = isRunning ? RunStatus.Running : RunStatus.Done,
                    Attempts = 1,
                    Started = start.AddSeconds(k * 10),
                    Finished = isRunning ? null : start.AddSeconds(k * 10 + 100),
                    ExitCode = isRunning ? null : 0,
                }.Write(Path.Combine(RunDir(dir, id), "run.json"));
                k++;
            }
    }

    /// <summary>A verdict in the gates' format: 20 held-out episodes, mass and length per episode, the return falling
    /// with the mass (so the robustness bins differ), and a mean_return, p10_return and safe-stop check.</summary>
    private static (string Json, double[] Masses, double[] Lengths, double[] Returns) Verdict(string id, string configuration, int seed, double value, bool passed, int salt)
    {
        var rng = new Rng((ulong)salt);
        var masses = Enumerable.Range(0, 20).Select(_ => Math.Round(rng.Uniform(0.7, 1.3), 3)).ToArray();
        var lengths = Enumerable.Range(0, 20).Select(_ => Math.Round(rng.Uniform(0.8, 1.2), 3)).ToArray();
        // SAC's episodes a few hundred lower: its robustness panel spans other returns than alpha's.
        var offset = configuration == "sac" ? -500 : 0;
        var returns = masses.Select(m => Math.Round(offset - 200 - 600 * (m - 0.7) + rng.Uniform(-50.0, 50.0), 2)).ToArray();
        string List(IEnumerable<double> xs) => string.Join(", ", xs.Select(x => x.ToString("R", Inv)));
        var parameters = string.Join(", ", masses.Zip(lengths).Select(p => $"{{ \"mass\": {p.First.ToString("R", Inv)}, \"length\": {p.Second.ToString("R", Inv)} }}"));
        var json = $$"""
            { "candidate": "{{id}}", "policy": "runs/{{id}}/trainer/policy.safetensors", "policy_sha256": "ab12",
              "algorithm": "meow", "configuration": "{{configuration}}", "seed": {{seed}},
              "passed": {{(passed ? "true" : "false")}},
              "checks": [
                { "name": "mean_return", "op": ">=", "threshold": -400.0, "value": {{value.ToString("R", Inv)}}, "passed": {{(passed ? "true" : "false")}}, "source": "eval" },
                { "name": "p10_return", "op": ">=", "threshold": -700.5, "value": -650.25, "passed": true, "source": "eval" },
                { "name": "safe_stops_per_episode", "op": "<=", "threshold": 0.4, "value": 0.2, "passed": true, "source": "rehearsal" } ],
              "eval": { "episodes": 20, "seed": 1000, "mean_return": {{value.ToString("R", Inv)}}, "p10_return": -650.25,
                        "returns": [{{List(returns)}}], "params": [{{parameters}}] },
              "rehearsal": { "episodes": 5, "mean_return": -330.5, "p10_return": -400.0, "returns": [-300, -310, -320, -330, -392.5],
                             "safe_stops_per_episode": 0.2, "envelope_interventions_per_episode": 12.4, "deadline_misses": 0,
                             "safe_stops_by_reason": { "observation_stale": 1, "state_out_of_bounds": 0 } },
              "evaluated_at": "2026-12-02T04:40:00Z" }
            """;
        return (json, masses, lengths, returns);
    }

    private readonly Dictionary<string, (double[] Masses, double[] Lengths, double[] Returns)> episodes = [];

    private void WriteVerdict(string id, string configuration, int seed, double value, bool passed, int salt)
    {
        var (json, m, l, r) = Verdict(id, configuration, seed, value, passed, salt);
        Directory.CreateDirectory(Path.Combine(RunDir(dir, id), "gate"));
        File.WriteAllText(Path.Combine(RunDir(dir, id), "gate", "verdict.json"), json);
        episodes[id] = (m, l, r);
    }

    private const string History = """
        {"at": "2026-12-02T05:00:00Z", "action": "canary", "candidate": "sac-s1", "robots": ["r1"], "reason": "promoted by hand"}
        {"at": "2026-12-02T05:01:00Z", "action": "rollback", "candidate": "sac-s1", "robots": ["r1"], "reason": "canary r1: 3 safe stops in 20 s > 0 allowed", "telemetry": {"r1": {"safe_stops": 3}}}
        {"at": "2026-12-02T05:10:00Z", "action": "canary", "candidate": "alpha-0.1-s2", "robots": ["r1"], "reason": "promoted by hand"}
        {"at": "2026-12-02T05:11:00Z", "action": "widen", "candidate": "alpha-0.1-s2", "robots": ["r2"], "reason": "canary r1: 0 safe stops in 20 s"}

        """;

    private const string State = """
        { "robots": { "r1": { "candidate": "alpha-0.1-s2", "version": 4, "sha256": "0123456789abcdef0123", "previous": { "candidate": "alpha-0.1-s1", "version": 2, "sha256": "ff" } },
                      "r2": { "candidate": "alpha-0.1-s2", "version": 4, "sha256": "0123456789abcdef0123", "previous": null } },
          "phase": "done" }
        """;

    private void WritePromotion()
    {
        Directory.CreateDirectory(Path.Combine(dir, "promotion"));
        File.WriteAllText(Path.Combine(dir, "promotion", "history.jsonl"), History);
        File.WriteAllText(Path.Combine(dir, "promotion", "state.json"), State);
    }

    private int Report(string? output = null)
    {
        var args = new List<string> { "report", dir };
        if (output is not null) args.AddRange(["--output", output]);
        return Program.Main([.. args]);
    }

    private string Page => File.ReadAllText(Path.Combine(dir, "report", "index.html"));

    private JsonElement Summary() => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "report", "summary.json"))).RootElement.Clone();

    /// <summary>The table row of a candidate in the gate table.</summary>
    private static string Row(string page, string id)
    {
        var m = Regex.Match(page, $"<tr data-candidate=\"{Regex.Escape(id)}\">(.*?)</tr>", RegexOptions.Singleline);
        Assert.True(m.Success, $"no gate table row for {id}");
        return m.Groups[1].Value;
    }

    private static (double Mean, double Std) MeanStd(IReadOnlyList<double> xs)
    {
        var mean = xs.Sum() / xs.Count;
        var variance = 0.0;
        foreach (var x in xs) variance += (x - mean) * (x - mean);
        return (mean, Math.Sqrt(variance / xs.Count));
    }

    [Fact]
    public void The_page_holds_the_gate_table_and_summary_json_agrees_with_the_inputs()
    {
        WriteRuns();
        WriteVerdict("alpha-0.1-s1", "alpha-0.1", 1, -812.3, passed: false, salt: 11);
        WriteVerdict("alpha-0.1-s2", "alpha-0.1", 2, -351.75, passed: true, salt: 12);
        WriteVerdict("sac-s1", "sac", 1, -333.125, passed: true, salt: 13);
        WritePromotion();

        Assert.Equal(0, Report());
        var page = Page;

        // The gate table: each check's value, rule and threshold, and the verdict, in the candidate's row.
        var rejected = Row(page, "alpha-0.1-s1");
        Assert.Contains("-812.3 &gt;= -400", rejected, StringComparison.Ordinal);
        Assert.Contains("-650.25 &gt;= -700.5", rejected, StringComparison.Ordinal);
        Assert.Contains("0.2 &lt;= 0.4", rejected, StringComparison.Ordinal);
        // A safe-stop gate's cell names the reasons behind its value (the ones that happened).
        Assert.Contains("<span class=\"muted\" data-reasons>observation_stale 1</span>", rejected, StringComparison.Ordinal);
        Assert.Contains("data-check=\"mean_return\" data-passed=\"false\"", rejected, StringComparison.Ordinal);
        Assert.Contains("data-verdict=\"rejected\"", rejected, StringComparison.Ordinal);
        Assert.Contains("-351.75 &gt;= -400", Row(page, "alpha-0.1-s2"), StringComparison.Ordinal);
        Assert.Contains("data-verdict=\"passed\"", Row(page, "alpha-0.1-s2"), StringComparison.Ordinal);
        Assert.Contains("-333.125 &gt;= -400", Row(page, "sac-s1"), StringComparison.Ordinal);
        Assert.Contains("data-verdict=\"not gated yet\"", Row(page, "sac-s2"), StringComparison.Ordinal);
        // What was promoted where and when.
        Assert.Equal(new[] { "canary", "rollback", "canary", "widen" }, Regex.Matches(page, "<tr data-action=\"([a-z-]+)\"").Select(m => m.Groups[1].Value).ToArray());
        Assert.Contains("canary r1: 3 safe stops in 20 s &gt; 0 allowed", page, StringComparison.Ordinal);
        Assert.Matches("<tr data-robot=\"r1\"><td>r1</td><td>alpha-0.1-s2</td><td class=\"num\">4</td>", page);
        // The header: runs by state, and the wall time from the first start to the last finish (130 s).
        Assert.Matches("<tr><th>runs</th><td>4: [^<]*\\b4 done, 0 failed", page);
        Assert.Contains("<tr><th>wall time</th><td>2 min 10 s", page, StringComparison.Ordinal);
        // Self-contained: no script, no stylesheet or image fetched from anywhere.
        Assert.DoesNotContain("<script", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("src=\"(?!data:)", page);

        var summary = Summary();
        Assert.Equal("local", summary.GetProperty("engine").GetString());
        Assert.Equal(4, summary.GetProperty("runs").GetProperty("done").GetInt32());
        Assert.Equal(130, summary.GetProperty("wall_seconds").GetDouble(), 6); // first start 01:00:00, last finish 30 + 100 s later
        Assert.Empty(summary.GetProperty("problems").EnumerateArray());

        // Per configuration: the curve over seeds at every evaluation and the final returns, from what was written.
        foreach (var configuration in summary.GetProperty("configurations").EnumerateArray())
        {
            var name = configuration.GetProperty("name").GetString()!;
            var runs = Seeds.Select(s => written[$"{name}-s{s}"]).ToArray();
            var curve = configuration.GetProperty("curve").EnumerateArray().ToArray();
            Assert.Equal(EvalSteps, curve.Select(p => p.GetProperty("env_steps").GetInt64()));
            for (var i = 0; i < EvalSteps.Length; i++)
            {
                var (mean, std) = MeanStd([.. runs.Select(r => r[i].Mean)]);
                Assert.Equal(mean, curve[i].GetProperty("mean").GetDouble(), 9);
                Assert.Equal(std, curve[i].GetProperty("std").GetDouble(), 9);
                Assert.Equal(2, curve[i].GetProperty("seeds").GetInt32());
            }
            var finals = runs.Select(r => r[^1].Mean).ToArray();
            var final = configuration.GetProperty("final_eval_return");
            Assert.Equal(MeanStd(finals).Mean, final.GetProperty("mean").GetDouble(), 9);
            Assert.Equal(MeanStd(finals).Std, final.GetProperty("std").GetDouble(), 9);
            Assert.Equal(finals.Min(), final.GetProperty("min").GetDouble());
        }
        Assert.Equal("meow", summary.GetProperty("configurations")[0].GetProperty("algorithm").GetString()); // the default
        Assert.Equal("sac", summary.GetProperty("configurations")[1].GetProperty("algorithm").GetString());

        // Per candidate: the verdict, its checks, and the robustness bins: 20 episodes give ⌊√20⌋ = 4 equal bins over the
        // range every candidate's episodes span.
        var candidates = summary.GetProperty("candidates").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!);
        Assert.Equal(4, candidates.Count);
        Assert.Equal("rejected", candidates["alpha-0.1-s1"].GetProperty("verdict").GetString());
        Assert.Equal(-812.3, candidates["alpha-0.1-s1"].GetProperty("checks")[0].GetProperty("value").GetDouble());
        Assert.Equal(-700.5, candidates["alpha-0.1-s1"].GetProperty("checks")[1].GetProperty("threshold").GetDouble());
        Assert.Equal(12.4, candidates["sac-s1"].GetProperty("rehearsal").GetProperty("envelope_interventions_per_episode").GetDouble());
        Assert.Equal(1, candidates["sac-s1"].GetProperty("safe_stops_by_reason").GetProperty("observation_stale").GetInt64());
        Assert.Equal("not gated yet", candidates["sac-s2"].GetProperty("verdict").GetString());
        Assert.Empty(candidates["sac-s2"].GetProperty("robustness").EnumerateArray());
        foreach (var (parameter, values) in new[] { ("mass", (Func<string, double[]>)(id => episodes[id].Masses)), ("length", id => episodes[id].Lengths) })
        {
            var all = episodes.Keys.SelectMany(values).ToArray();
            double low = all.Min(), high = all.Max(), width = (high - low) / 4;
            foreach (var id in episodes.Keys)
            {
                var bins = candidates[id].GetProperty("robustness").EnumerateArray().Single(r => r.GetProperty("parameter").GetString() == parameter)
                    .GetProperty("bins").EnumerateArray().ToArray();
                Assert.Equal(4, bins.Length);
                for (var b = 0; b < 4; b++)
                {
                    var inBin = values(id).Select((v, i) => (v, r: episodes[id].Returns[i]))
                        .Where(e => b == 3 ? e.v >= low + 3 * width : e.v >= low + b * width && e.v < low + (b + 1) * width).Select(e => e.r).ToArray();
                    Assert.Equal(low + b * width, bins[b].GetProperty("low").GetDouble(), 9);
                    Assert.Equal(inBin.Length, bins[b].GetProperty("episodes").GetInt32());
                    if (inBin.Length == 0) Assert.Equal(JsonValueKind.Null, bins[b].GetProperty("mean_return").ValueKind);
                    else Assert.Equal(MeanStd(inBin).Mean, bins[b].GetProperty("mean_return").GetDouble(), 9);
                }
                Assert.Equal(high, bins[3].GetProperty("high").GetDouble());
            }
        }
        // The promotion as recorded.
        var promotion = summary.GetProperty("promotion");
        Assert.Equal(4, promotion.GetProperty("events").GetArrayLength());
        Assert.Equal("alpha-0.1-s1", promotion.GetProperty("robots").GetProperty("r1").GetProperty("previous_candidate").GetString());

        // The plots: valid PNGs of a sensible size beside the page, and the same bytes inlined in it.
        foreach (var name in new[] { "learning-curves", "robustness-mass", "robustness-length" })
        {
            var png = File.ReadAllBytes(Path.Combine(dir, "report", name + ".png"));
            AssertPng(png, minHeight: 300);
            Assert.Contains("data:image/png;base64," + Convert.ToBase64String(png) + "\"", page, StringComparison.Ordinal);
        }
        // A robustness plot's panels (one per configuration) are on one return scale: the same y ticks in each, and the
        // scale holds SAC's lowest return as well as alpha's highest.
        var svg = File.ReadAllText(Path.Combine(dir, "report", "robustness-mass.svg"));
        var ticks = YTickLabels(svg);
        Assert.Equal(2, ticks.Count);
        Assert.Equal(ticks[0], ticks[1]);
        var returns = episodes.Values.SelectMany(e => e.Returns).ToArray();
        var scale = ticks[0].Select(t => double.Parse(t.Replace("\u2212", "-", StringComparison.Ordinal), Inv)).ToArray(); // labels use the minus sign
        Assert.True(scale.Min() <= returns.Min() + 200 && scale.Max() >= returns.Max() - 200, $"scale {string.Join(" ", ticks[0])} for returns {returns.Min()} … {returns.Max()}");
    }

    /// <summary>Each panel's y tick labels in an SVG chart (right-aligned texts left of the plot area), panel by panel.</summary>
    private static List<List<string>> YTickLabels(string svg)
    {
        var panels = new List<List<string>>();
        foreach (var part in svg.Split("font-weight=\"bold\">", StringSplitOptions.None).Skip(2)) // the chart's title, then each panel's
            panels.Add([.. System.Text.RegularExpressions.Regex.Matches(part, "<text x=\"70\" y=\"[0-9.]+\" text-anchor=\"end\">([^<]+)</text>").Select(m => m.Groups[1].Value)]);
        return panels;
    }

    /// <summary>PNG signature, an IHDR chunk first, the drawing's 960 px width, a height of at least
    /// <paramref name="minHeight"/>, and an IEND chunk last.</summary>
    private static void AssertPng(byte[] png, int minHeight)
    {
        Assert.True(png.Length > 10_000, $"a PNG of {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(960, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.InRange(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)), minHeight, 20_000);
        Assert.Equal("IEND", Encoding.ASCII.GetString(png, png.Length - 8, 4));
    }

    [Fact]
    public void Without_gates_or_promotion_those_sections_say_not_yet_and_the_report_is_complete()
    {
        WriteRuns(running: "sac-s2");
        var output = Path.Combine(dir, "elsewhere");

        Assert.Equal(0, Report(output));
        var page = File.ReadAllText(Path.Combine(output, "index.html"));
        Assert.Contains("No gate verdicts yet", page, StringComparison.Ordinal);
        Assert.Contains("Nothing promoted yet", page, StringComparison.Ordinal);
        Assert.Contains("No held-out episodes", page, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"problems\"", page, StringComparison.Ordinal);
        AssertPng(File.ReadAllBytes(Path.Combine(output, "learning-curves.png")), minHeight: 300);
        Assert.False(File.Exists(Path.Combine(output, "robustness-mass.png")));

        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json"))).RootElement;
        Assert.Equal(3, summary.GetProperty("runs").GetProperty("done").GetInt32());
        Assert.Equal(1, summary.GetProperty("runs").GetProperty("running").GetInt32());
        // The running run is no candidate; it adds its first evaluation to the curve (the one seed it had at 400 steps).
        Assert.Equal(3, summary.GetProperty("candidates").GetArrayLength());
        var sac = summary.GetProperty("configurations")[1].GetProperty("curve").EnumerateArray().ToArray();
        Assert.Equal(new[] { 2, 1, 1 }, sac.Select(p => p.GetProperty("seeds").GetInt32()));
        Assert.Equal(written["sac-s1"][2].Mean, sac[2].GetProperty("mean").GetDouble(), 9);
        Assert.Equal(0, sac[2].GetProperty("std").GetDouble());
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("promotion").GetProperty("robots").ValueKind);
        Assert.Empty(summary.GetProperty("problems").EnumerateArray());
    }

    [Fact]
    public void A_spec_whose_paths_are_relative_to_where_it_was_written_reads_as_the_engine_reads_it()
    {
        // The kept spec names the rehearsal's controller configuration beside the original spec file, not the campaign's.
        var source = Directory.CreateDirectory(Path.Combine(dir, "specs")).FullName;
        File.WriteAllText(Path.Combine(source, "robot.json"), """{ "Controller": { "Loop": { "RateHz": 500 } } }""");
        var gated = Spec + "\nevaluation:\n  episodes: 4\n  rehearsal:\n    controller: robot.json\n    episodes: 2\ngates:\n  mean_return: \">= -600\"\n";
        File.WriteAllText(Path.Combine(source, "spec.yaml"), gated);
        File.WriteAllText(Path.Combine(dir, Campaign.SpecFileName), gated);
        File.WriteAllText(Path.Combine(dir, Campaign.SpecSourceFileName), Path.Combine(source, "spec.yaml"));

        Assert.Equal(0, Report());
        Assert.Empty(Summary().GetProperty("problems").EnumerateArray());
        Assert.DoesNotContain("id=\"problems\"", Page, StringComparison.Ordinal);
    }

    [Fact]
    public void A_campaign_that_has_not_started_reports_that_nothing_ran_yet()
    {
        File.WriteAllText(Path.Combine(dir, Campaign.SpecFileName), Spec);

        Assert.Equal(0, Report());
        var page = Page;
        Assert.Contains("No run has evaluated yet.", page, StringComparison.Ordinal);
        Assert.Contains("No candidate yet: no run has finished.", page, StringComparison.Ordinal);
        Assert.Contains("no run started yet", page, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "report"), "*.png"));
        var summary = Summary();
        Assert.Equal(4, summary.GetProperty("runs").GetProperty("pending").GetInt32());
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("wall_seconds").ValueKind);
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("engine").ValueKind);
    }

    [Fact]
    public void A_candidate_that_could_not_be_evaluated_and_a_gate_without_a_value_show_as_such()
    {
        WriteRuns();
        // As the gates write them: an error instead of evidence, and a value that is no number as "NaN".
        Directory.CreateDirectory(Path.Combine(RunDir(dir, "alpha-0.1-s1"), "gate"));
        File.WriteAllText(Path.Combine(RunDir(dir, "alpha-0.1-s1"), "gate", "verdict.json"), """
            { "candidate": "alpha-0.1-s1", "policy": "runs/alpha-0.1-s1/trainer/policy.safetensors", "policy_sha256": null, "algorithm": null,
              "configuration": "alpha-0.1", "seed": 1, "passed": false, "checks": [], "eval": null, "rehearsal": null,
              "error": "the candidate's policy file cannot be evaluated: bad header", "evaluated_at": "2026-12-02T04:40:00.1234567Z" }
            """);
        Directory.CreateDirectory(Path.Combine(RunDir(dir, "sac-s1"), "gate"));
        File.WriteAllText(Path.Combine(RunDir(dir, "sac-s1"), "gate", "verdict.json"), """
            { "candidate": "sac-s1", "policy": "runs/sac-s1/trainer/policy.safetensors", "configuration": "sac", "seed": 1, "passed": false,
              "checks": [ { "name": "mean_return", "op": ">=", "threshold": -400, "value": -300.5, "passed": true, "source": "eval" },
                          { "name": "safe_stops_per_episode", "op": "<=", "threshold": 0, "value": "NaN", "passed": false, "source": "rehearsal" } ],
              "eval": { "episodes": 1, "seed": 1000, "mean_return": -300.5, "p10_return": "NaN", "returns": [-300.5], "params": [{}] },
              "rehearsal": null, "error": null, "evaluated_at": "2026-12-02T04:41:00Z" }
            """);

        Assert.Equal(0, Report());
        var page = Page;
        var failed = Row(page, "alpha-0.1-s1");
        Assert.Contains("data-verdict=\"not evaluated\"", failed, StringComparison.Ordinal);
        Assert.Contains("the candidate&#39;s policy file cannot be evaluated: bad header", failed, StringComparison.Ordinal);
        var unmeasured = Row(page, "sac-s1");
        Assert.Contains("-300.5 &gt;= -400", unmeasured, StringComparison.Ordinal);
        Assert.Matches("data-check=\"safe_stops_per_episode\" data-passed=\"false\"><span class=\"none\">not measured</span> &lt;= 0 ", unmeasured);
        Assert.Contains("data-verdict=\"rejected\"", unmeasured, StringComparison.Ordinal);

        var candidates = Summary().GetProperty("candidates").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!);
        Assert.Equal("not evaluated", candidates["alpha-0.1-s1"].GetProperty("verdict").GetString());
        Assert.EndsWith("bad header", candidates["alpha-0.1-s1"].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, candidates["sac-s1"].GetProperty("checks")[1].GetProperty("value").ValueKind);
        Assert.Empty(candidates["sac-s1"].GetProperty("robustness").EnumerateArray()); // nothing randomised in its episodes
    }

    [Fact]
    public void Damaged_inputs_are_listed_on_the_page_the_rest_still_renders_and_the_exit_code_is_1()
    {
        WriteRuns();
        WriteVerdict("alpha-0.1-s2", "alpha-0.1", 2, -351.75, passed: true, salt: 12);
        WritePromotion();
        // A verdict cut in the middle, one whose params and returns disagree in length, a metrics.csv cut inside its last
        // evaluation with a damaged line before it, a history with one malformed line, unreadable promotion state and
        // run state.
        var cut = Path.Combine(RunDir(dir, "alpha-0.1-s1"), "gate", "verdict.json");
        Directory.CreateDirectory(Path.GetDirectoryName(cut)!);
        var (json, _, _, _) = Verdict("alpha-0.1-s1", "alpha-0.1", 1, -812.3, false, 11);
        File.WriteAllText(cut, json[..(json.Length / 2)]);
        var misaligned = Path.Combine(RunDir(dir, "sac-s1"), "gate", "verdict.json");
        Directory.CreateDirectory(Path.GetDirectoryName(misaligned)!);
        (json, _, _, _) = Verdict("sac-s1", "sac", 1, -333.125, true, 13);
        File.WriteAllText(misaligned, json.Replace("\"returns\": [-", "\"returns\": [-1, -", StringComparison.Ordinal));
        var metrics = Path.Combine(RunDir(dir, "sac-s2"), "trainer", MetricsCsv.FileName);
        var lines = File.ReadAllLines(metrics).ToList();
        Assert.StartsWith(",eval,400,", lines[5][24..], StringComparison.Ordinal);
        lines[5] = lines[5][..(lines[5].IndexOf(",-", StringComparison.Ordinal) + 3)]; // the evaluation at 400 cut after "-1", then ended
        var text = string.Join('\n', lines) + "\n";
        File.WriteAllText(metrics, text[..(text.LastIndexOf(",-", StringComparison.Ordinal) + 3)]);
        var history = Path.Combine(dir, "promotion", "history.jsonl");
        File.WriteAllText(history, History.Replace("\"action\": \"widen\"", "\"action\": widen", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(dir, "promotion", "state.json"), "{ \"robots\": { \"r1\": 3 } }");
        File.WriteAllText(Path.Combine(RunDir(dir, "alpha-0.1-s2"), "run.json"), "{\"id\": \"alpha-0.1-s2\", \"status\": ");
        // A verdict past the report's bound (sparse: no disk is used), refused without being read.
        Directory.CreateDirectory(Path.Combine(RunDir(dir, "sac-s2"), "gate"));
        using (var huge = File.Create(Path.Combine(RunDir(dir, "sac-s2"), "gate", "verdict.json"))) huge.SetLength((64L << 20) + 1);

        Assert.Equal(1, Report());
        var page = Page;
        var problems = Regex.Match(page, "<div class=\"problems\" id=\"problems\">(.*?)</div>", RegexOptions.Singleline).Groups[1].Value;
        foreach (var file in new[] { "runs/alpha-0.1-s1/gate/verdict.json", "runs/sac-s1/gate/verdict.json", "runs/sac-s2/trainer/metrics.csv",
                     "promotion/history.jsonl", "promotion/state.json", "runs/alpha-0.1-s2/run.json", "runs/sac-s2/gate/verdict.json" })
            Assert.Contains($"<code>{file}</code>", problems, StringComparison.Ordinal);
        Assert.Contains("eval.params has 20 episodes but eval.returns 21", problems, StringComparison.Ordinal);
        Assert.Contains("robots.r1: expected an object", problems, StringComparison.Ordinal);
        Assert.Contains("line 4: malformed JSON", problems, StringComparison.Ordinal);
        Assert.Contains("1 damaged line(s) (fewer fields than the header; first: line 6)", problems, StringComparison.Ordinal);
        Assert.Contains("cut-off line", problems, StringComparison.Ordinal);
        Assert.Contains("67,108,865 bytes, more than the 64 MiB a report reads", problems, StringComparison.Ordinal);

        // The rest renders: the good verdict's row, the unreadable ones marked, the three good history lines.
        Assert.Contains("-351.75 &gt;= -400", Row(page, "alpha-0.1-s2"), StringComparison.Ordinal);
        Assert.Contains("data-verdict=\"verdict unreadable\"", Row(page, "alpha-0.1-s1"), StringComparison.Ordinal);
        Assert.Contains("data-verdict=\"verdict unreadable\"", Row(page, "sac-s1"), StringComparison.Ordinal);
        Assert.Contains("data-verdict=\"verdict unreadable\"", Row(page, "sac-s2"), StringComparison.Ordinal);
        Assert.Equal(new[] { "canary", "rollback", "canary" }, Regex.Matches(page, "<tr data-action=\"([a-z-]+)\"").Select(m => m.Groups[1].Value).ToArray());
        AssertPng(File.ReadAllBytes(Path.Combine(dir, "report", "learning-curves.png")), minHeight: 300);
        AssertPng(File.ReadAllBytes(Path.Combine(dir, "report", "robustness-mass.png")), minHeight: 300);

        var summary = Summary();
        Assert.Equal(8, summary.GetProperty("problems").GetArrayLength());
        Assert.Equal(1, summary.GetProperty("runs").GetProperty("unreadable").GetInt32());
        // Neither cut evaluation is read as a number: sac-s2 has only its evaluation at 800 env steps, and the curve at 400
        // is sac-s1's alone.
        var sac = summary.GetProperty("configurations")[1];
        Assert.Equal(1, sac.GetProperty("runs")[1].GetProperty("evaluations").GetInt32());
        Assert.Equal(written["sac-s2"][1].Mean, sac.GetProperty("runs")[1].GetProperty("final_eval_return").GetDouble());
        Assert.Equal(1, sac.GetProperty("curve")[0].GetProperty("seeds").GetInt32());
        Assert.Equal(written["sac-s1"][0].Mean, sac.GetProperty("curve")[0].GetProperty("mean").GetDouble());
    }

    [Fact]
    public void A_damaged_spec_finds_the_runs_under_runs_and_a_directory_that_is_no_campaign_exits_78()
    {
        WriteRuns();
        File.WriteAllText(Path.Combine(dir, Campaign.SpecFileName), "name: [unclosed\n");
        Assert.Equal(1, Report());
        var summary = Summary();
        Assert.Equal(new[] { "alpha-0.1", "sac" }, summary.GetProperty("configurations").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.Equal(4, summary.GetProperty("runs").GetProperty("done").GetInt32());
        Assert.Contains("spec.yaml", summary.GetProperty("problems")[0].GetProperty("file").GetString(), StringComparison.Ordinal);

        var empty = Directory.CreateTempSubdirectory("meow-report-none-").FullName;
        try
        {
            Assert.Equal(Program.ConfigError, Program.Main(["report", empty]));
            Assert.False(Directory.Exists(Path.Combine(empty, "report")));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
