using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;
using MeowRobot.Controller;
using MeowRobot.Hosting;
using MeowRobot.Hosting.Systemd;
using Microsoft.Extensions.DependencyInjection;

namespace MeowRobot.Services.Tests;

/// <summary>The controller's watchdog follows a real control loop: a loop stuck in robot I/O stops the systemd pings.</summary>
public sealed class ControlLoopWatchdogTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-loopdog-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A robot whose observation read can be made to hang, as a broken adapter would (the edge of the test).</summary>
    private sealed class StallingRobot : IRobotIo
    {
        private readonly ManualResetEventSlim _flowing = new(initialState: true);
        public int ObservationSize => 3;
        public int ActionSize => 1;
        public void Stall() => _flowing.Reset();
        public void Release() => _flowing.Set();

        public bool TryReadObservation(Span<float> observation, out long timestamp)
        {
            _flowing.Wait();
            observation.Clear();
            observation[0] = 1;
            timestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            return true;
        }

        public void WriteAction(ReadOnlySpan<float> action) { }

        public void Dispose() => _flowing.Dispose();
    }

    /// <summary>Counts the checks a probe answered unhealthy.</summary>
    private sealed class CountingHealth(IServiceHealth inner) : IServiceHealth
    {
        public readonly SemaphoreSlim UnhealthyChecks = new(0);

        public bool IsHealthy(out string why)
        {
            if (inner.IsHealthy(out why)) return true;
            UnhealthyChecks.Release();
            return false;
        }
    }

    [Fact]
    public async Task A_loop_stuck_in_robot_io_stops_the_pings_and_they_resume_when_it_ticks_again()
    {
        using var robot = new StallingRobot();
        using var loop = new ControlLoop(robot, new ControlLoopOptions { RateHz = 200, WarmupTicks = 0 },
            SafetyEnvelopeOptions.ForBounds([-2f], [2f]), new ModeOptions());
        var probe = new CountingHealth(new ControlLoopHealth(() => loop, TimeSpan.FromMilliseconds(100)));
        using var listener = new NotifyListener();
        var env = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = listener.Address, ["WATCHDOG_USEC"] = "40000" };
        var service = new ServiceDefinition("loop-watchdog-test", "test") { BaseDirectory = _dir.FullName, DefaultSiteConfig = Path.Combine(_dir.FullName, "none.json") };
        var builder = ServiceHostBuilder.Create(service, [], [], k => env.TryGetValue(k, out var v) ? v : null);
        builder.Services.AddSingleton<IServiceHealth>(probe);
        using var host = builder.Build();

        loop.Start();
        await host.StartAsync();
        try
        {
            listener.ReceiveUntil(m => m.Count(x => x == "WATCHDOG=1") >= 3, Wait);

            robot.Stall();
            listener.ReceiveUntil(m => m.Any(x => x.StartsWith("STATUS=unhealthy, watchdog pings withheld: last tick that met its deadline was", StringComparison.Ordinal)), Wait);
            Assert.True(await probe.UnhealthyChecks.WaitAsync(Wait));
            listener.Drain();
            for (var i = 0; i < 3; i++) Assert.True(await probe.UnhealthyChecks.WaitAsync(Wait));
            Assert.DoesNotContain("WATCHDOG=1", listener.Drain());

            robot.Release();
            listener.ReceiveUntil(m => m.Contains("STATUS=healthy again") && m.Contains("WATCHDOG=1"), Wait);

            Assert.True(loop.Stop(Wait));
            listener.ReceiveUntil(m => m.Contains("STATUS=unhealthy, watchdog pings withheld: control loop stopped"), Wait);
        }
        finally
        {
            robot.Release();
            await host.StopAsync();
        }
    }
}
