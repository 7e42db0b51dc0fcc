using System.Diagnostics;
using MeowRobot.Control.Handoff;
using MeowRobot.Control.RobotIo;

namespace MeowRobot.Control.Serial;

/// <summary>Counters of the robot link (a snapshot).</summary>
public readonly record struct SerialRobotCounters(
    long SensorFrames, long SequenceGaps, long StaleFrames, long McuRestarts, long RejectedMessages, long UnexpectedTypes,
    SerialFrameErrors FrameErrors, SerialPortCounters Port);

/// <summary>
/// <see cref="IRobotIo"/> over a serial line to a microcontroller: it streams sensor frames (MCU microseconds and the
/// observation), we send one actuator frame per <see cref="WriteAction"/>. Observations reach the loop through a
/// <see cref="LatestValue{T}"/>, stamped with the host time at which the MCU <em>sampled</em> them (its clock mapped onto
/// ours by the smallest observed delay), so frames that sat in a buffer arrive already old; frames whose MCU time does not
/// advance are dropped as stale; missing sequence numbers are counted. A silent or unplugged MCU therefore shows up to the
/// loop as an ageing timestamp, which its staleness check turns into "policy unhealthy".
/// <para>The mapping follows an MCU clock that runs slow by up to the drift allowance: the estimated delay may rise by
/// that fraction of the MCU time that passed. A clock slower than that ages the observations until they are stale; once
/// it is back within the allowance, the estimate catches up at the allowance's rate and the observations are fresh again
/// (a lag of L seconds is gone after L / allowance seconds).</para>
/// </summary>
public sealed class SerialRobot : IRobotIo, ISerialLinkHandler
{
    /// <summary>The default drift allowance: 0.5 %, what a ceramic resonator (the usual MCU clock) may be off by;
    /// a crystal is within 0.01 %.</summary>
    public const double DefaultClockDriftAllowance = 0.005;
    /// <summary>Largest drift allowance: beyond 10 % the MCU's timestamps say little about the age of a reading.</summary>
    public const double MaxClockDriftAllowance = 0.1;
    /// <summary>An MCU clock jump backwards by more than this means it restarted.</summary>
    private const long RestartMicros = 1_000_000;

    private readonly SerialPort _port;
    private readonly SerialFrameParser _parser = new();
    private readonly LatestValue<float> _observations;
    private readonly float[] _scratch;
    private readonly double _ticksPerMicro = Stopwatch.Frequency / 1e6;
    private readonly double _driftAllowance;
    private byte _sendSequence;

    // I/O thread state.
    private bool _synced;
    private int _lastSequence;
    private uint _lastMcu;
    private long _mcuMicros;       // unwrapped MCU clock
    private double _offsetTicks;   // host ticks = MCU micros × ticksPerMicro + offset
    private long _sensorFrames, _gaps, _stale, _restarts, _rejected, _unexpected;

