namespace MeowRobot.Hosting.Systemd;

/// <summary>
/// A liveness probe behind the systemd watchdog: pings go out only while every registered probe is healthy, so a stuck
/// part (e.g. a control loop whose last good tick is too old) stops them and systemd restarts the service.
/// Called from the watchdog pinger's thread: implementations read state the owner publishes (a timestamp, a flag)
/// and must not block.
/// </summary>
public interface IServiceHealth
{
    /// <summary>True when healthy; otherwise <paramref name="why"/> says what is wrong, in one line.</summary>
    bool IsHealthy(out string why);
}
