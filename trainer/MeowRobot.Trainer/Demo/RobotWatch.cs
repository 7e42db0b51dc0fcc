using System.Diagnostics;
using MeowRobot.Control.Telemetry;

namespace MeowRobot.Trainer.Demo;

/// <summary>One finished episode of the simulated robot, as its controller's telemetry reported it.</summary>
/// <param name="Seconds">Demo time at which the telemetry message carrying it arrived.</param>
internal readonly record struct RobotEpisode(double Seconds, long Episode, double Return, long PolicyVersion);

/// <summary>
/// Subscribes to the controller's telemetry and keeps the newest reading
/// and every robot episode that finished, in order.
/// </summary>
internal sealed class RobotWatch : IDisposable
{
    private readonly Stopwatch _clock;
    private readonly TelemetrySubscription _subscription;
    private readonly Lock _gate = new();
    private readonly List<RobotEpisode> _episodes = [];
    private TelemetryReading? _latest;
    private long _messages;
    private long _seen;

    public RobotWatch(string telemetryEndpoint, Stopwatch clock)
    {
        _clock = clock;
        _subscription = new TelemetrySubscription(telemetryEndpoint, (_, body) => OnTelemetry(body), TelemetryWire.TelemetryTopic.ToArray());
    }

    public long Messages => Interlocked.Read(ref _messages);

    public TelemetryReading? Latest
    {
        get { lock (_gate) return _latest; }
    }

    public IReadOnlyList<RobotEpisode> Episodes
    {
        get { lock (_gate) return [.. _episodes]; }
    }

    private void OnTelemetry(byte[] body)
    {
        var reading = TelemetryReading.Read(body);
        Interlocked.Increment(ref _messages);
        lock (_gate)
        {
            _latest = reading;
            if (reading.RobotEpisodes > _seen && double.IsFinite(reading.RobotLastReturn))
                _episodes.Add(new RobotEpisode(_clock.Elapsed.TotalSeconds, reading.RobotEpisodes, reading.RobotLastReturn, reading.PolicyVersion));
            _seen = Math.Max(_seen, reading.RobotEpisodes);
        }
    }

    public void Dispose() => _subscription.Dispose();
}
