using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace MeowRobot.Services.Tests;

/// <summary>
/// <c>--randomise</c> on <c>trainer policy eval</c> and <c>controller run --episodes</c> (a campaign's held-out
/// randomisation): each episode draws its parameters from its own seed, so a seed reproduces them in either tool, and
/// --output records them per episode; a randomisation the task does not accept is refused with exit 78 before any
/// socket is opened.
/// </summary>
public sealed class RandomisedEvaluationTests : IDisposable
{
    private static readonly string Policy = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pendulum-meow-8k-seed1.safetensors");
    private static readonly Dictionary<string, string> NoEnvironment = [];
    private static readonly string[] Randomise = ["--randomise", "mass=uniform(0.6, 1.6)", "--randomise", "length=log_uniform(0.8, 1.25)"];
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-randomised-eval-");

    public void Dispose() => _dir.Delete(recursive: true);

    private JsonDocument Tool(string project, string file, params string[] args)
    {
        var path = Path.Combine(_dir.FullName, file);
        var (code, stdout, stderr) = ServiceProcesses.Run(project, [.. args, .. Randomise, "--output", path], NoEnvironment, TimeSpan.FromMinutes(3));
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("randomised per episode: length=log_uniform(0.8, 1.25); mass=uniform(0.6, 1.6)", stdout, StringComparison.Ordinal);
        return JsonDocument.Parse(File.ReadAllBytes(path));
    }

    private JsonDocument Eval(string file, int seed) =>
        Tool("MeowRobot.Trainer", file, "policy", "eval", "--weights", Policy, "--task", "pendulum", "--episodes", "4", "--seed", $"{seed}");

    private static List<(double Mass, double Length)> Draws(JsonDocument report) =>
        [.. report.RootElement.GetProperty("episodes").EnumerateArray()
            .Select(e => (e.GetProperty("params").GetProperty("mass").GetDouble(), e.GetProperty("params").GetProperty("length").GetDouble()))];

    private static List<double> Returns(JsonDocument report) =>
        [.. report.RootElement.GetProperty("episodes").EnumerateArray().Select(e => e.GetProperty("return").GetDouble())];

    [Fact]
    public void Each_episode_draws_from_its_seed_in_policy_eval_and_controller_run_and_the_draws_are_recorded()
    {
        using var first = Eval("a.json", 7);
        using var again = Eval("b.json", 7);
        using var shifted = Eval("c.json", 8);
        var draws = Draws(first);
        Assert.Equal(draws, Draws(again));
        Assert.Equal(Returns(first), Returns(again));
        Assert.Equal(draws.Skip(1), Draws(shifted).Take(3));   // episode i is seed S + i: seed 8's first episode is seed 7's second
        Assert.Equal(4, draws.Distinct().Count());
        Assert.All(draws, d => Assert.True(d.Mass is >= 0.6 and <= 1.6 && d.Length is >= 0.8 and <= 1.25, $"{d}"));

        // The controller's plant draws the same physics for the same seeds (2 episodes: a 200 Hz plant, 2 s of real time).
        using var rehearsal = Tool("MeowRobot.Controller", "run.json", "run", "--weights", Policy, "--task", "pendulum", "--episodes", "2", "--seed", "7",
            "--sim-rate", "200");
        Assert.Equal(draws.Take(2), Draws(rehearsal));
        var counts = rehearsal.RootElement.GetProperty("controller");
        foreach (var name in new[] { "safe_stops", "envelope_interventions", "deadline_misses", "ticks" }) Assert.True(counts.TryGetProperty(name, out _), name);
        Assert.Equal(counts.GetProperty("non_finite_actions").GetInt64() + counts.GetProperty("non_finite_observations").GetInt64()
            + counts.GetProperty("stale_observation_ticks").GetInt64(), counts.GetProperty("envelope_interventions").GetInt64());
        Assert.True(counts.GetProperty("ticks").GetInt64() > 0);
    }

