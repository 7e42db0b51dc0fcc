using MeowRobot.Controller;
using MeowRobot.Hosting;
using MeowRobot.Sim;
using MeowRobot.Trainer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MeowRobot.Services.Tests;

/// <summary>The services' hosts built in-process: options bound from every source in order, and bad configurations refused by key.</summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-config-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string File(string name, string json)
    {
        var path = Path.Combine(_dir.FullName, name);
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    /// <summary>The service as deployed, but with appsettings.json and the default site file looked up in the test's temp dir.</summary>
    private ServiceDefinition Local(ServiceDefinition service) =>
        service with { BaseDirectory = _dir.FullName, DefaultSiteConfig = Path.Combine(_dir.FullName, "absent.json") };

    private IHost Build(ServiceDefinition service, Action<HostApplicationBuilder> configure, Dictionary<string, string?>? values = null,
        string[]? configFiles = null, string[]? commandLine = null)
    {
        var builder = ServiceHostBuilder.Create(Local(service), configFiles ?? [], commandLine ?? [], _ => null);
        if (values is not null) builder.Configuration.AddInMemoryCollection(values);
        configure(builder);
        return builder.Build();
    }

    private async Task<string[]> StartFails(ServiceDefinition service, Action<HostApplicationBuilder> configure, Dictionary<string, string?> values)
    {
        using var host = Build(service, configure, values);
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        return [.. e.Failures];
    }

    private Dictionary<string, string?> ValidController(params (string Key, string? Value)[] changes)
    {
        var policy = Path.Combine(_dir.FullName, "pendulum.safetensors");
        if (!System.IO.File.Exists(policy))
            MeowRobot.Policy.Files.PolicyFile.Initialized(new MeowRobot.Policy.Files.PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum" }, seed: 1).Save(policy);
        var values = new Dictionary<string, string?>
        {
            ["Controller:Robot"] = "tcp://127.0.0.1:5601",
            ["Controller:PolicyPath"] = policy,
        };
        foreach (var (k, v) in changes) values[k] = v;
        return values;
    }

    [Fact]
    public async Task A_rate_out_of_range_fails_the_start_naming_the_key_the_reason_and_the_source()
    {
        var failures = await StartFails(ControllerServiceHost.Service, ControllerServiceHost.Configure, ValidController(("Controller:Loop:RateHz", "20000")));

        var failure = Assert.Single(failures);
        Assert.StartsWith("Controller:Loop:RateHz: RateHz must be in [50, 5000]", failure, StringComparison.Ordinal);
        Assert.EndsWith("(value '20000' from in-memory configuration)", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sim_curve_keys_go_together_for_the_controller_and_the_trainer()
    {
        var key = File("sim.key", "# public\n" + MeowRobot.Bridge.Zmq.ZmqCurveKeyPair.Generate().PublicKeyZ85 + "\n");
        var failures = await StartFails(ControllerServiceHost.Service, ControllerServiceHost.Configure, ValidController(("Controller:SimRobot:ServerKeyFile", key)));
        Assert.Contains(failures, f => f.Contains("ServerKeyFile and SecretKeyFile go together", StringComparison.Ordinal));
        failures = await StartFails(MeowRobot.Trainer.TrainerServiceHost.Service, MeowRobot.Trainer.TrainerServiceHost.Configure, new()
        {
            ["Trainer:SimEndpoints:0"] = "tcp://127.0.0.1:5601",
            ["Trainer:RunDir"] = _dir.FullName,
            ["Trainer:SimServerKeyFile"] = key,
        });
        Assert.Contains(failures, f => f.Contains("SimServerKeyFile needs SecretKeyFile", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_misspelled_key_is_refused_with_the_known_keys()
    {
        var failures = await StartFails(ControllerServiceHost.Service, ControllerServiceHost.Configure, ValidController(("Controller:RateHz", "500")));

        var failure = Assert.Single(failures);
        Assert.StartsWith("Controller:RateHz: unknown key (known keys of Controller: PolicyPath, WeightStream, Robot, RobotId, SerialRobot, SimRobot, Telemetry, Loop, MaxTickAge, TeleopPort, Modes, Envelope)",
            failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_keys_are_found_inside_nested_sections_and_array_elements()
    {
        var failures = await StartFails(ControllerServiceHost.Service, ControllerServiceHost.Configure, ValidController(
            ("Controller:Envelope:StateBounds:0:Index", "0"),
            ("Controller:Envelope:StateBounds:0:Minimum", "-1"),
            ("Controller:WeightStream:Endpiont", "tcp://trainer:5700")));

        Assert.Equal(2, failures.Length);
        Assert.Contains(failures, f => f.StartsWith("Controller:Envelope:StateBounds:0:Minimum: unknown key (known keys of Controller:Envelope:StateBounds:0: Index, Min, Max)", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Controller:WeightStream:Endpiont: unknown key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Values_that_do_not_convert_are_reported_one_by_one()
    {
        var failures = await StartFails(ControllerServiceHost.Service, ControllerServiceHost.Configure, ValidController(
            ("Controller:Loop:RateHz", "fast"),
            ("Controller:MaxTickAge", "soon"),
            ("Controller:Envelope:SafeAction", "Freeze")));

        Assert.Equal(3, failures.Length);
        Assert.Contains(failures, f => f.StartsWith("Controller:Loop:RateHz: cannot convert to Double", StringComparison.Ordinal)
            && f.EndsWith("(value 'fast' from in-memory configuration)", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Controller:MaxTickAge: cannot convert to TimeSpan", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Controller:Envelope:SafeAction: cannot convert to one of Zero, Hold, Damped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_rule_on_a_list_points_at_the_list_s_values()
    {
        var failures = await StartFails(ControllerServiceHost.Service, ControllerServiceHost.Configure, ValidController(
            ("Controller:Loop:CpuAffinity:0", "1"), ("Controller:Loop:CpuAffinity:1", "-1")));

        Assert.Equal("Controller:Loop:CpuAffinity: CpuAffinity entries must be in [0, 1024) (value at Controller:Loop:CpuAffinity:0 '1' from in-memory configuration)",
            Assert.Single(failures));
    }

    [Fact]
    public async Task Missing_and_inconsistent_keys_are_all_reported_together_with_how_to_set_them()
    {
        var failures = await StartFails(ControllerServiceHost.Service, ControllerServiceHost.Configure, new()
        {
            ["Controller:WeightStream:Endpoint"] = "tcp://trainer:5700",
            ["Controller:PolicyPath"] = Path.Combine(_dir.FullName, "missing.policy"),
        });

        Assert.Equal(3, failures.Length);
        Assert.Contains(failures, f => f == "Controller:Robot: The Robot field is required. (not set: set Controller:Robot in the configuration file, " +
            "MEOW_Controller__Robot or --Controller:Robot=…)");
        Assert.Contains(failures, f => f.StartsWith($"Controller:PolicyPath: cannot read file '{Path.Combine(_dir.FullName, "missing.policy")}'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Controller:WeightStream:TrainerPublicKeyFile: the trainer's public key file is required", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sim_options_check_the_task_catalogue_and_the_endpoint()
    {
        var failures = await StartFails(SimServiceHost.Service, SimServiceHost.Configure, new()
        {
            ["Sim:Task"] = "pendulumm",
            ["Sim:Bind"] = "tcp://127.0.0.1:70000",
            ["Sim:Envs"] = "0",
            ["Sim:Params:mass"] = "heavy",
        });

        Assert.Equal(4, failures.Length);
        Assert.Contains(failures, f => f.StartsWith("Sim:Params:mass: cannot convert to Double: heavy is not a valid value for Double.", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Sim:Task: unknown task 'pendulumm'; known tasks: pendulum, multigoal, cartpole", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Sim:Bind: 'tcp://127.0.0.1:70000' is not a valid endpoint: port must be 1-65535", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Sim:Envs: The field Envs must be between 1 and 4096.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Trainer_options_name_the_bad_array_element_and_cross_key_rules()
    {
        var failures = await StartFails(TrainerServiceHost.Service, TrainerServiceHost.Configure, new()
        {
            ["Trainer:SimEndpoints:0"] = "tcp://127.0.0.1:5601",
            ["Trainer:SimEndpoints:1"] = "udp://127.0.0.1:5602",
            ["Trainer:RunDir"] = _dir.FullName,
            ["Trainer:CheckpointInterval"] = "00:00:01",
            ["Trainer:PublishEndpoint"] = "tcp://*:5700",
        });

        Assert.Equal(3, failures.Length);
        Assert.Contains(failures, f => f.StartsWith("Trainer:SimEndpoints:1: 'udp://127.0.0.1:5602' is not a valid endpoint", StringComparison.Ordinal)
            && f.EndsWith("(value 'udp://127.0.0.1:5602' from in-memory configuration)", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Trainer:CheckpointInterval: The field CheckpointInterval must be between 00:00:10 and 1.00:00:00.", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Trainer:SecretKeyFile: a CURVE secret key file is required with PublishEndpoint", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Trainer_algorithm_must_be_one_it_trains_and_learner_keys_must_be_that_algorithms()
    {
        var unknown = await StartFails(TrainerServiceHost.Service, TrainerServiceHost.Configure, new()
        {
            ["Trainer:SimEndpoints:0"] = "tcp://127.0.0.1:5601",
            ["Trainer:RunDir"] = _dir.FullName,
            ["Trainer:Algorithm"] = "td3",
        });
        Assert.Contains(unknown, f => f.StartsWith("Trainer:Algorithm: 'td3' is not an algorithm: meow, sac, s2ac", StringComparison.Ordinal));

        var foreign = await StartFails(TrainerServiceHost.Service, TrainerServiceHost.Configure, new()
        {
            ["Trainer:SimEndpoints:0"] = "tcp://127.0.0.1:5601",
            ["Trainer:RunDir"] = _dir.FullName,
            ["Trainer:Algorithm"] = "sac",
            ["Trainer:Learner:FlowLayers"] = "3",
            ["Trainer:Learner:PolicyFrequency"] = "2",
        });
        Assert.Equal("Trainer:Learner:FlowLayers: Learner:FlowLayers is not a setting of algorithm sac", Assert.Single(foreign).Split(" (")[0]);
    }

    [Fact]
    public async Task Sources_apply_in_order_defaults_then_appsettings_then_site_files_then_command_line()
    {
        File("appsettings.json", """{ "Sim": { "Task": "cartpole", "Envs": 2, "Bind": "ipc:///tmp/meow-a" } }""");
        var site = File("site.json", """{ "Sim": { "Envs": 3 } }""");
        var worker = File("worker.json", """{ "Sim": { "Bind": "tcp://127.0.0.1:5609" } }""");

        SimOptions Options(string[] files, string[] commandLine)
        {
            using var host = Build(SimServiceHost.Service, SimServiceHost.Configure, configFiles: files, commandLine: commandLine);
            return host.Services.GetRequiredService<IOptions<SimOptions>>().Value;
        }

        var appsettingsOnly = Options([], []);
        var withSites = Options([site, worker], []);
        var withArgs = Options([site, worker], ["--Sim:Envs=4", "--Sim:Seed=11"]);

        Assert.Equal(("cartpole", 2, "ipc:///tmp/meow-a", (int?)null), (appsettingsOnly.Task, appsettingsOnly.Envs, appsettingsOnly.Bind, appsettingsOnly.Seed));
        Assert.Equal(("cartpole", 3, "tcp://127.0.0.1:5609", (int?)null), (withSites.Task, withSites.Envs, withSites.Bind, withSites.Seed));
        Assert.Equal(("cartpole", 4, "tcp://127.0.0.1:5609", (int?)11), (withArgs.Task, withArgs.Envs, withArgs.Bind, withArgs.Seed));
    }

    [Theory]
    [InlineData("serial:///dev/ttyUSB0", true, true)]
    [InlineData("serial:///dev/serial/by-id/usb-meow-mcu", true, true)]
    [InlineData("serial:///tmp/meow-rehearsal/ptyA", true, true)] // a socat pty link for a sim-to-real rehearsal
    [InlineData("serial://dev/ttyUSB0", true, false)]            // relative
    [InlineData("serial:///", true, false)]
    [InlineData("serial://", true, false)]
    [InlineData("serial:///dev/ttyUSB0", false, false)]          // where only ZeroMQ endpoints make sense
    [InlineData("ipc:///run/meow/sim", true, true)]
    public void Serial_robot_endpoints_name_a_device_by_absolute_path(string endpoint, bool allowSerial, bool valid) =>
        Assert.Equal(valid, Hosting.Configuration.EndpointAttribute.Problem(endpoint, allowSerial) is null);

    [Fact]
    public void A_valid_configuration_builds_the_controller_service_with_the_loop_as_the_watchdogs_health()
    {
        using var host = Build(ControllerServiceHost.Service, ControllerServiceHost.Configure, ValidController(("Controller:Loop:RateHz", "500")));

        Assert.Equal(500, host.Services.GetRequiredService<IOptions<ControllerOptions>>().Value.Loop.RateHz);
        Assert.Single(host.Services.GetServices<IHostedService>().OfType<ControllerService>());
        Assert.IsType<ControlLoopHealth>(Assert.Single(host.Services.GetServices<MeowRobot.Hosting.Systemd.IServiceHealth>()));
    }

    private (int Code, string Out, string Err) Run(ServiceDefinition service, Action<HostApplicationBuilder> configure, string[] files, string[] commandLine, bool check)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = ServiceHostBuilder.Run(Local(service), configure, files, commandLine, check, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Serve_exits_78_on_a_missing_or_malformed_site_file_and_on_stray_arguments()
    {
        var missing = Path.Combine(_dir.FullName, "nope.json");
        var malformed = File("bad.json", """{ "Sim": { "Envs": 3, } """);

        var (code1, _, err1) = Run(SimServiceHost.Service, SimServiceHost.Configure, [missing], [], check: true);
        var (code2, _, err2) = Run(SimServiceHost.Service, SimServiceHost.Configure, [malformed], [], check: true);
        var (code3, _, err3) = Run(SimServiceHost.Service, SimServiceHost.Configure, [], ["--Sim:Envs", "4"], check: true);

        Assert.Equal((78, 78, 78), (code1, code2, code3));
        Assert.Contains(missing, err1, StringComparison.Ordinal);
        Assert.Contains(malformed, err2, StringComparison.Ordinal);
        Assert.Contains("unexpected argument '--Sim:Envs': configuration overrides are written --Section:Key=value", err3, StringComparison.Ordinal);
    }

    [Fact]
    public void Serve_check_prints_the_effective_options_and_exits_0()
    {
        var site = File("sim.json", """{ "Sim": { "Bind": "tcp://127.0.0.1:5611", "Envs": 16 } }""");

        var (code, output, error) = Run(SimServiceHost.Service, SimServiceHost.Configure, [site], ["--Sim:Task=cartpole"], check: true);

        Assert.Equal((0, ""), (code, error));
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var sim = json.RootElement.GetProperty("Sim");
        Assert.Equal(("cartpole", 16, "tcp://127.0.0.1:5611"), (sim.GetProperty("Task").GetString(), sim.GetProperty("Envs").GetInt32(), sim.GetProperty("Bind").GetString()));
    }

    [Fact]
    public void Serve_short_options_set_their_keys_and_an_explicit_key_still_wins()
    {
        var command = ServiceHostBuilder.ServeCommand(Local(SimServiceHost.Service), SimServiceHost.Configure);
        var output = new StringWriter();
        var error = new StringWriter();
        var code = command.Parse(["--task", "pendulum", "--envs", "3", "--bind", "ipc:///tmp/meow-shorthand.sock", "--seed", "9",
            "--param", "mass=1.5", "--param", "damping=0.25", "--Sim:Envs=5", "--check"])
            .Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });

        Assert.True(code == 0, error.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(output.ToString());
        var sim = json.RootElement.GetProperty("Sim");
        Assert.Equal(("pendulum", 5, "ipc:///tmp/meow-shorthand.sock", 9),
            (sim.GetProperty("Task").GetString(), sim.GetProperty("Envs").GetInt32(), sim.GetProperty("Bind").GetString(), sim.GetProperty("Seed").GetInt32()));
        Assert.Equal(1.5, sim.GetProperty("Params").GetProperty("mass").GetDouble());
        Assert.Equal(0.25, sim.GetProperty("Params").GetProperty("damping").GetDouble());

        var refused = command.Parse(["--task", "pendulum", "--bind", "ipc:///tmp/x.sock", "--param", "mass", "--check"])
            .Invoke(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.Equal(ServiceHostBuilder.ConfigurationErrorExitCode, refused);
        Assert.Contains("unexpected argument 'mass'", error.ToString(), StringComparison.Ordinal);
    }
}
