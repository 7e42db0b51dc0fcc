using FsCheck;
using System.Text;
using System.Text.Json;
using FsCheck.Fluent;
using MeowRobot.Testing;
using Xunit.Abstractions;
using MeowRobot.Controller;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Sim;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace MeowRobot.Services.Tests;

/// <summary>
/// Any configuration, however wrong, is either accepted or refused with problems that each name a key of the service's
/// section (line breaks in echoed values are flattened when printed): binding and validation never throw, whatever the keys
/// (real, misspelt, nested, indexed) and values.
/// </summary>
public sealed class ConfigurationFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-config-fuzz-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(300);

    private static readonly string[] Segments =
    [
        "Loop", "RateHz", "CpuAffinity", "RealtimePriority", "Envelope", "ActionLow", "StateBounds", "Index", "Min", "SafeAction",
        "WeightStream", "Endpoint", "TrainerPublicKeyFile", "SecretKeyFile", "SimRobot", "ServerKeyFile", "Robot", "PolicyPath", "MaxTickAge", "Modes", "ArmOnStart",
        "Task", "Envs", "Bind", "Seed", "Model", "Params", "mass", "0", "1", "7", "rateHz", "Typo", "",
    ];

    private static readonly string[] Values =
    [
        "", " ", "0", "-1", "1000", "1e308", "-1e400", "NaN", "Infinity", "2147483648", "00:00:01", "1.00:00:00", "true", "maybe",
        "Damped", "Zero", "tcp://127.0.0.1:5601", "tcp://*:*", "ipc://", "serial:///dev/ttyUSB0", "/etc/hostname", "/nonexistent",
        "pendulum", "cartpole", "\0", "ü\n\t{}", new string('9', 400),
    ];

    private static Gen<Dictionary<string, string?>> Configurations(string section) =>
        Gen.Zip(Gen.Elements(Segments).ArrayOf().Select(s => s.Take(4).ToArray()), Gen.Elements(Values))
            .Select(kv => (Key: string.Join(':', new[] { section }.Concat(kv.Item1)), Value: kv.Item2))
            .ListOf()
            .Select(pairs => pairs.Where(p => p.Key.Length > section.Length).GroupBy(p => p.Key, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => (string?)g.First().Value, StringComparer.OrdinalIgnoreCase));

    private static bool RefusesOrAccepts<TOptions>(string section, Dictionary<string, string?> values) where TOptions : class, new()
    {
        IConfiguration configuration;
        try
        {
            configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        }
        catch (InvalidOperationException)
        {
            return true;   // a key that is both a value and a section: the configuration library's own refusal
        }
        var result = BindAndValidate<TOptions>(section, configuration);
        return result.Succeeded || (result.Failures ?? []).All(f => f.StartsWith(section + ":", StringComparison.Ordinal));
    }

    /// <summary>What a service does with its section before anything opens: bind it, then validate it.</summary>
    private static ValidateOptionsResult BindAndValidate<TOptions>(string section, IConfiguration configuration) where TOptions : class, new()
    {
        var options = new TOptions();
        var problems = OptionsBinding.Bind(configuration, section, options);
        return new AnnotatedOptionsValidator<TOptions>(section, configuration, () => problems).Validate(Options.DefaultName, options);
    }

    [Fact]
    public void Controller_configurations_bind_and_validate_without_throwing() =>
        Check.One(Quick, Prop.ForAll(Configurations("Controller").ToArbitrary(), v => RefusesOrAccepts<ControllerOptions>("Controller", v)));

    [Fact]
    public void Sim_configurations_bind_and_validate_without_throwing() =>
        Check.One(Quick, Prop.ForAll(Configurations("Sim").ToArbitrary(), v => RefusesOrAccepts<SimOptions>("Sim", v)));

    /// <summary>Every file-path key of the three services, set to a path no file can have: refused naming that key.</summary>
    [Theory]
    [InlineData("Controller", "PolicyPath"), InlineData("Controller", "WeightStream:TrainerPublicKeyFile"),
     InlineData("Controller", "WeightStream:SecretKeyFile"), InlineData("Controller", "SimRobot:ServerKeyFile"),
     InlineData("Controller", "SimRobot:SecretKeyFile"), InlineData("Sim", "Model"), InlineData("Sim", "SecretKeyFile"),
     InlineData("Trainer", "SecretKeyFile"), InlineData("Trainer", "SimServerKeyFile"), InlineData("Trainer", "EvalModel"),
     InlineData("Trainer", "ActuatorConfig")]
    public void Unusable_file_paths_are_refused_naming_their_key(string section, string key)
    {
        foreach (var path in new[] { "", "   ", "a\0b" })
        {
            var values = new Dictionary<string, string?> { [$"{section}:{key}"] = path };
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
            var result = section switch
            {
                "Controller" => BindAndValidate<ControllerOptions>(section, configuration),
                "Sim" => BindAndValidate<SimOptions>(section, configuration),
                _ => BindAndValidate<MeowRobot.Trainer.TrainerOptions>(section, configuration),
            };
            Assert.Contains(result.Failures ?? [], f => f.StartsWith($"{section}:{key}", StringComparison.Ordinal));
        }
    }

    /// <summary>Site files as operators write them (docs/operations.md), for the controller and a sim worker.</summary>
    private byte[][] SiteSeeds()
    {
        var policy = Path.Combine(_dir.FullName, "pendulum.safetensors");
        // A small network: every input whose PolicyPath survives the mutations loads it, as serve --check does.
        MeowRobot.Policy.Files.PolicyFile.Initialized(new MeowRobot.Policy.Files.PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum", Hidden = 8, ShiftHidden = 8 }, seed: 1).Save(policy);
        string[] sites =
        [
            $$$"""{"Controller": {"Robot": "tcp://127.0.0.1:5601", "PolicyPath": "{{{policy}}}", "Telemetry": "ipc://{{{_dir.FullName}}}/t", "Loop": {"RateHz": 500, "CpuAffinity": [1]}, "Modes": {"ArmOnStart": true} } }""",
            $$$"""{"Controller": {"Robot": "serial:///dev/ttyUSB0", "PolicyPath": "{{{policy}}}", "SerialRobot": {"ClockDriftAllowance": 0.005}, "Envelope": {"ActionLow": [-2], "ActionHigh": [2], "MaxRatePerSecond": [8], "SafeAction": "Damped", "StateBounds": [{"Index": 2, "Min": -8, "Max": 8}]}, "MaxTickAge": "00:00:00.500"}}""",
            """{"Sim": {"Task": "pendulum", "Envs": 8, "Bind": "tcp://127.0.0.1:5601", "Seed": 3, "Params": {"mass": 1.5, "action_delay": 2}}}""",
        ];
        return [.. sites.Select(Encoding.UTF8.GetBytes)];
    }

    /// <summary>What `serve` does with a site file: parse the JSON (a malformed one is refused with FormatException/JsonException,
    /// which `serve` reports with exit 78), bind the section and validate it; true when the options are valid.</summary>
    private static bool LoadsBindsAndValidates(byte[] site)
    {
        IConfiguration configuration;
        try
        {
            configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(site)).Build();
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            return false;
        }
        return Validates<ControllerOptions>("Controller", configuration) & Validates<SimOptions>("Sim", configuration);
    }

    private static bool Validates<TOptions>(string section, IConfiguration configuration) where TOptions : class, new()
    {
        if (!configuration.GetSection(section).Exists()) return true;
        var result = BindAndValidate<TOptions>(section, configuration);
        Assert.True(result.Succeeded || (result.Failures ?? []).All(f => f.StartsWith(section + ":", StringComparison.Ordinal)));
        return result.Succeeded;
    }

    /// <summary>
    /// Mutated site files through the JSON reader, binding and validation: refused with a typed error or accepted, no
    /// other exception, no hang. The suite runs 3,000; MEOW_FUZZ_INPUTS=1000000 is the benchmark (docs/benchmarks.md).
    /// </summary>
    [Fact]
    public void Mutated_site_files_are_refused_with_a_typed_error_or_accepted()
    {
        var result = MutationFuzz.Run(SiteSeeds(), MutationFuzz.Inputs(3_000), seed: 18, LoadsBindsAndValidates, n => 4096L * n + (4 << 20));
        output.WriteLine("site files: " + result);
        Assert.True(result.Accepted > 0 && result.Rejected > 0, "the mutations reach both outcomes");
    }
}
