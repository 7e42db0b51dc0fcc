using MeowRobot.Hosting;
using MeowRobot.Hosting.Systemd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeowRobot.Services.Tests;

public sealed class WatchdogTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-watchdog-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A health probe the test flips; it counts the checks it answered unhealthy.</summary>
    private sealed class SwitchableHealth : IServiceHealth
    {
        public volatile bool Healthy = true;
        public readonly SemaphoreSlim UnhealthyChecks = new(0);

        public bool IsHealthy(out string why)
        {
            if (Healthy) { why = ""; return true; }
            why = "loop stuck (test)";
            UnhealthyChecks.Release();
            return false;
        }
    }

    private IHost BuildHost(NotifyListener listener, string watchdogUsec, IServiceHealth? probe)
    {
        var env = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = listener.Address, ["WATCHDOG_USEC"] = watchdogUsec };
        var service = new ServiceDefinition("watchdog-test", "test") { BaseDirectory = _dir.FullName, DefaultSiteConfig = Path.Combine(_dir.FullName, "none.json") };
        var builder = ServiceHostBuilder.Create(service, [], [], k => env.TryGetValue(k, out var v) ? v : null);
        if (probe is not null) builder.Services.AddSingleton(probe);
        return builder.Build();
    }

    private static bool Has(List<string> messages, string message, int count = 1) => messages.Count(m => m == message) >= count;

    [Fact]
    public async Task Pings_go_out_at_half_the_interval_only_while_healthy_and_resume_after_recovery()
    {
        using var listener = new NotifyListener();
        var probe = new SwitchableHealth();
        using var host = BuildHost(listener, watchdogUsec: "40000", probe);

        await host.StartAsync();
        listener.ReceiveUntil(m => Has(m, "READY=1\nSTATUS=running") && Has(m, "WATCHDOG=1", 3), Wait);

        probe.Healthy = false;
        // After two unhealthy checks, any ping from the last healthy check is already queued: drain it.
        Assert.True(await probe.UnhealthyChecks.WaitAsync(Wait));
        Assert.True(await probe.UnhealthyChecks.WaitAsync(Wait));
        var atFlip = listener.Drain();
        Assert.Contains("STATUS=unhealthy, watchdog pings withheld: loop stuck (test)", atFlip);
        for (var i = 0; i < 3; i++) Assert.True(await probe.UnhealthyChecks.WaitAsync(Wait));
        Assert.DoesNotContain("WATCHDOG=1", listener.Drain());

        probe.Healthy = true;
        listener.ReceiveUntil(m => Has(m, "STATUS=healthy again") && Has(m, "WATCHDOG=1"), Wait);

        await host.StopAsync();
        listener.ReceiveUntil(m => Has(m, "STOPPING=1\nSTATUS=stopping"), Wait);
    }

    [Fact]
    public async Task Without_probes_pings_follow_the_process_and_stop_with_it()
    {
        using var listener = new NotifyListener(abstractName: true);
        using var host = BuildHost(listener, watchdogUsec: "40000", probe: null);

        await host.StartAsync();
        listener.ReceiveUntil(m => Has(m, "READY=1\nSTATUS=running") && Has(m, "WATCHDOG=1", 2), Wait);
        await host.StopAsync();

        listener.ReceiveUntil(m => Has(m, "STOPPING=1\nSTATUS=stopping"), Wait);
        // The pinger has ended with the host: no ping can follow a stopped service.
        var pinger = Assert.Single(host.Services.GetServices<IHostedService>().OfType<WatchdogPinger>());
        Assert.True(pinger.ExecuteTask is { IsCompleted: true, IsFaulted: false });
    }
}
