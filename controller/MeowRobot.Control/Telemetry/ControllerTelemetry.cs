using System.Buffers;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.WeightStream;
using MeowRobot.Policy.Bundles;

namespace MeowRobot.Control.Telemetry;

/// <summary>
/// The loop's non-real-time companion: every interval it reads the loop's snapshot, drains and logs the mode transitions,
/// logs bundle outcomes, releases policies the loop let go of, and publishes telemetry over ZeroMQ PUB (MessagePack) when
/// an endpoint is given. Everything that may allocate happens here, never on the loop thread.
/// </summary>
public sealed class ControllerTelemetry : IDisposable
{
    private readonly ControlLoop _loop;
    private readonly string? _endpoint;
    private readonly TimeSpan _interval;
    private readonly Action<string> _log;
    private readonly ZmqContext? _context;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private readonly ManualResetEventSlim _bound = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<BundleOutcome> _outcomes = new();
    private WeightStreamSubscriber? _stream;
    private IEpisodeReturns? _episodes;
    private string? _lastRejection;
    private Exception? _fault;

    /// <param name="publishEndpoint">PUB endpoint to bind (e.g. tcp://127.0.0.1:5580), or null to only log.</param>
    /// <param name="log">Where transitions and bundle outcomes are written (a logger, the console).</param>
    public ControllerTelemetry(ControlLoop loop, string? publishEndpoint, TimeSpan interval, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(loop);
        ArgumentNullException.ThrowIfNull(log);
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval));
        _loop = loop;
        _endpoint = publishEndpoint;
        _interval = interval;
        _log = log;
        if (publishEndpoint is not null) _context = new ZmqContext();
        _thread = new Thread(Run) { IsBackground = true, Name = "meow-telemetry" };
        _thread.Start();
        _bound.Wait();
        if (_fault is not null)
        {
            Dispose();
            throw new InvalidOperationException($"telemetry could not bind {publishEndpoint}: {_fault.Message}", _fault);
        }
    }

    /// <summary>The bound endpoint (port resolved), or null when not publishing.</summary>
    public string? Endpoint { get; private set; }

    /// <summary>Messages published so far.</summary>
    public long Published { get; private set; }

    /// <summary>Includes the weight stream's counters and logs its outcomes (pass <see cref="Report"/> as the subscriber's
    /// report callback) and its refused handshakes: the first per endpoint, then at most one line per 10 s with the count.</summary>
    public void Attach(WeightStreamSubscriber stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        var logged = new Dictionary<string, (long At, long Count)>(StringComparer.Ordinal);   // listener thread only
        stream.HandshakeRefused += r =>
        {
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            logged.TryGetValue(r.Endpoint, out var last);
            var count = last.Count + 1;
            if (last.At != 0 && System.Diagnostics.Stopwatch.GetElapsedTime(last.At, now) < TimeSpan.FromSeconds(10))
            {
                logged[r.Endpoint] = (last.At, count);
                return;
            }
            logged[r.Endpoint] = (now, 0);
            _log($"weight stream handshake refused by {r.Endpoint}: {r.Reason} ({count} since the last report, {stream.HandshakesRefused} in all)");
        };
    }

    /// <summary>Includes a simulated robot's episode count and last return (<c>robot_episodes</c>, <c>robot_last_return</c>).</summary>
    public void Attach(IEpisodeReturns episodes) => _episodes = episodes;

    /// <summary>The subscriber's report callback: queues an outcome for logging on the telemetry thread.</summary>
    public void Report(BundleOutcome outcome) => _outcomes.Enqueue(outcome);

    private void Run()
    {
        ZmqSocket? pub = null;
        try
        {
            if (_context is not null)
            {
                pub = _context.CreateSocket(ZmqSocketType.Pub);
                pub.SendHighWatermark = 100;
                pub.Bind(_endpoint!);
                Endpoint = pub.LastEndpoint;
            }
            _bound.Set();
            var buffer = new ArrayBufferWriter<byte>(1024);
            do
            {
                while (_loop.Transitions.TryDequeue(out var t))
                {
                    _log($"mode {t.From} -> {t.To} ({t.Reason}) at tick {t.Tick}");
                    if (pub is not null)
                    {
                        buffer.ResetWrittenCount();
                        TelemetryWire.EncodeTransition(t, buffer);
                        Send(pub, TelemetryWire.TransitionTopic, buffer.WrittenSpan);
                    }
                }
                while (_outcomes.TryDequeue(out var o))
                {
                    var latency = (o.VerifiedAt - o.ReceivedAt) * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
                    if (o.Verdict == BundleVerdict.Accepted)
                        _log($"bundle v{o.Version} accepted (verified in {latency:F1} ms)");
                    else
                    {
                        _lastRejection = $"{o.Verdict}: {o.Reason}";
                        _log($"bundle v{o.Version} rejected, {o.Verdict}: {o.Reason}");
                    }
                }
                _loop.CollectRetiredPolicy();
                if (pub is not null && _loop.TryReadSnapshot(out var snapshot))
                {
                    var stream = _stream is { } s
                        ? new StreamTelemetry(s.AcceptedVersion, s.Count(BundleVerdict.Accepted), s.Rejected, _lastRejection, s.HandshakesRefused)
                        : default;
                    buffer.ResetWrittenCount();
                    EpisodeTelemetry? episodes = _episodes is { } e ? new EpisodeTelemetry(e.Episodes, e.LastEpisodeReturn) : null;
                    TelemetryWire.EncodeTelemetry(snapshot, stream, episodes, buffer);
                    Send(pub, TelemetryWire.TelemetryTopic, buffer.WrittenSpan);
                }
            } while (!_stop.Wait(_interval));
        }
        catch (ZmqContextTerminatedException)
        {
        }
#pragma warning disable CA1031 // reported through the constructor
        catch (Exception e)
#pragma warning restore CA1031
        {
            _fault = e;
        }
        finally
        {
            pub?.Dispose();
            _bound.Set();
        }
    }

    private void Send(ZmqSocket pub, ReadOnlySpan<byte> topic, ReadOnlySpan<byte> body)
    {
        pub.Send(topic, more: true);
        pub.Send(body);
        Published++;
    }

    public void Dispose()
    {
        _stop.Set();
        if (_thread.IsAlive) _thread.Join();
        _context?.Dispose();
        _stop.Dispose();
        _bound.Dispose();
    }
}
