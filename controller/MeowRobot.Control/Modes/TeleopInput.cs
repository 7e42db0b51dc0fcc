using System.Runtime.CompilerServices;
using MeowRobot.Control.Handoff;

namespace MeowRobot.Control.Modes;

/// <summary>Operator buttons as levels (held = set). The loop detects presses itself (rising edges between ticks).</summary>
[Flags]
public enum TeleopButtons : byte
{
    None = 0,
    /// <summary>Held: the operator's axes drive the robot, above the policy (operator override).</summary>
    Override = 1,
    /// <summary>Pressed: arms the controller (leaves Idle; engages the policy when it is healthy).</summary>
    Arm = 2,
    /// <summary>Pressed: e-stop, latched until an explicit reset (see <see cref="Reset"/>).</summary>
    EStop = 4,
    /// <summary>Pressed: hands control back to a healthy policy after a fallback.</summary>
    Resume = 8,
    /// <summary>Pressed while <see cref="EStop"/> is released: clears a latched e-stop (the controller returns to Idle, disarmed).</summary>
    Reset = 16,
    /// <summary>Pressed: disarms (back to Idle, safe action).</summary>
    Disarm = 32,
}

/// <summary>The operator's normalised axes, one per actuator, each in [-1, 1] (mapped onto the action bounds by the loop).</summary>
[InlineArray(TeleopInput.MaxAxes)]
public struct TeleopAxes
{
    private float _element0;
}

/// <summary>
/// What the operator link (serial teleop transmitter) last said, as the control loop consumes it. The serial side
/// publishes one through a <see cref="TeleopChannel"/> on every frame it receives; the loop reads the newest each tick.
/// The link counts as alive while <see cref="HeartbeatTimestamp"/> is younger than the teleop timeout (default 0.5 s).
/// </summary>
public struct TeleopInput
{
    /// <summary>Most actuators an operator device can drive.</summary>
    public const int MaxAxes = 16;

    /// <summary>When the last heartbeat (or any valid frame) arrived, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    public long HeartbeatTimestamp;

    public TeleopButtons Buttons;

    /// <summary>Axes in use (≤ <see cref="MaxAxes"/>); actuators beyond it get axis value 0 (the middle of their bounds' zero-clamped range).</summary>
    public int AxisCount;

    public TeleopAxes Axes;
}

/// <summary>The handoff the operator link publishes into and the loop reads from (latest value wins, the loop never waits).</summary>
public sealed class TeleopChannel
{
    private readonly LatestValue<TeleopInput> _value = new(1);

    /// <summary>Operator-link side (any thread): publishes the newest input.</summary>
    public void Publish(in TeleopInput input) => _value.Publish(input, input.HeartbeatTimestamp);

    /// <summary>Loop side: the newest input; false while the link has never published.</summary>
    public bool TryRead(out TeleopInput input) => _value.TryRead(out input, out _);
}
