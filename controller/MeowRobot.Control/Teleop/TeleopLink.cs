using System.Diagnostics;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Serial;

namespace MeowRobot.Control.Teleop;

/// <summary>Operator link settings.</summary>
public sealed record TeleopLinkOptions
{
    /// <summary>The link counts as lost when no heartbeat arrived for this long (PX4's COM_RC_LOSS_T is 0.5 s).</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(0.5);

    internal void Validate() => ArgumentOutOfRangeException.ThrowIfLessThan(HeartbeatTimeout, TimeSpan.FromMilliseconds(10));
}

/// <summary>What happened to the operator link.</summary>
public enum TeleopLinkEventKind
{
    /// <summary>The serial line opened (the transmitter's receiver is plugged in).</summary>
    PortUp,
    /// <summary>The serial line went away (unplugged, hung up).</summary>
    PortDown,
    /// <summary>Heartbeats arrive: the operator device is alive.</summary>
    Alive,
    /// <summary>No heartbeat within the timeout, or the port went down while alive.</summary>
    Lost,
}

public readonly record struct TeleopLinkEvent(TeleopLinkEventKind Kind, long Timestamp, string Detail);

/// <summary>Counters of the operator link (a snapshot).</summary>
public readonly record struct TeleopLinkCounters(
    long Heartbeats, long AxesFrames, long ButtonFrames, long SequenceGaps, long RejectedMessages,
    long UnexpectedTypes, long LinkLosses, SerialFrameErrors FrameErrors);

/// <summary>
/// Reads an operator device (teleop transmitter) over a serial line and publishes what it says to the control loop
/// through a <see cref="TeleopChannel"/>: heartbeats stamp <see cref="TeleopInput.HeartbeatTimestamp"/>, axes and button
/// levels update the rest, and every valid message publishes the whole input. Liveness is judged here too (events for
/// logs and telemetry); when the link is lost the published buttons and axes are cleared, keeping the old heartbeat
/// timestamp, so the loop sees both a stale heartbeat and no held override. Arbitration is the loop's, not ours.
/// </summary>
public sealed class TeleopLink : ISerialLinkHandler, IDisposable
{
    private readonly TeleopChannel _channel;
    private readonly SerialPort _port;
    private readonly SerialFrameParser _parser = new();
    private readonly long _timeoutTicks;
    private TeleopInput _input;          // I/O thread only
    private bool _alive;
    private int _lastSequence = -1;
    private long _heartbeats, _axes, _buttons, _gaps, _rejected, _unexpected, _losses;

    public TeleopLink(SerialPortOptions port, TeleopChannel channel, TeleopLinkOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(channel);
        options ??= new TeleopLinkOptions();
        options.Validate();
        _channel = channel;
        _timeoutTicks = (long)(options.HeartbeatTimeout.TotalSeconds * Stopwatch.Frequency);
        _port = new SerialPort(port, this);
    }

    /// <summary>Raised on the link's I/O thread; handlers must be quick and must not throw.</summary>
    public event Action<TeleopLinkEvent>? Changed;

    public SerialPort Port => _port;

    /// <summary>True while heartbeats arrive within the timeout.</summary>
    public bool IsAlive => Volatile.Read(ref _alive);

    public TeleopLinkCounters Counters => new(
        Volatile.Read(ref _heartbeats), Volatile.Read(ref _axes), Volatile.Read(ref _buttons), Volatile.Read(ref _gaps),
        Volatile.Read(ref _rejected), Volatile.Read(ref _unexpected), Volatile.Read(ref _losses), _parser.Errors);

    public void Start() => _port.Start();

    public void Dispose() => _port.Dispose();

    void ISerialLinkHandler.OnLinkUp()
    {
        _lastSequence = -1;
        Raise(TeleopLinkEventKind.PortUp, Stopwatch.GetTimestamp(), _port.Path);
    }

    void ISerialLinkHandler.OnLinkDown(SerialFault fault)
    {
        _parser.Reset();
        var now = Stopwatch.GetTimestamp();
        Raise(TeleopLinkEventKind.PortDown, now, fault.Message);
        if (_alive)
            Lose(now, "serial port down: " + fault.Message);
    }

    void ISerialLinkHandler.OnIdle(long nowTicks)
    {
        if (_alive && nowTicks - _input.HeartbeatTimestamp > _timeoutTicks)
            Lose(nowTicks, $"no heartbeat for {(nowTicks - _input.HeartbeatTimestamp) * 1000 / Stopwatch.Frequency} ms");
    }

    void ISerialLinkHandler.OnBytes(ReadOnlySpan<byte> data)
    {
        while (_parser.TryRead(ref data, out var frame))
            Accept(frame);
    }

    private void Accept(in SerialFrame frame)
    {
        var error = SerialMessageError.None;
        var now = Stopwatch.GetTimestamp();
        switch (frame.Type)
        {
            case SerialMessageType.Heartbeat:
                error = SerialMessages.ReadHeartbeat(frame, out _);
                if (error == SerialMessageError.None)
                {
                    _input.HeartbeatTimestamp = now;
                    Interlocked.Increment(ref _heartbeats);
                }
                break;
            case SerialMessageType.Axes:
                Span<float> axes = stackalloc float[TeleopInput.MaxAxes];
                error = SerialMessages.ReadAxes(frame, axes, out var count);
                if (error == SerialMessageError.None)
                {
                    axes[..count].CopyTo(_input.Axes);
                    ((Span<float>)_input.Axes)[count..].Clear();
                    _input.AxisCount = count;
                    Interlocked.Increment(ref _axes);
                }
                break;
            case SerialMessageType.Buttons:
                error = SerialMessages.ReadButtons(frame, out var buttons);
                if (error == SerialMessageError.None)
                {
                    _input.Buttons = buttons;
                    Interlocked.Increment(ref _buttons);
                }
                break;
            default:
                Interlocked.Increment(ref _unexpected);
                return;
        }
        if (error != SerialMessageError.None)
        {
            Interlocked.Increment(ref _rejected);
            return;
        }
        if (_lastSequence >= 0)
            Interlocked.Add(ref _gaps, (frame.Sequence - _lastSequence - 1) & 0xFF);
        _lastSequence = frame.Sequence;

        // Until heartbeats flow, nothing the device says may drive the robot.
        if (!_alive && frame.Type == SerialMessageType.Heartbeat)
        {
            Volatile.Write(ref _alive, true);
            Raise(TeleopLinkEventKind.Alive, now, _port.Path);
        }
        if (_alive)
            _channel.Publish(_input);
    }

    private void Lose(long now, string why)
    {
        Volatile.Write(ref _alive, false);
        Interlocked.Increment(ref _losses);
        _input.Buttons = TeleopButtons.None;
        _input.AxisCount = 0;
        ((Span<float>)_input.Axes).Clear();
        _channel.Publish(_input);
        Raise(TeleopLinkEventKind.Lost, now, why);
    }

    private void Raise(TeleopLinkEventKind kind, long now, string detail) => Changed?.Invoke(new(kind, now, detail));
}
