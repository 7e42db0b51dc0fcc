using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeowRobot.Hosting.Systemd;

/// <summary>
/// Sends WATCHDOG=1 every half WatchdogSec= while every <see cref="IServiceHealth"/> says healthy. When one says
/// otherwise the pings stop (systemd then kills and, with Restart=, restarts the service) and the reason goes to the
/// log and to STATUS=. Does nothing when the watchdog is not meant for this process.
/// </summary>
public sealed partial class WatchdogPinger(SystemdNotifier notifier, IEnumerable<IServiceHealth> probes, IHostApplicationLifetime lifetime,
    ILogger<WatchdogPinger> logger) : BackgroundService
{
    private readonly IServiceHealth[] _probes = probes.ToArray();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!notifier.IsEnabled || notifier.WatchdogInterval is not { } interval) return;
        // Probes judge running services: start checking once every service has started (READY=1 goes out then too).
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
        var period = interval / 2;
        LogEnabled(logger, interval.TotalMilliseconds, period.TotalMilliseconds, _probes.Length);
        string? lastProblem = null;
        using var timer = new PeriodicTimer(period);
        do
        {
            if (Check(out var why))
            {
                notifier.Watchdog();
                if (lastProblem is not null)
                {
                    LogRecovered(logger, lastProblem);
                    notifier.Status("healthy again");
                    lastProblem = null;
                }
            }
            else if (why != lastProblem)
            {
                LogUnhealthy(logger, why);
                notifier.Status("unhealthy, watchdog pings withheld: " + why);
                lastProblem = why;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private bool Check(out string why)
    {
        foreach (var probe in _probes)
        {
            if (!probe.IsHealthy(out why)) return false;
        }
        why = "";
        return true;
    }

    [LoggerMessage(1, LogLevel.Information, "systemd watchdog: WatchdogSec={IntervalMs} ms, pinging every {PeriodMs} ms while {Probes} health probe(s) are healthy")]
    private static partial void LogEnabled(ILogger logger, double intervalMs, double periodMs, int probes);

    [LoggerMessage(2, LogLevel.Error, "unhealthy, withholding systemd watchdog pings: {Why}")]
    private static partial void LogUnhealthy(ILogger logger, string why);

    [LoggerMessage(3, LogLevel.Information, "healthy again (was: {Why}), systemd watchdog pings resumed")]
    private static partial void LogRecovered(ILogger logger, string why);
}
