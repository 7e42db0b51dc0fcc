using MeowRobot.Hosting.Systemd;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeowRobot.Hosting;

/// <summary>
/// Stands in for a service body that is not wired into <c>serve</c> yet: the configuration has been validated, and the
/// service says in its log and in STATUS= exactly what is missing, then idles until stopped. It does no work and
/// claims none.
/// </summary>
public sealed partial class PendingServiceBody(string missing, SystemdNotifier notifier, ILogger<PendingServiceBody> logger) : BackgroundService
{
    /// <summary>What is not wired yet, in one line.</summary>
    public string Missing { get; } = missing;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogPending(logger, Missing);
        notifier.Status("NOT WIRED: " + Missing);
        return Task.Delay(Timeout.Infinite, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [LoggerMessage(1, LogLevel.Warning, "NOT WIRED: {Missing}; the configuration is valid, but this service does nothing until stopped")]
    private static partial void LogPending(ILogger logger, string missing);
}
