using FsCheck;
using FsCheck.Fluent;
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
public sealed class ConfigurationFuzzTests
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(300);

    private static readonly string[] Segments =
    [
        "Loop", "RateHz", "CpuAffinity", "RealtimePriority", "Envelope", "ActionLow", "StateBounds", "Index", "Min", "SafeAction",
        "WeightStream", "Endpoint", "TrainerPublicKeyFile", "Robot", "PolicyPath", "MaxTickAge", "Modes", "ArmOnStart",
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
        var options = new TOptions();
        var problems = OptionsBinding.Bind(configuration, section, options);
        var result = new AnnotatedOptionsValidator<TOptions>(section, configuration, () => problems).Validate(Options.DefaultName, options);
        return result.Succeeded || (result.Failures ?? []).All(f => f.StartsWith(section + ":", StringComparison.Ordinal));
    }

    [Fact]
    public void Controller_configurations_bind_and_validate_without_throwing() =>
        Check.One(Quick, Prop.ForAll(Configurations("Controller").ToArbitrary(), v => RefusesOrAccepts<ControllerOptions>("Controller", v)));

    [Fact]
    public void Sim_configurations_bind_and_validate_without_throwing() =>
        Check.One(Quick, Prop.ForAll(Configurations("Sim").ToArbitrary(), v => RefusesOrAccepts<SimOptions>("Sim", v)));
}
