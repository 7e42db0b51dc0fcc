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
    public static ServiceDefinition Service { get; } = new("trainer", "Run the trainer: MEow against the sim workers, publishing weights to robots")
    {
        // The checkpoint on SIGTERM (model, optimiser, replay buffer) needs time; the unit's TimeoutStopSec= is 120 s.
        ShutdownTimeout = TimeSpan.FromSeconds(90),
    };

    public static Command ServeCommand() => ServiceHostBuilder.ServeCommand(Service, Configure);

    /// <summary>`keys generate`: this side's CURVE key pair for the weight stream.</summary>
    public static Command KeysCommand() => Hosting.KeysCommand.Create("trainer");

    /// <summary>The service's options and workers (tests build the host with it too).</summary>
    public static void Configure(HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddValidatedOptions<TrainerOptions>(builder.Configuration, TrainerOptions.Section);
        builder.Services.AddSingleton<TrainerService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TrainerService>());
    }
}
