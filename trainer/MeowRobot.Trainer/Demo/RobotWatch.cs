using System.Diagnostics;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Telemetry;

namespace MeowRobot.Trainer.Demo;

/// <summary>One finished episode of the simulated robot, as its controller's telemetry reported it.</summary>
/// <param name="Seconds">Demo time at which the telemetry message carrying it arrived.</param>
internal readonly record struct RobotEpisode(double Seconds, long Episode, double Return, long PolicyVersion);

/// <summary>
/// Subscribes to the controller's telemetry (its own thread: ZeroMQ sockets belong to one) and keeps the newest reading
/// and every robot episode that finished, in order.
/// </summary>
internal sealed class RobotWatch : IDisposable
{
    private readonly string _endpoint;
    private readonly Stopwatch _clock;
    private readonly ZmqContext _context = new();
    private readonly Thread _thread;
    private readonly Lock _gate = new();
    private readonly List<RobotEpisode> _episodes = [];
    private TelemetryReading? _latest;
    private long _messages;
    private volatile bool _stop;

    public RobotWatch(string telemetryEndpoint, Stopwatch clock)
    {
        _endpoint = telemetryEndpoint;
        _clock = clock;
        _thread = new Thread(Listen) { IsBackground = true, Name = "meow-demo-telemetry" };
        _thread.Start();
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

    private void Listen()
    {
        try
        {
            using var sub = _context.CreateSocket(ZmqSocketType.Sub);
            sub.MaxMessageSize = 1 << 20;
            sub.Subscribe(TelemetryWire.TelemetryTopic);
            sub.ReceiveTimeout = TimeSpan.FromMilliseconds(250);
            sub.Connect(_endpoint);
            long seen = 0;
            while (!_stop)
            {
                List<byte[]> frames;
                try
                {
                    frames = sub.ReceiveMultipart();
                }
                catch (TimeoutException)
                {
                    continue;
                }
                if (frames.Count != 2) continue;
                TelemetryReading reading;
                try
                {
                    reading = TelemetryReading.Read(frames[1]);
                }
                catch (MsgPackException)
                {
                    continue;
                }
                Interlocked.Increment(ref _messages);
                lock (_gate)
                {
                    _latest = reading;
                    if (reading.RobotEpisodes > seen && double.IsFinite(reading.RobotLastReturn))
                        _episodes.Add(new RobotEpisode(_clock.Elapsed.TotalSeconds, reading.RobotEpisodes, reading.RobotLastReturn, reading.PolicyVersion));
                    seen = Math.Max(seen, reading.RobotEpisodes);
                }
            }
        }
        catch (ZmqContextTerminatedException)
        {
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        _context.Dispose();
    }
}
