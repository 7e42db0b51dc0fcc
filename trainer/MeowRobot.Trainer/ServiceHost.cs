using System.CommandLine;
using MeowRobot.Hosting;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Trainer.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeowRobot.Trainer;

/// <summary>`trainer serve`: the trainer as a generic-host service (systemd unit meow-trainer.service).</summary>
public static class TrainerServiceHost
{
    public static ServiceDefinition Service { get; } = new("trainer", "Run the trainer: MEow, SAC or S2AC (Trainer:Algorithm) against the sim workers, publishing weights to robots")
    {
        // The checkpoint on SIGTERM (model, optimiser, replay buffer) needs time; the unit's TimeoutStopSec= is 120 s.
        ShutdownTimeout = TimeSpan.FromSeconds(90),
        Shorthands =
        [
            ServeShorthand.Task("Trainer:Task", "task the sim workers must serve; its preset is resolved before connecting"),
            new("--sim", "Trainer:SimEndpoints", "a sim worker to step (tcp:// or ipc://)", ShorthandKind.Indexed),
            ServeShorthand.Bind("Trainer:PublishEndpoint", "where policy bundles are published to robots"),
            ServeShorthand.Seed("Trainer:Seed", "seed of the learner and the sim resets"),
            new("--run-dir", "Trainer:RunDir", "checkpoints, metrics.csv, TensorBoard events and config.json"),
            new("--steps", "Trainer:TotalEnvSteps", "env steps to train for"),
        ],
    };

    public static Command ServeCommand() => ServiceHostBuilder.ServeCommand(Service, Configure);

    /// <summary>`keys generate`: this side's CURVE key pair for the weight stream.</summary>
    public static Command KeysCommand() => Hosting.KeysCommand.Create("trainer");

    /// <summary>The service's options and workers (tests build the host with it too).</summary>
    public static void Configure(HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // The task's preset is resolved before validation, so that --check shows (and judges) the settings the run will use.
        builder.Services.AddValidatedOptions<TrainerOptions>(builder.Configuration, TrainerOptions.Section).PostConfigure(o => o.ResolvePresets());
        builder.Services.AddSingleton<TrainerService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TrainerService>());
    }
}
