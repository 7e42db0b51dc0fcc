using MeowRobot.Bridge.MessagePack;
using MeowRobot.Bridge.Zmq;

namespace MeowRobot.Control.Telemetry;

/// <summary>
/// A reader of one controller's telemetry PUB (docs/protocol.md): a SUB socket on its own thread (ZeroMQ sockets belong
/// to one) handing every two-frame message of the given topics to <c>receive</c>(topic, body), there. A body the callback
/// cannot decode (<see cref="MsgPackException"/>) is skipped: whoever can publish there is not trusted to be well-formed.
/// Reconnects by itself (a controller that restarts on the same endpoint is heard again).
/// </summary>
public sealed class TelemetrySubscription : IDisposable
{
    private readonly ZmqContext _context = new();
    private readonly Thread _thread;
    private volatile bool _stop;

    public TelemetrySubscription(string endpoint, Action<byte[], byte[]> receive, params byte[][] topics)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(receive);
        ArgumentNullException.ThrowIfNull(topics);
        Endpoint = endpoint;
        _thread = new Thread(() => Listen(receive, topics)) { IsBackground = true, Name = "meow-telemetry-reader" };
        _thread.Start();
    }

    public string Endpoint { get; }

    private void Listen(Action<byte[], byte[]> receive, byte[][] topics)
    {
        try
        {
            using var sub = _context.CreateSocket(ZmqSocketType.Sub);
            sub.MaxMessageSize = 1 << 20;
            foreach (var t in topics) sub.Subscribe(t);
            sub.ReceiveTimeout = TimeSpan.FromMilliseconds(100);
            sub.Connect(Endpoint);
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
                try
                {
                    receive(frames[0], frames[1]);
                }
                catch (MsgPackException)
                {
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
