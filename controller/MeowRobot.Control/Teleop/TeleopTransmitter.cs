using System.Diagnostics;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Serial;

namespace MeowRobot.Control.Teleop;

/// <summary>How the emulated operator moves the sticks when no fixed axes are set.</summary>
public enum AxesPattern
{
    /// <summary>All axes centred.</summary>
    Zero,
    /// <summary>Axis i follows 0.5·sin(2π f t + i·π/2).</summary>
    Sine,
}

public sealed record TeleopTransmitterOptions
{
    /// <summary>Frames per second of each kind (heartbeat, axes, buttons); hobby RC links run 50–150 Hz.</summary>
    public int RateHz { get; init; } = 50;
    public int AxisCount { get; init; } = 1;
    public AxesPattern Pattern { get; init; } = AxesPattern.Sine;
    public double PatternHz { get; init; } = 0.5;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(RateHz, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RateHz, 2000);
        ArgumentOutOfRangeException.ThrowIfLessThan(AxisCount, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(AxisCount, TeleopInput.MaxAxes);
    }
}

/// <summary>
/// Plays an operator device (teleop transmitter) on a serial line: heartbeat, axes and button levels every period.
/// Tests and the fake-device command script it: stop heartbeats (a dead transmitter), hold buttons (override, e-stop,
/// resume), fix the axes.
/// </summary>
public sealed class TeleopTransmitter : SerialDeviceEmulator
{
    private readonly TeleopTransmitterOptions _options;
    private readonly Lock _gate = new();
    private readonly float[] _fixedAxes;
    private bool _axesFixed;
    private int _heartbeats = 1;
    private int _buttons;
    private long _periods;

    public TeleopTransmitter(SerialPortOptions port, TeleopTransmitterOptions? options = null)
        : base(port, "teleop transmitter")
    {
        _options = options ?? new TeleopTransmitterOptions();
        _options.Validate();
        _fixedAxes = new float[_options.AxisCount];
    }

    /// <summary>False: the transmitter keeps sending axes and buttons but no heartbeats (the receiver must call it lost).</summary>
    public bool HeartbeatsEnabled
    {
        get => Volatile.Read(ref _heartbeats) != 0;
        set => Volatile.Write(ref _heartbeats, value ? 1 : 0);
    }

    /// <summary>Buttons held (sent as levels every period).</summary>
    public TeleopButtons Buttons
    {
        get => (TeleopButtons)Volatile.Read(ref _buttons);
        set => Volatile.Write(ref _buttons, (int)value);
    }

    /// <summary>Periods sent so far.</summary>
    public long Periods => Interlocked.Read(ref _periods);

    /// <summary>Holds the axes at fixed values (clamped to [-1, 1]) instead of the pattern.</summary>
    public void SetAxes(ReadOnlySpan<float> axes)
    {
        if (axes.Length != _fixedAxes.Length)
            throw new ArgumentException($"expected {_fixedAxes.Length} axes, got {axes.Length}", nameof(axes));
        lock (_gate)
        {
            for (var i = 0; i < axes.Length; i++)
                _fixedAxes[i] = Math.Clamp(axes[i], -1f, 1f);
            _axesFixed = true;
        }
    }

    /// <summary>Back to the configured pattern.</summary>
    public void ReleaseAxes()
    {
        lock (_gate)
            _axesFixed = false;
    }


    protected override void Run()
    {
        var start = Stopwatch.GetTimestamp();
        var periodTicks = Stopwatch.Frequency / _options.RateHz;
        Span<byte> frame = stackalloc byte[SerialFrame.MaxFrameSize];
        Span<float> axes = stackalloc float[_options.AxisCount];
        byte sequence = 0;
        for (long period = 0; ; period++)
        {
            var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (HeartbeatsEnabled)
                Port.Send(frame[..SerialMessages.WriteHeartbeat(frame, sequence++, (uint)(elapsed * 1000))]);
            FillAxes(axes, elapsed);
            Port.Send(frame[..SerialMessages.WriteAxes(frame, sequence++, axes)]);
            Port.Send(frame[..SerialMessages.WriteButtons(frame, sequence++, Buttons)]);
            Interlocked.Increment(ref _periods);
            var next = start + (period + 1) * periodTicks;
            var waitMs = (int)Math.Max(0, ((next - Stopwatch.GetTimestamp()) * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
            if (Stopping.Wait(waitMs))
                return;
        }
    }

    private void FillAxes(Span<float> axes, double elapsed)
    {
        lock (_gate)
        {
            if (_axesFixed)
            {
                _fixedAxes.CopyTo(axes);
                return;
            }
        }
        for (var i = 0; i < axes.Length; i++)
        {
            axes[i] = _options.Pattern == AxesPattern.Sine
                ? (float)(0.5 * Math.Sin(2 * Math.PI * _options.PatternHz * elapsed + i * Math.PI / 2))
                : 0f;
        }
    }
}
