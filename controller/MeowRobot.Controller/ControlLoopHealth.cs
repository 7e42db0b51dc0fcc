using System.Diagnostics;
using MeowRobot.Control.Loop;
using MeowRobot.Hosting.Systemd;

namespace MeowRobot.Controller;

/// <summary>
/// The controller's watchdog probe: healthy while the loop runs and its last tick that met its deadline is recent. A
/// stuck, starved or crashed loop stops the systemd watchdog pings, and systemd restarts the service.
/// </summary>
/// <param name="loop">The running loop; null before it starts.</param>
public sealed class ControlLoopHealth(Func<ControlLoop?> loop, TimeSpan maxTickAge) : IServiceHealth
{
    public bool IsHealthy(out string why)
    {
        var current = loop();
        if (current is null) { why = "control loop not started"; return false; }
        if (current.Fault is { } fault) { why = "control loop failed: " + fault.Message; return false; }
        if (!current.IsRunning) { why = "control loop stopped"; return false; }
        var last = current.LastHealthyTickTimestamp;
        if (last == 0) { why = "no tick has met its deadline yet"; return false; }
        var age = Stopwatch.GetElapsedTime(last);
        if (age > maxTickAge)
        {
            why = $"last tick that met its deadline was {age.TotalMilliseconds:F0} ms ago (limit {maxTickAge.TotalMilliseconds:F0} ms)";
            return false;
        }
        why = "";
        return true;
    }
}
