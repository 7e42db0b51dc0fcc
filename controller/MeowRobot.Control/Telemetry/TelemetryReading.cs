using MeowRobot.Bridge.MessagePack;

namespace MeowRobot.Control.Telemetry;

/// <summary>
/// What a monitor of a controller acts on, read from a <c>meow.telemetry</c> body (the demo's progress line; the full
/// message is rendered by <see cref="TelemetryWire.Render"/>). Keys that are absent keep their defaults (an older
/// controller, or a robot without episodes: <see cref="RobotEpisodes"/> −1); unknown keys are skipped.
/// </summary>
public readonly record struct TelemetryReading
{
    public long Tick { get; init; }
    public string Mode { get; init; }
    public long PolicyVersion { get; init; }
    public long PolicySwaps { get; init; }
    public long Misses { get; init; }
    public double JitterP99Us { get; init; }
    public double JitterMaxUs { get; init; }
    public ulong StreamVersion { get; init; }
    public long HandshakesRefused { get; init; }
    public long RobotEpisodes { get; init; }
    /// <summary>Mode transitions since the controller started (all pairs).</summary>
    public long Transitions { get; init; }
    public double RobotLastReturn { get; init; }

    /// <summary>Ticks on which the envelope replaced or withheld the policy's action (non-finite action or observation,
    /// stale observation): <c>non_finite_actions + non_finite_observations + stale_observation_ticks</c>, as
    /// <see cref="Loop.LoopSnapshot.EnvelopeInterventions"/>.</summary>
    public long EnvelopeInterventions { get; init; }

    /// <exception cref="MsgPackException">The body is not a telemetry map (or a known key has the wrong type).</exception>
    public static TelemetryReading Read(ReadOnlySpan<byte> body)
    {
        var r = new MsgPackReader(body, new MsgPackReaderOptions { MaxDepth = 3 });
        var seen = default(MsgPackKeySet);
        var reading = new TelemetryReading { Mode = "", RobotEpisodes = -1, RobotLastReturn = double.NaN };
        for (var n = r.ReadMapHeader(); n > 0; n--)
        {
            var key = r.ReadUniqueKey(ref seen);
            if (key.SequenceEqual("tick"u8)) reading = reading with { Tick = r.ReadInt64() };
            else if (key.SequenceEqual("mode"u8)) reading = reading with { Mode = r.ReadString() };
            else if (key.SequenceEqual("policy_version"u8)) reading = reading with { PolicyVersion = r.ReadInt64() };
            else if (key.SequenceEqual("policy_swaps"u8)) reading = reading with { PolicySwaps = r.ReadInt64() };
            else if (key.SequenceEqual("misses"u8)) reading = reading with { Misses = r.ReadInt64() };
            else if (key.SequenceEqual("stream_version"u8)) reading = reading with { StreamVersion = r.ReadUInt64() };
            else if (key.SequenceEqual("handshakes_refused"u8)) reading = reading with { HandshakesRefused = r.ReadInt64() };
            else if (key.SequenceEqual("transitions"u8)) reading = reading with { Transitions = r.ReadInt64() };
            else if (key.SequenceEqual("robot_episodes"u8)) reading = reading with { RobotEpisodes = r.ReadInt64() };
            else if (key.SequenceEqual("robot_last_return"u8)) reading = reading with { RobotLastReturn = r.ReadDouble() };
            else if (key.SequenceEqual("non_finite_actions"u8) || key.SequenceEqual("non_finite_observations"u8) || key.SequenceEqual("stale_observation_ticks"u8))
                reading = reading with { EnvelopeInterventions = reading.EnvelopeInterventions + r.ReadInt64() };
            else if (key.SequenceEqual("jitter_us"u8))
            {
                if (r.ReadArrayHeader() != 3) throw new MsgPackException(MsgPackErrorKind.TypeMismatch, r.Position, "jitter_us must be [p50, p99, max]");
                r.Skip();
                reading = reading with { JitterP99Us = r.ReadDouble(), JitterMaxUs = r.ReadDouble() };
            }
            else r.Skip();
        }
        if (!r.End) throw new MsgPackException(MsgPackErrorKind.TrailingBytes, r.Position, "bytes after the telemetry map");
        return reading;
    }
}
