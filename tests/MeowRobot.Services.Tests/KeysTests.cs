using MeowRobot.Controller;
using MeowRobot.Hosting;
using MeowRobot.Testing;
using MeowRobot.Trainer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MeowRobot.Services.Tests;

/// <summary>`keys generate` and the services' checks of the key files they are given.</summary>
public sealed class KeysTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-keys-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string KeyDir => Path.Combine(_dir.FullName, "keys");

    private static string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8);

    private string[] StartFailures(ServiceDefinition service, Action<HostApplicationBuilder> configure, Dictionary<string, string?> values)
    {
        var builder = ServiceHostBuilder.Create(service with { BaseDirectory = _dir.FullName, DefaultSiteConfig = Path.Combine(_dir.FullName, "absent.json") }, [], [], _ => null);
        builder.Configuration.AddInMemoryCollection(values);
        configure(builder);
        using var host = builder.Build();
        try
        {
            host.Services.GetRequiredService<IStartupValidator>().Validate();
            return [];
        }
        catch (OptionsValidationException e)
        {
            return [.. e.Failures];
        }
    }

    private Dictionary<string, string?> Trainer(string secretKeyFile) => new()
    {
        ["Trainer:SimEndpoints:0"] = "tcp://127.0.0.1:5601",
        ["Trainer:RunDir"] = _dir.FullName,
        ["Trainer:PublishEndpoint"] = "tcp://*:5700",
        ["Trainer:SecretKeyFile"] = secretKeyFile,
    };

    [RequiresFact(Requirement.LibZmq)]
    public void Generated_keys_have_tight_modes_are_accepted_by_the_services_and_are_not_overwritten()
    {
        var (code, output, error) = ServiceProcesses.Run("MeowRobot.Trainer", ["keys", "generate", "--out", KeyDir], new Dictionary<string, string>());
        Assert.True(code == 0, error);

        var publicKey = Path.Combine(KeyDir, "trainer.key");
        var secretKey = Path.Combine(KeyDir, "trainer.key_secret");
        Assert.Equal(("700", "644", "600"), (Mode(KeyDir), Mode(publicKey), Mode(secretKey)));
        var z85 = File.ReadAllLines(publicKey).Single(l => !l.StartsWith('#'));
        Assert.Equal($"public key {z85}", output.Split('\n')[0]);
        Assert.Equal(40, z85.Length);

        Assert.Empty(StartFailures(TrainerServiceHost.Service, TrainerServiceHost.Configure, Trainer(secretKey)));
        Assert.Empty(StartFailures(ControllerServiceHost.Service, ControllerServiceHost.Configure, new()
        {
            ["Controller:Robot"] = "tcp://127.0.0.1:5601",
            ["Controller:WeightStream:Endpoint"] = "tcp://trainer:5700",
            ["Controller:WeightStream:TrainerPublicKeyFile"] = publicKey,
        }));

        var before = File.ReadAllText(secretKey);
        var (again, _, refusal) = ServiceProcesses.Run("MeowRobot.Trainer", ["keys", "generate", "--out", KeyDir], new Dictionary<string, string>());
        Assert.Equal(1, again);
        Assert.Contains("exists; keep it, or replace it with --force", refusal, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(secretKey));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_secret_key_open_to_others_or_a_garbled_public_key_fails_the_start()
    {
        var (code, _, error) = ServiceProcesses.Run("MeowRobot.Controller", ["keys", "generate", "--out", KeyDir], new Dictionary<string, string>());
        Assert.True(code == 0, error);
        var secretKey = Path.Combine(KeyDir, "robot.key_secret");
        File.SetUnixFileMode(secretKey, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var garbled = Path.Combine(KeyDir, "trainer.key");
        File.WriteAllText(garbled, "# truncated in transit\nq)IF*dYBGv/jEd?%i.1b=21BOL?lZ26T\n");

        var trainer = Assert.Single(StartFailures(TrainerServiceHost.Service, TrainerServiceHost.Configure, Trainer(secretKey)));
        var controller = Assert.Single(StartFailures(ControllerServiceHost.Service, ControllerServiceHost.Configure, new()
        {
            ["Controller:Robot"] = "tcp://127.0.0.1:5601",
            ["Controller:WeightStream:Endpoint"] = "tcp://trainer:5700",
            ["Controller:WeightStream:TrainerPublicKeyFile"] = garbled,
        }));

        Assert.StartsWith($"Trainer:SecretKeyFile: unusable secret key file: {secretKey}: secret key file is accessible to group/others (mode 644)", trainer, StringComparison.Ordinal);
        Assert.StartsWith($"Controller:WeightStream:TrainerPublicKeyFile: unusable public key file: {garbled}: not a 40-character Z85 key", controller, StringComparison.Ordinal);
    }
}