    [Fact]
    public void A_rehearsal_records_each_episode_s_safe_stops_by_reason_and_the_totals_by_kind()
    {
        // A state bound on the angular velocity that the reset never breaks (|θ̇| ≤ 1) and a swinging pendulum soon does.
        var robot = Path.Combine(_dir.FullName, "bounded.json");
        File.WriteAllText(robot, """{ "Controller": { "Loop": { "RateHz": 500 }, "SimRobot": { "StepRateHz": 200 }, "Envelope": { "MaxRatePerSecond": [ 2000 ], "ObservationTimeoutSeconds": 0.5, "StateBounds": [ { "Index": 2, "Min": -1.05, "Max": 1.05 } ] } } }""");
        using var rehearsal = Tool("MeowRobot.Controller", "bounded-run.json", "run", "--random-policy", "1", "--task", "pendulum", "--episodes", "2", "--seed", "7", "--actuator", robot);
        var counts = rehearsal.RootElement.GetProperty("controller");
        long Count(string name) => counts.GetProperty(name).GetInt64();
        Assert.True(Count("safe_stops_state_out_of_bounds") >= 1, counts.ToString());
        Assert.Equal(Count("safe_stops"), Count("stall_safe_stops") + Count("policy_safe_stops"));
        Assert.Equal(Count("stall_safe_stops"), Count("safe_stops_observation_stale") + Count("safe_stops_observation_missing") + Count("safe_stops_deadline_miss_budget"));
        Assert.Equal(Count("policy_safe_stops"), Count("safe_stops_state_out_of_bounds") + Count("safe_stops_observation_non_finite") + Count("safe_stops_policy_non_finite") + Count("safe_stops_no_policy"));

        // Per episode: the stop is the first episode's (a state bound needs a resume, so the second has none of its own);
        // the episodes' stops add up to the totals, reason by reason.
        var perEpisode = rehearsal.RootElement.GetProperty("episodes").EnumerateArray()
            .Select(e => e.GetProperty("safe_stops").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64())).ToArray();
        Assert.Equal(1, perEpisode[0].GetValueOrDefault("state_out_of_bounds"));
        foreach (var reason in perEpisode.SelectMany(e => e.Keys).Distinct())
            Assert.Equal(Count("safe_stops_" + reason), perEpisode.Sum(e => e.GetValueOrDefault(reason)));
    }

    [Theory]
    [InlineData("masss=uniform(0.6, 1.6)", "no parameter 'masss'")]
    [InlineData("mass=uniform(0.1, 1.6)", "low bound")]
    [InlineData("mass=gaussian(1, 2)", "unknown distribution")]
    [InlineData("mass", "is not NAME=DISTRIBUTION")]
    public void A_randomisation_the_task_refuses_exits_78_in_both_tools(string entry, string problem)
    {
        foreach (var (project, args) in new[]
        {
            ("MeowRobot.Trainer", new[] { "policy", "eval", "--weights", Policy, "--task", "pendulum", "--episodes", "1" }),
            ("MeowRobot.Controller", ["run", "--weights", Policy, "--task", "pendulum", "--episodes", "1"]),
        })
        {
            var (code, stdout, stderr) = ServiceProcesses.Run(project, [.. args, "--randomise", entry], NoEnvironment);
            Assert.True(code == 78, $"{project}: exit {code}\n{stdout}{stderr}");
            Assert.Contains("--randomise: ", stderr, StringComparison.Ordinal);
            Assert.Contains(problem, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("robot:", stdout, StringComparison.Ordinal);   // nothing started
        }
    }

    [Fact]
    public void Pointed_at_a_sim_worker_the_randomisation_is_checked_against_the_named_task_before_connecting()
    {
        // A listener where a worker would be: neither tool may connect to it before refusing.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endpoint = $"tcp://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        foreach (var (project, args) in new[]
        {
            ("MeowRobot.Trainer", new[] { "policy", "eval", "--weights", Policy, "--episodes", "1" }),
            ("MeowRobot.Controller", ["run", "--weights", Policy, "--episodes", "1"]),
        })
        {
            var unnamed = ServiceProcesses.Run(project, [.. args, "--connect", endpoint, "--randomise", "mass=uniform(0.6, 1.6)"], NoEnvironment);
            Assert.True(unnamed.Code == 78, $"{project}: exit {unnamed.Code}\n{unnamed.Out}{unnamed.Err}");
            Assert.Contains("checked against it before connecting", unnamed.Err, StringComparison.Ordinal);
            var wrong = ServiceProcesses.Run(project, [.. args, "--connect", endpoint, "--task", "cartpole", "--randomise", "mass=uniform(0.6, 1.6)"], NoEnvironment);
            Assert.True(wrong.Code == 78, $"{project}: exit {wrong.Code}\n{wrong.Out}{wrong.Err}");
            Assert.Contains("cartpole has no parameter 'mass'", wrong.Err, StringComparison.Ordinal);
        }
        Assert.False(listener.Pending(), "a tool connected before refusing its randomisation");
    }
}
