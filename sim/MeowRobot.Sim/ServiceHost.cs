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
            new("--task", "Sim:Task", "task to serve (docs/tasks.md)"),
            new("--envs", "Sim:Envs", "copies of the task stepped per request"),
            new("--bind", "Sim:Bind", "endpoint to bind: tcp://HOST:PORT or ipc://PATH"),
            new("--seed", "Sim:Seed", "seed of the first reset"),
            new("--model", "Sim:Model", "MJCF model file of a MuJoCo task"),
            new("--param", "Sim:Params", "randomisable task parameter", Named: true),
            new("--randomise", "Sim:Randomise", "per-episode randomisation, e.g. mass=uniform(0.5, 2) (docs/tasks.md)", Named: true),
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
