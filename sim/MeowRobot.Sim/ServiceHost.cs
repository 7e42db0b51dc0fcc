using System.CommandLine;
using MeowRobot.Hosting;
using MeowRobot.Hosting.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeowRobot.Sim;

/// <summary>`sim serve`: a sim worker as a generic-host service (systemd unit meow-sim@.service).</summary>
public static class SimServiceHost
{
    public static ServiceDefinition Service { get; } = new("sim", "Run a sim worker: N copies of a task behind sim protocol v1")
    {
        // Closing the tasks and the socket is quick.
        ShutdownTimeout = TimeSpan.FromSeconds(10),
        Shorthands =
        [
            ServeShorthand.Task("Sim:Task", "task to serve (./meow sim tasks, docs/tasks.md)"),
            ServeShorthand.Envs("Sim:Envs", "copies of the task stepped per request"),
            ServeShorthand.Bind("Sim:Bind", "endpoint to bind"),
            ServeShorthand.Seed("Sim:Seed", "seed of the first reset"),
            new("--model", "Sim:Model", "MJCF model file of a MuJoCo task"),
            new("--param", "Sim:Params", "randomisable task parameter", ShorthandKind.Named),
            new("--randomise", "Sim:Randomise", "per-episode randomisation, e.g. mass=uniform(0.5, 2) (docs/tasks.md)", ShorthandKind.Named),
        ],
    };

    public static Command ServeCommand() => ServiceHostBuilder.ServeCommand(Service, Configure);

    /// <summary>The service's options and workers (tests build the host with it too).</summary>
    public static void Configure(HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddValidatedOptions<SimOptions>(builder.Configuration, SimOptions.Section);
        builder.Services.AddHostedService<SimWorkerService>();
    }
}
