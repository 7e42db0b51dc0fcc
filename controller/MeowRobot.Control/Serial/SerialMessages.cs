using System.Buffers.Binary;
using MeowRobot.Control.Modes;

namespace MeowRobot.Control.Serial;

/// <summary>Frame types. 0x0_ come from an operator device, 0x1_ travel on the robot link (docs/protocol.md).</summary>
public enum SerialMessageType : byte
{
    /// <summary>Operator device → controller: u32 sender milliseconds. Keeps the teleop link alive.</summary>
    Heartbeat = 0x01,
    /// <summary>Operator device → controller: f32 per actuator, each finite and within [-1, 1].</summary>
    Axes = 0x02,
    /// <summary>Operator device → controller: u8 button levels (<see cref="TeleopButtons"/> bits 0–5, bits 6–7 zero).</summary>
    Buttons = 0x03,
    /// <summary>Microcontroller → controller: u32 MCU microseconds, then f32 per observation element (finite).</summary>
    Sensor = 0x10,
    /// <summary>Controller → microcontroller: f32 per actuator (finite).</summary>
    Actuator = 0x11,
}

/// <summary>Why a frame with a good CRC still carries an unusable message.</summary>
public enum SerialMessageError
{
    None,
    /// <summary>The type is not one this reader handles.</summary>
    UnexpectedType,
    /// <summary>The payload length does not fit the type's layout (or the configured vector size).</summary>
    BadLength,
    /// <summary>A float is NaN or infinite.</summary>
    NonFinite,
    /// <summary>An axis lies outside [-1, 1].</summary>
    OutOfRange,
    /// <summary>Reserved bits are set.</summary>
    ReservedBits,
}

/// <summary>
/// Encoders and decoders of the fixed little-endian payload layouts. Writers fill a caller's buffer (at least
/// <see cref="SerialFrame.MaxFrameSize"/> bytes is always enough) and return the frame length; readers validate
/// everything and return a typed error instead of throwing.
/// </summary>
public static class SerialMessages
{
    /// <summary>Most floats one frame carries after a 4-byte timestamp (sensor frames).</summary>
    public const int MaxStampedFloats = (SerialFrame.MaxPayload - 4) / 4;
    /// <summary>Most floats one frame carries (axes, actuator frames).</summary>
    public const int MaxFloats = SerialFrame.MaxPayload / 4;

    private const TeleopButtons KnownButtons = TeleopButtons.Override | TeleopButtons.Arm | TeleopButtons.EStop
        | TeleopButtons.Resume | TeleopButtons.Reset | TeleopButtons.Disarm;