    /// <param name="clockDriftAllowance">How much slower than ours the MCU's clock may run (a fraction; see the class notes).</param>
    public SerialRobot(SerialPortOptions port, int observationSize, int actionSize, double clockDriftAllowance = DefaultClockDriftAllowance)
    {
        if (!(clockDriftAllowance > 0 && clockDriftAllowance <= MaxClockDriftAllowance))
            throw new ArgumentOutOfRangeException(nameof(clockDriftAllowance), clockDriftAllowance, $"the clock drift allowance must lie in (0, {MaxClockDriftAllowance}]");
        _driftAllowance = clockDriftAllowance;
        ArgumentOutOfRangeException.ThrowIfLessThan(observationSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(observationSize, SerialMessages.MaxStampedFloats);
        ArgumentOutOfRangeException.ThrowIfLessThan(actionSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(actionSize, SerialMessages.MaxFloats);
        ObservationSize = observationSize;
        ActionSize = actionSize;
        _observations = new LatestValue<float>(observationSize);
        _scratch = new float[observationSize];
        _port = new SerialPort(port, this);
    }

    public int ObservationSize { get; }
    public int ActionSize { get; }
    public SerialPort Port => _port;

    public SerialRobotCounters Counters => new(
        Volatile.Read(ref _sensorFrames), Volatile.Read(ref _gaps), Volatile.Read(ref _stale), Volatile.Read(ref _restarts),
        Volatile.Read(ref _rejected), Volatile.Read(ref _unexpected), _parser.Errors, _port.Counters);

    public void Start() => _port.Start();

    /// <summary>The line came up or went away (with why); raised on the port's I/O thread, for logs.</summary>
    public event Action<bool, string>? LinkChanged;

    public bool TryReadObservation(Span<float> observation, out long timestamp) =>
        _observations.TryRead(observation, out timestamp, out _);

    /// <summary>Encodes one actuator frame on the stack and queues it; a full queue or a down line drops it (counted by the port).</summary>
    public void WriteAction(ReadOnlySpan<float> action)
    {
        if (action.Length != ActionSize)
            throw new ArgumentException($"expected {ActionSize} action elements, got {action.Length}", nameof(action));
        Span<byte> frame = stackalloc byte[SerialFrame.MaxFrameSize];
        var length = SerialMessages.WriteActuator(frame, _sendSequence++, action);
        _port.Send(frame[..length]);
    }

    public void Dispose() => _port.Dispose();

    void ISerialLinkHandler.OnLinkUp()
    {
        _synced = false;
        LinkChanged?.Invoke(true, "");
    }

    void ISerialLinkHandler.OnLinkDown(SerialFault fault)
    {
        _parser.Reset();
        _synced = false;
        LinkChanged?.Invoke(false, fault.Message);
    }

    void ISerialLinkHandler.OnIdle(long nowTicks) { }

    void ISerialLinkHandler.OnBytes(ReadOnlySpan<byte> data) => Receive(data, Stopwatch.GetTimestamp());

    /// <summary>Bytes read from the line at host time <paramref name="now"/> (Stopwatch ticks); tests drive synthetic time through it.</summary>
    internal void Receive(ReadOnlySpan<byte> data, long now)
    {
        while (_parser.TryRead(ref data, out var frame))
            Accept(frame, now);
    }

    private void Accept(in SerialFrame frame, long now)
    {
        if (frame.Type != SerialMessageType.Sensor)
        {
            Interlocked.Increment(ref _unexpected);
            return;
        }
        if (SerialMessages.ReadSensor(frame, out var mcu, _scratch) != SerialMessageError.None)
        {
            Interlocked.Increment(ref _rejected);
            return;
        }
        if (_synced)
        {
            var delta = (int)(mcu - _lastMcu);    // signed: survives the u32 wrap every 71 minutes
            if (delta < -RestartMicros)
            {
                Interlocked.Increment(ref _restarts);
                _synced = false;
            }
            else
            {
                Interlocked.Add(ref _gaps, (frame.Sequence - _lastSequence - 1) & 0xFF);
                _lastSequence = frame.Sequence;
                if (delta <= 0)
                {
                    Interlocked.Increment(ref _stale);
                    return;
                }
                _mcuMicros += delta;
                // Smallest delay wins; the estimate may creep up only as fast as clocks drift.
                var observed = now - _mcuMicros * _ticksPerMicro;
                _offsetTicks = Math.Min(observed, _offsetTicks + delta * _ticksPerMicro * _driftAllowance);
            }
        }
        if (!_synced)
        {
            _synced = true;
            _mcuMicros = 0;
            _offsetTicks = now;
        }
        _lastMcu = mcu;
        _lastSequence = frame.Sequence;
        Interlocked.Increment(ref _sensorFrames);
        _observations.Publish(_scratch, (long)(_mcuMicros * _ticksPerMicro + _offsetTicks));
    }
}
