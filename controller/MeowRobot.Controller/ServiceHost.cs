using System.CommandLine;
using MeowRobot.Hosting;
using MeowRobot.Hosting.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeowRobot.Controller;

/// <summary>`controller serve`: the on-robot controller as a generic-host service (systemd unit meow-controller.service).</summary>
public static class ControllerServiceHost
{
    public static ServiceDefinition Service { get; } = new("controller", "Run the controller: the policy loop on this robot, inside the safety envelope")
    {
        // Ramping to the safe action takes at most Loop:StopTimeoutSeconds; the unit's TimeoutStopSec= is 15 s.
        ShutdownTimeout = TimeSpan.FromSeconds(5),
    };

    public static Command ServeCommand() => ServiceHostBuilder.ServeCommand(Service, Configure);

    /// <summary>`keys generate`: this side's CURVE key pair for the weight stream.</summary>
    public static Command KeysCommand() => Hosting.KeysCommand.Create("robot");

    /// <summary>The service's options and workers (tests build the host with it too).</summary>
    public static void Configure(HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddValidatedOptions<ControllerOptions>(builder.Configuration, ControllerOptions.Section);
        // Service body: replace with the controller service (robot I/O, ControlLoop, weight stream, telemetry), and
        // register ControlLoopHealth as IServiceHealth so the systemd watchdog follows the loop.
        builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<PendingServiceBody>(sp,
            "the control loop service (robot I/O, weight stream, telemetry) is not wired into `controller serve` yet"));
    }
}
