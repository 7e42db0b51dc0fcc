using System.CommandLine;
using MeowRobot.Hosting;
using MeowRobot.Hosting.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MeowRobot.Hosting.Systemd;

namespace MeowRobot.Controller;

/// <summary>`controller serve`: the on-robot controller as a generic-host service (systemd unit meow-controller.service).</summary>
public static class ControllerServiceHost
{
    public static ServiceDefinition Service { get; } = new("controller", "Run the controller: the policy loop on this robot, inside the safety envelope")
    {
        // Ramping to the safe action takes at most Loop:StopTimeoutSeconds; the unit's TimeoutStopSec= is 15 s.
        ShutdownTimeout = TimeSpan.FromSeconds(5),
        Shorthands =
        [
            new("--robot", "Controller:Robot", "the robot: serial:///dev/PATH, or tcp:// / ipc:// for a simulated robot's sim worker"),
            new("--policy", "Controller:PolicyPath", "policy file to run from the start"),
            new("--trainer", "Controller:WeightStream:Endpoint", "the trainer's bundle stream (tcp://HOST:PORT)"),
            ServeShorthand.Bind("Controller:Telemetry", "where telemetry is published"),
            ServeShorthand.Seed("Controller:SimRobot:Seed", "seed of a simulated robot's first reset"),
        ],
    };

    public static Command ServeCommand() => ServiceHostBuilder.ServeCommand(Service, Configure);

    /// <summary>`keys generate`: this side's CURVE key pair for the weight stream.</summary>
    public static Command KeysCommand() => Hosting.KeysCommand.Create("robot");

    /// <summary>The service's options and workers (tests build the host with it too).</summary>
    public static void Configure(HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddValidatedOptions<ControllerOptions>(builder.Configuration, ControllerOptions.Section);
        builder.Services.AddSingleton<ControllerService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ControllerService>());
        // The systemd watchdog follows the loop: a stuck, starved or failed loop stops the pings.
        builder.Services.AddSingleton<IServiceHealth>(sp => new ControlLoopHealth(() => sp.GetRequiredService<ControllerService>().Loop,
            sp.GetRequiredService<IOptions<ControllerOptions>>().Value.MaxTickAge));
    }
}
