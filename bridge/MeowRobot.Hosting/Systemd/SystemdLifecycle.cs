using Microsoft.Extensions.Hosting;

namespace MeowRobot.Hosting.Systemd;

/// <summary>
/// READY=1 once every hosted service has started (so services do their slow setup in StartAsync: load policies,
/// bind sockets), STOPPING=1 as soon as a stop begins (SIGTERM, a failed service, StopApplication).
/// </summary>
public sealed class SystemdLifecycle(SystemdNotifier notifier, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => notifier.Ready("running"));
        lifetime.ApplicationStopping.Register(() => notifier.Stopping("stopping"));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
