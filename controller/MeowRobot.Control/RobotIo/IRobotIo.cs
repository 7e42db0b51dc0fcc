namespace MeowRobot.Control.RobotIo;

/// <summary>
/// The hardware boundary the control loop talks to (ros2_control's hardware interface): a simulated robot through
/// the bridge, a microcontroller over serial, or a test double. Both calls are made from the loop thread only, must
/// not block, must not allocate, and must not wait on I/O: an adapter does its I/O on its own thread and exchanges
/// the latest values through lock-free handoffs.
/// </summary>
public interface IRobotIo : IDisposable
{
    int ObservationSize { get; }
    int ActionSize { get; }

    /// <summary>Copies the newest observation into <paramref name="observation"/>. Returns false when none has arrived yet.
    /// <paramref name="timestamp"/> is when it was taken or received, in <see cref="System.Diagnostics.Stopwatch"/> ticks,
    /// so the loop can judge staleness.</summary>
    bool TryReadObservation(Span<float> observation, out long timestamp);

    /// <summary>Hands an action to the adapter for sending; never waits for it to be sent.</summary>
    void WriteAction(ReadOnlySpan<float> action);
}