    public static int WriteHeartbeat(Span<byte> frame, byte sequence, uint senderMillis)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(SerialFrame.PayloadArea(frame), senderMillis);
        return SerialFrame.Seal(frame, SerialMessageType.Heartbeat, sequence, 4);
    }

    public static int WriteAxes(Span<byte> frame, byte sequence, ReadOnlySpan<float> axes)
    {
        if (axes.Length > TeleopInput.MaxAxes)
            throw new ArgumentException($"{axes.Length} axes exceed {TeleopInput.MaxAxes}", nameof(axes));
        return SerialFrame.Seal(frame, SerialMessageType.Axes, sequence, WriteFloats(SerialFrame.PayloadArea(frame), axes));
    }

    public static int WriteButtons(Span<byte> frame, byte sequence, TeleopButtons buttons)
    {
        SerialFrame.PayloadArea(frame)[0] = (byte)buttons;
        return SerialFrame.Seal(frame, SerialMessageType.Buttons, sequence, 1);
    }

    public static int WriteSensor(Span<byte> frame, byte sequence, uint mcuMicros, ReadOnlySpan<float> observation)
    {
        if (observation.Length > MaxStampedFloats)
            throw new ArgumentException($"{observation.Length} observation elements exceed {MaxStampedFloats}", nameof(observation));
        var payload = SerialFrame.PayloadArea(frame);
        BinaryPrimitives.WriteUInt32LittleEndian(payload, mcuMicros);
        return SerialFrame.Seal(frame, SerialMessageType.Sensor, sequence, 4 + WriteFloats(payload[4..], observation));
    }

    public static int WriteActuator(Span<byte> frame, byte sequence, ReadOnlySpan<float> action)
    {
        if (action.Length > MaxFloats)
            throw new ArgumentException($"{action.Length} action elements exceed {MaxFloats}", nameof(action));
        return SerialFrame.Seal(frame, SerialMessageType.Actuator, sequence, WriteFloats(SerialFrame.PayloadArea(frame), action));
    }

    public static SerialMessageError ReadHeartbeat(in SerialFrame frame, out uint senderMillis)
    {
        senderMillis = 0;
        if (frame.Type != SerialMessageType.Heartbeat)
            return SerialMessageError.UnexpectedType;
        if (frame.Payload.Length != 4)
            return SerialMessageError.BadLength;
        senderMillis = BinaryPrimitives.ReadUInt32LittleEndian(frame.Payload);
        return SerialMessageError.None;
    }

    /// <summary>Reads axes into <paramref name="axes"/> (room for <see cref="TeleopInput.MaxAxes"/>); <paramref name="count"/> is how many came.</summary>
    public static SerialMessageError ReadAxes(in SerialFrame frame, Span<float> axes, out int count)
    {
        count = 0;
        if (frame.Type != SerialMessageType.Axes)
            return SerialMessageError.UnexpectedType;
        var payload = frame.Payload;
        if (payload.Length % 4 != 0 || payload.Length / 4 > Math.Min(axes.Length, TeleopInput.MaxAxes))
            return SerialMessageError.BadLength;
        var n = payload.Length / 4;
        var error = ReadFloats(payload, axes[..n], unitRange: true);
        if (error == SerialMessageError.None)
            count = n;
        return error;
    }

    public static SerialMessageError ReadButtons(in SerialFrame frame, out TeleopButtons buttons)
    {
        buttons = TeleopButtons.None;
        if (frame.Type != SerialMessageType.Buttons)
            return SerialMessageError.UnexpectedType;
        if (frame.Payload.Length != 1)
            return SerialMessageError.BadLength;
        var value = (TeleopButtons)frame.Payload[0];
        if ((value & ~KnownButtons) != 0)
            return SerialMessageError.ReservedBits;
        buttons = value;
        return SerialMessageError.None;
    }

    /// <summary>Reads a sensor frame whose observation must have exactly <c>observation.Length</c> elements.</summary>
    public static SerialMessageError ReadSensor(in SerialFrame frame, out uint mcuMicros, Span<float> observation)
    {
        mcuMicros = 0;
        if (frame.Type != SerialMessageType.Sensor)
            return SerialMessageError.UnexpectedType;
        var payload = frame.Payload;
        if (payload.Length != 4 + 4 * observation.Length)
            return SerialMessageError.BadLength;
        mcuMicros = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        return ReadFloats(payload[4..], observation, unitRange: false);
    }

    /// <summary>Reads an actuator frame whose action must have exactly <c>action.Length</c> elements.</summary>
    public static SerialMessageError ReadActuator(in SerialFrame frame, Span<float> action)
    {
        if (frame.Type != SerialMessageType.Actuator)
            return SerialMessageError.UnexpectedType;
        if (frame.Payload.Length != 4 * action.Length)
            return SerialMessageError.BadLength;
        return ReadFloats(frame.Payload, action, unitRange: false);
    }

    private static int WriteFloats(Span<byte> payload, ReadOnlySpan<float> values)
    {
        for (var i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(payload[(4 * i)..], values[i]);
        return 4 * values.Length;
    }

    private static SerialMessageError ReadFloats(ReadOnlySpan<byte> payload, Span<float> values, bool unitRange)
    {
        for (var i = 0; i < values.Length; i++)
        {
            var v = BinaryPrimitives.ReadSingleLittleEndian(payload[(4 * i)..]);
            if (!float.IsFinite(v))
                return SerialMessageError.NonFinite;
            if (unitRange && (v < -1f || v > 1f))
                return SerialMessageError.OutOfRange;
            values[i] = v;
        }
        return SerialMessageError.None;
    }
}
