using System.Globalization;
using System.Text.RegularExpressions;

namespace MeowRobot.Services.Tests;

/// <summary>`trainer policy eval` and `trainer learn` as a user runs them: bad input, the actuator model, seeded
/// sampling, and a budget that ends before learning starts.</summary>
public sealed partial class PolicyEvalAndLearnCommandTests : IDisposable
{
    private static readonly string Policy = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pendulum-meow-8k-seed1.safetensors");
    private static readonly Dictionary<string, string> NoEnvironment = [];
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-policy-eval-");

    public void Dispose() => _dir.Delete(recursive: true);

    [GeneratedRegex(@"^eval: mean_return=(-?[\d.]+) ")]
    private static partial Regex EvalLine();

    private static double Mean(string stdout) =>
        double.Parse(EvalLine().Match(stdout.TrimEnd().Split('\n')[^1]).Groups[1].Value, CultureInfo.InvariantCulture);

    private static (int Code, string Out, string Err) Eval(params string[] args) =>
        ServiceProcesses.Run("MeowRobot.Trainer", ["policy", "eval", "--weights", Policy, .. args], NoEnvironment);

    [Fact]
    public void Bad_parameters_a_policy_of_another_size_and_a_damaged_actuator_file_are_refused_with_exit_2()
    {
        var unknown = Eval("--task", "pendulum", "--episodes", "1", "--param", "nosuch=1");
        Assert.Equal(2, unknown.Code);
        Assert.Contains("no parameter 'nosuch'", unknown.Err, StringComparison.Ordinal);
        var malformed = Eval("--task", "pendulum", "--episodes", "1", "--param", "mass");
        Assert.Equal(2, malformed.Code);
        Assert.Contains("is not NAME=NUMBER", malformed.Err, StringComparison.Ordinal);
        var outOfRange = Eval("--task", "pendulum", "--episodes", "1", "--param", "mass=99");
        Assert.Equal(2, outOfRange.Code);
        var otherTask = Eval("--task", "cartpole", "--episodes", "1");
        Assert.Equal(2, otherTask.Code);
        Assert.Contains("the policy is (3, 1)", otherTask.Err, StringComparison.Ordinal);
        var damaged = Path.Combine(_dir.FullName, "robot.json");
        File.WriteAllText(damaged, "{ \"Controller\": { \"Envelope\": { \"MaxRate\": 3 } } }");
        var badActuator = Eval("--task", "pendulum", "--episodes", "1", "--actuator", damaged);
        Assert.Equal(2, badActuator.Code);
        Assert.Contains("Controller:Envelope:MaxRate", badActuator.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void The_actuator_model_shapes_the_actions_and_sampling_is_seeded()
    {
        var plain = Eval("--task", "pendulum", "--episodes", "4", "--seed", "7");
        Assert.Equal(0, plain.Code);
        // An empty controller configuration: the envelope's defaults, full range in 0.5 s (0.4 N·m per 50 ms step).
        var robot = Path.Combine(_dir.FullName, "robot.json");
        File.WriteAllText(robot, "{}");
        var limited = Eval("--task", "pendulum", "--episodes", "4", "--seed", "7", "--actuator", robot);
        Assert.Equal(0, limited.Code);
        Assert.Contains("actuator: rate limit full range in 0.5 s", limited.Out, StringComparison.Ordinal);
        Assert.NotEqual(Mean(plain.Out), Mean(limited.Out));

        var sampled = Eval("--task", "pendulum", "--episodes", "3", "--seed", "7", "--stochastic");
        var again = Eval("--task", "pendulum", "--episodes", "3", "--seed", "7", "--stochastic");
        Assert.Equal(0, sampled.Code);
        Assert.Equal(sampled.Out, again.Out);
        Assert.NotEqual(Mean(Eval("--task", "pendulum", "--episodes", "3", "--seed", "7").Out), Mean(sampled.Out));
    }

    [Theory]
    [InlineData("sac", false)]
    [InlineData("s2ac", true)]
    [InlineData("s2ac", false)]
    public void Stochastic_evaluation_samples_sac_and_s2ac_policies_too(string algorithm, bool amortized)
    {
        var path = Path.Combine(_dir.FullName, $"{algorithm}-{amortized}.safetensors");
        MeowRobot.Policy.Files.PolicyFile.Initialized(new MeowRobot.Policy.Files.PolicyMetadata
        {
            Algorithm = algorithm == "sac" ? MeowRobot.Policy.Files.PolicyAlgorithm.Sac : MeowRobot.Policy.Files.PolicyAlgorithm.S2ac,
            ObsDim = 3, ActDim = 1, Task = "pendulum",
            ActionScale = new MeowRobot.Policy.Files.ActionScaling([-2f], [2f]),
            Sac = new MeowRobot.Policy.Files.SacArchitecture { Hidden = 16 },
            S2ac = new MeowRobot.Policy.Files.S2acArchitecture
            {
                Hidden = 16, Particles = 4, SvgdSteps = 2, Actor = amortized ? MeowRobot.Policy.Files.S2acActor.Amortized : MeowRobot.Policy.Files.S2acActor.Svgd,
            },
        }, seed: 5).Save(path);
        (int Code, string Out, string Err) Run(params string[] args) =>
            ServiceProcesses.Run("MeowRobot.Trainer", ["policy", "eval", "--weights", path, "--task", "pendulum", "--episodes", "2", "--seed", "3", .. args], NoEnvironment);

        var sampled = Run("--stochastic");
        Assert.True(sampled.Code == 0, $"exit {sampled.Code}: {sampled.Err}");
        Assert.Equal(sampled.Out, Run("--stochastic").Out);
        var deterministic = Run();
        if (algorithm == "s2ac" && !amortized)
        {
            // The SVGD actor has no deterministic action the robot's runtime computes; sampling it needs none.
            Assert.Equal(2, deterministic.Code);
            Assert.Contains("SVGD sampler", deterministic.Err, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(0, deterministic.Code);
            Assert.NotEqual(Mean(deterministic.Out), Mean(sampled.Out));
        }
    }

    [Fact]
    public void A_budget_that_ends_before_learning_starts_is_warned_about_and_the_summary_says_it_never_learned()
    {
        var file = Path.Combine(_dir.FullName, "p.safetensors");
        var (code, stdout, stderr) = ServiceProcesses.Run("MeowRobot.Trainer",
            ["learn", "--task", "pendulum", "--steps", "300", "--learning-starts", "1000", "--eval-episodes", "1", "--quiet", "--save", file], NoEnvironment);
        Assert.Equal(0, code);
        Assert.Contains("ends before learning starts (1000 random-action steps)", stderr, StringComparison.Ordinal);
        Assert.Contains("(UNTRAINED: 0 updates)", stdout, StringComparison.Ordinal);
        Assert.Contains("updates: 0 (never learned: 300 env steps, learning starts at 1000)", stdout, StringComparison.Ordinal);

        var trained = ServiceProcesses.Run("MeowRobot.Trainer",
            ["learn", "--task", "pendulum", "--steps", "300", "--learning-starts", "200", "--envs", "2", "--eval-episodes", "1", "--quiet"], NoEnvironment);
        Assert.Equal(0, trained.Code);
        Assert.DoesNotContain("warning", trained.Err, StringComparison.Ordinal);
        // Learning starts with the vector step that reaches 200 transitions: 51 vector steps of 2 envs, one update per transition.
        Assert.Contains("updates: 102\n", trained.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void The_SVGD_settings_are_S2ACs_and_set_what_the_run_uses()
    {
        var refused = ServiceProcesses.Run("MeowRobot.Trainer", ["learn", "--algo", "sac", "--task", "pendulum", "--steps", "10", "--svgd-lr", "0.05"], NoEnvironment);
        Assert.Equal(2, refused.Code);
        Assert.Contains("--initial-distribution and --actor are S2AC's; sac has no SVGD sampler", refused.Err, StringComparison.Ordinal);

        var dir = Path.Combine(_dir.FullName, "run");
        var run = ServiceProcesses.Run("MeowRobot.Trainer",
            ["learn", "--algo", "s2ac", "--task", "pendulum", "--steps", "20", "--learning-starts", "30", "--random-steps", "40", "--particles", "4",
             "--svgd-steps", "2", "--svgd-lr", "0.05", "--initial-distribution", "fixed", "--actor", "svgd", "--eval-episodes", "1", "--quiet", "--run-dir", dir,
             "--save", Path.Combine(_dir.FullName, "svgd.safetensors")], NoEnvironment);
        Assert.Equal(0, run.Code);
        Assert.Contains("learning_starts: 30 random_steps: 40 ", run.Out, StringComparison.Ordinal);
        Assert.Contains("particles: 4 svgd_steps: 2 svgd_lr: 0.05 initial: fixed, sigma 0.5 amortized: no", run.Out, StringComparison.Ordinal);
        Assert.Equal(MeowRobot.Policy.Files.S2acActor.Svgd, MeowRobot.Policy.Files.PolicyFile.Load(Path.Combine(_dir.FullName, "svgd.safetensors")).Metadata.S2ac.Actor);
        // The run's record keeps S2AC's own settings beside the loop's.
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        var h = config.RootElement.GetProperty("hyperparameters");
        Assert.Equal((40, 4, 2, 0.05), (h.GetProperty("random_steps").GetInt32(), h.GetProperty("particles").GetInt32(), h.GetProperty("svgd_steps").GetInt32(),
            h.GetProperty("svgd_learning_rate").GetDouble()));
        Assert.Equal("Fixed", h.GetProperty("initial_distribution").GetString());
    }
}
