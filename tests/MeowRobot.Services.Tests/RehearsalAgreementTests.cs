using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;
using MeowRobot.Testing;
using Xunit.Abstractions;

namespace MeowRobot.Services.Tests;

/// <summary>
/// Issue 16's evidence: a trained pendulum policy scores the same in the trainer's evaluation (<c>trainer policy eval</c>)
/// and in rehearsal through the real controller (<c>controller run --episodes</c>), episode for episode, in-process and
/// through a sim worker over the bridge. It runs alone (its own collection, no other test of this assembly beside it):
/// the rehearsal is real time, and a plant starved by a neighbour's 1 kHz loop or training run stalls.
/// </summary>
[Collection(RehearsalCollection.Name)]
public sealed partial class RehearsalAgreementTests(ITestOutputHelper output) : IDisposable
{
    private const int Episodes = 20, Seed = 7;
    private static readonly string Policy = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pendulum-meow-8k-seed1.safetensors");
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-rehearsal-");

    public void Dispose() => _dir.Delete(recursive: true);

    [GeneratedRegex(@"^eval: mean_return=(-?[\d.]+) std_return=([\d.]+) episodes=(\d+) mean_length=([\d.]+)$")]
    private static partial Regex EvalLine();

    [GeneratedRegex(@"^rehearsal: mean_return=(-?[\d.]+) std_return=([\d.]+) episodes=(\d+) safe_stops=(\d+)$")]
    private static partial Regex RehearsalLine();

    [RequiresFact(Requirement.LibZmq)]
    public void Controller_rehearsal_and_policy_eval_agree_within_10_percent_in_process_and_through_a_sim_worker()
    {
        using var worker = SimWorker.Start(new SimService(new LocalVectorEnv([TaskCatalog.Create("pendulum")])), "ipc://" + Path.Combine(_dir.FullName, "sim.sock"));

        var eval = Eval(["--task", "pendulum"], "eval.json");
        var evalBridge = Eval(["--connect", worker.Endpoint], "eval-bridge.json");
        Assert.Equal(Returns(eval), Returns(evalBridge));   // the same deterministic episodes either way
        Assert.Equal(Enumerable.Range(Seed, Episodes), eval.RootElement.GetProperty("episodes").EnumerateArray().Select(e => e.GetProperty("seed").GetInt32()));

        // Both rehearsals at once (100 s of plant time each at 40 Hz, 25 loop ticks per plant step).
        var inProcess = Rehearse(["--task", "pendulum"], "run.json");
        var bridge = Rehearse(["--connect", worker.Endpoint], "run-bridge.json");
        Check("in-process", eval, inProcess.Result);
        Check("bridge", eval, bridge.Result);
    }

    private JsonDocument Eval(string[] where, string file)
    {
        var path = Path.Combine(_dir.FullName, file);
        var (code, stdout, stderr) = ServiceProcesses.Run("MeowRobot.Trainer",
            ["policy", "eval", "--weights", Policy, .. where, "--episodes", $"{Episodes}", "--seed", $"{Seed}", "--output", path], new Dictionary<string, string>());
        Assert.True(code == 0, stdout + stderr);
        var line = EvalLine().Match(stdout.TrimEnd().Split('\n')[^1]);
        Assert.True(line.Success, stdout);
        var json = JsonDocument.Parse(File.ReadAllBytes(path));
        Assert.Equal(double.Parse(line.Groups[1].Value, CultureInfo.InvariantCulture), json.RootElement.GetProperty("mean_return").GetDouble(), 0.001);
        Assert.Equal("200", line.Groups[4].Value);
        return json;
    }

    private Task<(JsonDocument Json, string Stdout)> Rehearse(string[] where, string file) => Task.Run(() =>
    {
        var path = Path.Combine(_dir.FullName, file);
        // The trainer's unshaped actuator (full range, 4 N·m, per 1 ms tick) with a staleness threshold of 0.5 s: this
        // test is about agreement, not about the stall rule (ModeTests), and a shared CI box starves plants for 100s of ms.
        var robot = Path.Combine(_dir.FullName, file + ".robot.json");
        File.WriteAllText(robot, """{ "Controller": { "Envelope": { "MaxRatePerSecond": [ 4000 ], "ObservationTimeoutSeconds": 0.5 } } }""");
        using var p = ServiceProcesses.Start("MeowRobot.Controller",
            ["run", "--weights", Policy, .. where, "--episodes", $"{Episodes}", "--seed", $"{Seed}", "--sim-rate", "40", "--actuator", robot, "--output", path], new Dictionary<string, string>());
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(400)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("controller run did not finish 20 episodes within 400 s");
        }
        Assert.True(p.ExitCode == 0, stdout.Result + stderr.Result);
        return (JsonDocument.Parse(File.ReadAllBytes(path)), stdout.Result);
    });

    private void Check(string name, JsonDocument eval, (JsonDocument Json, string Stdout) run)
    {
        var lines = run.Stdout.TrimEnd().Split('\n');
        var line = RehearsalLine().Match(lines[^1]);
        Assert.True(line.Success, run.Stdout);
        Assert.Equal($"{Episodes}", line.Groups[3].Value);
        var expected = Returns(eval);
        var got = Returns(run.Json);
        Assert.Equal(Episodes, got.Count);
        Assert.Equal(Enumerable.Range(Seed, Episodes), run.Json.RootElement.GetProperty("episodes").EnumerateArray().Select(e => e.GetProperty("seed").GetInt32()));
        var differences = expected.Zip(got, (a, b) => Math.Abs(a - b)).ToList();
        double evalMean = expected.Average(), runMean = got.Average();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: policy eval {evalMean:F2}, rehearsal {runMean:F2} ({(runMean - evalMean) / Math.Abs(evalMean):P2}); per episode |Δ| median {differences.Order().ElementAt(Episodes / 2):G3} max {differences.Max():G3}; {lines.FirstOrDefault(l => l.StartsWith("hand-off:", StringComparison.Ordinal))}; safe_stops {line.Groups[4].Value}"));
        Assert.True(Math.Abs(runMean - evalMean) <= 0.1 * Math.Abs(evalMean),
            $"{name}: rehearsal mean {runMean:F2} is more than 10 % from policy eval's {evalMean:F2}\n{run.Stdout}");
    }

    private static List<double> Returns(JsonDocument d) =>
        [.. d.RootElement.GetProperty("episodes").EnumerateArray().Select(e => e.GetProperty("return").GetDouble())];
}

/// <summary>Tests that run with nothing else of this assembly beside them (real-time rehearsals).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RehearsalCollection
{
    public const string Name = "rehearsal (runs alone)";
}
