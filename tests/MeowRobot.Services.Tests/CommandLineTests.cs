using System.CommandLine;
using System.Text.Json;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Controller;
using MeowRobot.Hosting;
using MeowRobot.Learner;
using MeowRobot.Sim;
using MeowRobot.Testing;
using MeowRobot.Trainer;
using MeowRobot.Trainer.Service;

namespace MeowRobot.Services.Tests;

/// <summary>One CLI: the shorthands every service shares, presets resolved for --check, usage lines, `sim tasks`, `policy query --output -`.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-cli-");

    public void Dispose() => _dir.Delete(recursive: true);

    private ServiceDefinition Local(ServiceDefinition service) =>
        service with { BaseDirectory = _dir.FullName, DefaultSiteConfig = Path.Combine(_dir.FullName, "absent.json") };

    private (int Code, JsonElement? Json, string Error) Check(ServiceDefinition service, Action<Microsoft.Extensions.Hosting.HostApplicationBuilder> configure, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = ServiceHostBuilder.ServeCommand(Local(service), configure).Parse([.. args, "--check"])
            .Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, code == 0 ? JsonDocument.Parse(output.ToString()).RootElement.Clone() : null, error.ToString());
    }

    private string Keys(string name)
    {
        var keys = ZmqCurveKeyPair.Generate();
        var secret = Path.Combine(_dir.FullName, name + ".key_secret");
        keys.Save(secret, Path.Combine(_dir.FullName, name + ".key"));
        return secret;
    }

    [Fact]
    public void Every_service_takes_the_shared_shorthands_where_they_mean_something()
    {
        string[] Options(ServiceDefinition s) => [.. ServiceHostBuilder.ServeCommand(s, _ => { }).Options.Select(o => o.Name)];
        // --config on all; --task, --bind and --seed wherever the service has a task, an endpoint it binds, a seed.
        Assert.Subset(Options(SimServiceHost.Service).ToHashSet(), new HashSet<string> { "--config", "--task", "--envs", "--bind", "--seed" });
        Assert.Subset(Options(TrainerServiceHost.Service).ToHashSet(), new HashSet<string> { "--config", "--task", "--bind", "--seed" });
        Assert.Subset(Options(ControllerServiceHost.Service).ToHashSet(), new HashSet<string> { "--config", "--bind", "--seed" });
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Trainer_serve_shorthands_set_their_keys_and_check_shows_the_tasks_preset_resolved()
    {
        var secret = Keys("trainer");
        var (code, json, error) = Check(TrainerServiceHost.Service, TrainerServiceHost.Configure,
            "--task", "hopper", "--sim", "tcp://127.0.0.1:5601", "--sim", "ipc:///tmp/meow-cli-b.sock", "--bind", "tcp://127.0.0.1:5700",
            "--seed", "42", "--run-dir", "/tmp/meow-cli-run", "--steps", "5000", "--Trainer:SecretKeyFile=" + secret, "--Trainer:Learner:Tau=0.01");

        Assert.True(code == 0, error);
        var t = json!.Value.GetProperty("Trainer");
        Assert.Equal(["tcp://127.0.0.1:5601", "ipc:///tmp/meow-cli-b.sock"], t.GetProperty("SimEndpoints").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(("hopper", "tcp://127.0.0.1:5700", 42, "/tmp/meow-cli-run", 5000L),
            (t.GetProperty("Task").GetString(), t.GetProperty("PublishEndpoint").GetString(), t.GetProperty("Seed").GetInt32(),
             t.GetProperty("RunDir").GetString(), t.GetProperty("TotalEnvSteps").GetInt64()));
        // Hopper's preset (what the learner will use), the explicit override on top, nothing left null.
        var preset = AlgorithmSetup.For(MeowRobot.Policy.Files.PolicyAlgorithm.Meow, "hopper", 11, 3);
        var learner = t.GetProperty("Learner");
        Assert.Equal(preset.Flow!.Alpha, learner.GetProperty("Alpha").GetSingle());
        Assert.Equal(preset.Loop.LearningStarts, learner.GetProperty("LearningStarts").GetInt32());
        Assert.Equal(0.01f, learner.GetProperty("Tau").GetSingle());
        // Every key MEow has is resolved; SAC's own keys stay unset (a MEow run refuses them).
        foreach (var key in new[] { "Alpha", "Gamma", "Tau", "LearningRate", "GradClip", "BatchSize", "BufferCapacity", "LearningStarts", "UpdatesPerTransition",
                     "Hidden", "HiddenLayers", "FlowLayers", "ShiftHidden", "LayerNorm", "Dropout", "SigmaMin", "SigmaMax", "NormalizeObservations", "Threads" })
            Assert.NotEqual(JsonValueKind.Null, learner.GetProperty(key).ValueKind);
        Assert.Equal(JsonValueKind.Null, learner.GetProperty("PolicyLearningRate").ValueKind);
        Assert.Equal(preset.Loop.EvalEvery, t.GetProperty("EvalEvery").GetInt32());
    }

    [Fact]
    public void Trainer_check_judges_an_override_against_the_tasks_preset()
    {
        // Pendulum's preset has SigmaMax −0.3: a SigmaMin above it is refused before anything connects.
        var (code, _, error) = Check(TrainerServiceHost.Service, TrainerServiceHost.Configure,
            "--task", "pendulum", "--sim", "tcp://127.0.0.1:5601", "--run-dir", "/tmp/meow-cli-run", "--Trainer:Learner:SigmaMin=0");

        Assert.Equal(ServiceHostBuilder.ConfigurationErrorExitCode, code);
        Assert.Contains("SigmaMin 0 must be below SigmaMax -0.3", error, StringComparison.Ordinal);
    }

    [RequiresFact(Requirement.LibZmq)]
    public async Task A_trainer_whose_workers_serve_another_task_than_Trainer_Task_refuses_to_start()
    {
        using var rig = new TrainerRig();
        using var host = rig.Host(rig.Settings(400, ("Trainer:Task", "cartpole")));

        var e = await Assert.ThrowsAsync<TrainerSetupException>(() => host.StartAsync());

        Assert.Contains("Trainer:Task is 'cartpole' but the sim workers at " + rig.SimEndpoint + " serve 'pendulum'", e.Message, StringComparison.Ordinal);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Controller_serve_shorthands_set_their_keys()
    {
        Keys("trainer");
        var (code, json, error) = Check(ControllerServiceHost.Service, ControllerServiceHost.Configure,
            "--robot", "ipc:///tmp/meow-cli-robot.sock", "--trainer", "tcp://127.0.0.1:5700", "--bind", "tcp://127.0.0.1:5899", "--seed", "3",
            "--Controller:WeightStream:TrainerPublicKeyFile=" + Path.Combine(_dir.FullName, "trainer.key"));

        Assert.True(code == 0, error);
        var c = json!.Value.GetProperty("Controller");
        Assert.Equal(("ipc:///tmp/meow-cli-robot.sock", "tcp://127.0.0.1:5700", "tcp://127.0.0.1:5899", 3),
            (c.GetProperty("Robot").GetString(), c.GetProperty("WeightStream").GetProperty("Endpoint").GetString(),
             c.GetProperty("Telemetry").GetString(), c.GetProperty("SimRobot").GetProperty("Seed").GetInt32()));
    }

    [Theory]
    [InlineData("MeowRobot.Trainer", "trainer")]
    [InlineData("MeowRobot.Controller", "controller")]
    [InlineData("MeowRobot.Sim", "sim")]
    public void Usage_lines_name_the_command_as_meow_runs_it(string project, string service)
    {
        var (code, output, error) = ServiceProcesses.Run(project, ["serve", "--help"],
            new Dictionary<string, string> { [CommandLineApp.InvokedAsVariable] = "./meow " + service });

        Assert.True(code == 0, error);
        Assert.Contains($"Usage:\n  ./meow {service} serve [options]", output, StringComparison.Ordinal);
        Assert.DoesNotContain(project + " ", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Sim_tasks_lists_every_task_with_its_sizes_and_parameters()
    {
        var output = new StringWriter();
        Assert.Equal(0, TasksCommand.List(null, output));
        var text = output.ToString();

        foreach (var entry in MeowRobot.Tasks.TaskCatalog.All) Assert.Contains(entry.Name + " — " + entry.Summary, text, StringComparison.Ordinal);
        using var pendulum = MeowRobot.Tasks.TaskCatalog.Create("pendulum");
        Assert.Contains("pendulum — ", text, StringComparison.Ordinal);
        Assert.Contains($"  obs {pendulum.Spec.ObsDim}, act {pendulum.Spec.ActDim} in [-2]..[2], episodes of 200 steps", text, StringComparison.Ordinal);
        foreach (var p in pendulum.Parameters) Assert.Contains($"  --param {p.Name}=X  default ", text, StringComparison.Ordinal);
        Assert.Contains("hopper — MuJoCo Hopper-v4\n  MuJoCo: serve with --model PATH.xml", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Policy_query_with_output_dash_writes_the_result_to_standard_output()
    {
        var policy = new FlowPolicy(new FlowShape { ObsDim = 3, ActDim = 1, Hidden = 8, ShiftHidden = 8 }, new Rng(2));
        var weights = Path.Combine(_dir.FullName, "policy.safetensors");
        policy.ToFile().Save(weights);
        var input = Path.Combine(_dir.FullName, "in.json");
        File.WriteAllText(input, """{"obs": [[1, 0, 0.5], [0, 1, -2]]}""");
        var file = Path.Combine(_dir.FullName, "out.json");

        var toFile = ServiceProcesses.Run("MeowRobot.Trainer", ["policy", "query", "--weights", weights, "--input", input, "--output", file], new Dictionary<string, string>());
        var toStdout = ServiceProcesses.Run("MeowRobot.Trainer", ["policy", "query", "--weights", weights, "--input", input, "--output", "-"], new Dictionary<string, string>());

        Assert.Equal((0, 0), (toFile.Code, toStdout.Code));
        Assert.Equal(File.ReadAllText(file) + "\n", toStdout.Out);
        Assert.Equal(2, JsonDocument.Parse(toStdout.Out).RootElement.GetProperty("action").GetArrayLength());
    }

    [RequiresFact(Requirement.LibMuJoCo, Requirement.MuJoCoModels)]
    public void A_tool_that_lacks_a_native_library_exits_69_with_one_line_naming_the_Debian_package()
    {
        // The trainer's build output without the MuJoCo accessor, as on a machine built before libmujoco-dev was there.
        var built = Path.GetDirectoryName(ServiceProcesses.Executable("MeowRobot.Trainer"))!;
        var copy = Path.Combine(_dir.FullName, "trainer");
        foreach (var file in Directory.EnumerateFiles(built, "*", SearchOption.AllDirectories))
        {
            if (Path.GetFileName(file) == "libmeow_mujoco.so") continue;
            var target = Path.Combine(copy, Path.GetRelativePath(built, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        var (code, _, error) = ServiceProcesses.RunAt(Path.Combine(copy, "MeowRobot.Trainer"),
            ["learn", "--task", "hopper", "--model", SharedMaterial.MuJoCoModel("hopper"), "--steps", "10", "--run-dir", Path.Combine(_dir.FullName, "run"), "--quiet"],
            new Dictionary<string, string>());

        Assert.Equal(CommandLineApp.MissingLibraryExitCode, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("'libmujoco-dev'", line, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unexpected_exception_still_exits_1_with_its_trace_and_a_cancelled_command_says_nothing()
    {
        var crash = new StringWriter();
        var cancelled = new StringWriter();

        Assert.Equal(1, CommandLineApp.Report(new TypeInitializationException("X", new InvalidOperationException("boom")), crash));
        Assert.Equal(1, CommandLineApp.Report(new OperationCanceledException(), cancelled));

        Assert.StartsWith("Unhandled exception: System.TypeInitializationException", crash.ToString(), StringComparison.Ordinal);
        Assert.Contains("boom", crash.ToString(), StringComparison.Ordinal);
        Assert.Equal("", cancelled.ToString());
    }
}
