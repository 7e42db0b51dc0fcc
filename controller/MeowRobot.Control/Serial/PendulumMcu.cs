using System.Diagnostics;

namespace MeowRobot.Control.Serial;

/// <summary>The emulated plant: a damped point-mass pendulum, angle 0 upright, hanging at π.</summary>
public sealed record PendulumPlantOptions
{
    /// <summary>Physics steps (and sensor frames) per second, like an MCU's sensor loop.</summary>
    public int RateHz { get; init; } = 500;
    public double Gravity { get; init; } = 9.81;
    public double Mass { get; init; } = 1.0;
    public double Length { get; init; } = 1.0;
    /// <summary>Viscous friction at the joint (N·m·s/rad).</summary>
    public double Damping { get; init; } = 0.05;
    /// <summary>Torque at action +1 (N·m); actions are clamped to [-1, 1].</summary>
    public double MaxTorque { get; init; } = 2.0;
    public double InitialAngle { get; init; } = Math.PI;
    public double InitialVelocity { get; init; }

    /// <summary>Hold the joint (a brake) until the first actuator frame arrives, so the plant waits for its controller.</summary>
    public bool BrakeUntilFirstAction { get; init; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(RateHz, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RateHz, 10_000);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Mass);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Length);
        ArgumentOutOfRangeException.ThrowIfNegative(Damping);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxTorque);
    }
}

/// <summary>
/// Plays a microcontroller that runs a pendulum on the other end of a serial line (a pty in tests and demos): it streams
/// sensor frames [cos θ, sin θ, θ̇] at <see cref="PendulumPlantOptions.RateHz"/> with its own microsecond clock, and applies
/// the newest actuator frame's torque. Faults can be injected to exercise the controller's staleness and gap handling.
/// </summary>
public sealed class PendulumMcu : SerialDeviceEmulator
{
    public const int ObservationSize = 3;
    public const int ActionSize = 1;

    private readonly PendulumPlantOptions _plant;
    private readonly SerialFrameParser _parser = new();
    private readonly Lock _gate = new();
    private double _angle, _velocity, _torque;
    private long _actions, _rejected, _steps;
    private int _skip, _repeat, _silent;

    public PendulumMcu(SerialPortOptions port, PendulumPlantOptions? plant = null)
        : base(port, "pendulum mcu")
    {
        _plant = plant ?? new PendulumPlantOptions();
        _plant.Validate();
        _angle = _plant.InitialAngle;
        _velocity = _plant.InitialVelocity;
    }

    /// <summary>Actuator frames applied so far.</summary>
    public long ActionsApplied => Interlocked.Read(ref _actions);
    public long RejectedMessages => Interlocked.Read(ref _rejected);
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Current torque command (N·m), from the newest actuator frame.</summary>
    public double Torque { get { lock (_gate) return _torque; } }

    public (double Angle, double Velocity) State { get { lock (_gate) return (_angle, _velocity); } }

    /// <summary>Fault: the next <paramref name="frames"/> sensor frames are not sent but use up sequence numbers (a lossy line).</summary>
    public void SkipFrames(int frames) => Interlocked.Exchange(ref _skip, frames);

    /// <summary>Fault: the next <paramref name="frames"/> sensor frames repeat the previous MCU timestamp (a stuck sensor loop).</summary>
    public void RepeatTimestamp(int frames) => Interlocked.Exchange(ref _repeat, frames);

    /// <summary>Fault: stop (true) or resume (false) streaming sensor frames while the physics runs on.</summary>
    public bool Silent { get => Volatile.Read(ref _silent) != 0; set => Volatile.Write(ref _silent, value ? 1 : 0); }

    public override void OnLinkDown(SerialFault fault) => _parser.Reset();

    public override void OnBytes(ReadOnlySpan<byte> data)
    {
        Span<float> action = stackalloc float[ActionSize];
        while (_parser.TryRead(ref data, out var frame))
        {
            if (SerialMessages.ReadActuator(frame, action) != SerialMessageError.None)
            {
                Interlocked.Increment(ref _rejected);
                continue;
            }
            lock (_gate)
                _torque = Math.Clamp(action[0], -1f, 1f) * _plant.MaxTorque;
            Interlocked.Increment(ref _actions);
        }
    }

    /// <summary>One semi-implicit Euler step: θ̈ = (g/l) sin θ − b θ̇ /(m l²) + u/(m l²).</summary>
    private void Step(double dt)
    {
        if (_plant.BrakeUntilFirstAction && Interlocked.Read(ref _actions) == 0)
            return;
        lock (_gate)
        {
            var inertia = _plant.Mass * _plant.Length * _plant.Length;
            var accel = _plant.Gravity / _plant.Length * Math.Sin(_angle) + (_torque - _plant.Damping * _velocity) / inertia;
            _velocity += accel * dt;
            _angle += _velocity * dt;
        }
        Interlocked.Increment(ref _steps);
    }

    protected override void Run()
    {
        var period = Stopwatch.Frequency / _plant.RateHz;
        var dt = 1.0 / _plant.RateHz;
        var start = Stopwatch.GetTimestamp();
        long done = 0;
        uint mcuMicros = 0;
        byte sequence = 0;
        Span<byte> frame = stackalloc byte[SerialFrame.MaxFrameSize];
        Span<float> observation = stackalloc float[ObservationSize];
        while (true)
        {
            // The plant keeps real time: steps missed while this thread was descheduled are caught up, one frame sent.
            var due = (Stopwatch.GetTimestamp() - start) / period;
            var stepped = done < due;
            while (done < due)
            {
                Step(dt);
                done++;
            }
            if (stepped)
                SendSensor(frame, observation, done, ref mcuMicros, ref sequence);
            var next = start + (done + 1) * period;
            var waitMs = (int)Math.Max(0, ((next - Stopwatch.GetTimestamp()) * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
            if (Stopping.Wait(waitMs))
                return;
        }
    }

    private void SendSensor(Span<byte> frame, Span<float> observation, long done, ref uint mcuMicros, ref byte sequence)
    {
        if (!TakeOne(ref _repeat))
            mcuMicros = (uint)(done * 1_000_000 / _plant.RateHz);
        var (angle, velocity) = State;
        observation[0] = (float)Math.Cos(angle);
        observation[1] = (float)Math.Sin(angle);
        observation[2] = (float)velocity;
        if (Silent)
            return;
        if (!TakeOne(ref _skip))
            Port.Send(frame[..SerialMessages.WriteSensor(frame, sequence, mcuMicros, observation)]);
        sequence++;
    }

    private static bool TakeOne(ref int counter)
    {
        while (true)
        {
            var value = Volatile.Read(ref counter);
            if (value <= 0)
                return false;
            if (Interlocked.CompareExchange(ref counter, value - 1, value) == value)
                return true;
        }
    }
}
