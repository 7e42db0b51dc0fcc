using System.Buffers;
using System.Globalization;
using System.Text;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;

namespace MeowRobot.Control.Telemetry;

/// <summary>What the weight stream adds to a telemetry message (zero when the controller runs a fixed policy file).</summary>
/// <param name="HandshakesRefused">CURVE handshakes with a trainer endpoint that failed (a publisher with another key; a trainer that does not admit this robot).</param>
public readonly record struct StreamTelemetry(ulong AcceptedVersion, long Accepted, long Rejected, string? LastRejection, long HandshakesRefused = 0);

/// <summary>What a simulated robot adds to a telemetry message: its finished episodes and the last one's return (NaN before the first).</summary>
public readonly record struct EpisodeTelemetry(long Episodes, double LastReturn);

/// <summary>
/// Telemetry messages (docs/protocol.md, "weight stream and telemetry"): PUB frames topic + MessagePack map.
/// <c>meow.telemetry</c>: the loop snapshot and stream counters, every interval. <c>meow.transition</c>: one mode change.
/// Keys are snake_case; a reader must ignore keys it does not know (fields may be added, never renamed).
/// </summary>
public static class TelemetryWire
{
    public static ReadOnlySpan<byte> TelemetryTopic => "meow.telemetry"u8;
    public static ReadOnlySpan<byte> TransitionTopic => "meow.transition"u8;

    public static void EncodeTelemetry(in LoopSnapshot s, in StreamTelemetry stream, IBufferWriter<byte> output) =>
        EncodeTelemetry(s, stream, null, output);

    /// <param name="episodes">The robot's episode returns (<c>robot_episodes</c>, <c>robot_last_return</c>); null: a robot without episodes.</param>
    public static void EncodeTelemetry(in LoopSnapshot s, in StreamTelemetry stream, EpisodeTelemetry? episodes, IBufferWriter<byte> output)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(29 + (stream.LastRejection is null ? 0 : 1) + (episodes is null ? 0 : 2));
        w.Write("tick"); w.Write(s.Tick);
        w.Write("rate_hz"); w.Write(s.RateHz);
        w.Write("running"); w.Write(s.Running);
        w.Write("mode"); w.Write(s.Mode.ToString());
        w.Write("armed"); w.Write(s.Armed);
        w.Write("engaged"); w.Write(s.Engaged);
        w.Write("estop_latched"); w.Write(s.EStopLatched);
        w.Write("teleop_alive"); w.Write(s.TeleopAlive);
        w.Write("policy_fault"); w.Write(s.PolicyFault.ToString());
        w.Write("observation_fault"); w.Write(s.ObservationFault.ToString());
        w.Write("policy_version"); w.Write(s.PolicyVersion);
        w.Write("policy_swaps"); w.Write(s.PolicySwaps);
        w.Write("misses"); w.Write(s.Misses);
        w.Write("skipped_periods"); w.Write(s.SkippedPeriods);
        w.Write("consecutive_misses"); w.Write(s.ConsecutiveMisses);
        w.Write("jitter_us"); WriteTriple(ref w, s.JitterP50Us, s.JitterP99Us, s.JitterMaxUs);
        w.Write("compute_us"); WriteTriple(ref w, s.ComputeP50Us, s.ComputeP99Us, s.ComputeMaxUs);
        w.Write("non_finite_observations"); w.Write(s.NonFiniteObservations);
        w.Write("non_finite_actions"); w.Write(s.NonFiniteActions);
        w.Write("stale_observation_ticks"); w.Write(s.StaleObservationTicks);
        w.Write("transitions"); w.Write(s.TransitionTotal);
        w.Write("gc_collections"); w.WriteArrayHeader(3); w.Write(s.Gen0Collections); w.Write(s.Gen1Collections); w.Write(s.Gen2Collections);
        w.Write("gc_pause_ms"); w.Write(s.GcPauseTotalMs);
        w.Write("loop_allocated_bytes"); w.Write(s.LoopAllocatedBytes);
        w.Write("realtime"); w.Write(s.Realtime.ToString());
        w.Write("bundles_accepted"); w.Write(stream.Accepted);
        w.Write("bundles_rejected"); w.Write(stream.Rejected);
        w.Write("handshakes_refused"); w.Write(stream.HandshakesRefused);
        w.Write("stream_version"); w.Write(stream.AcceptedVersion);
        if (stream.LastRejection is { } why) { w.Write("last_rejection"); w.Write(why); }
        if (episodes is { } e)
        {
            w.Write("robot_episodes"); w.Write(e.Episodes);
            w.Write("robot_last_return"); w.Write(e.LastReturn);
        }
    }

    public static void EncodeTransition(in ModeTransition t, IBufferWriter<byte> output)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(4);
        w.Write("tick"); w.Write(t.Tick);
        w.Write("from"); w.Write(t.From.ToString());
        w.Write("to"); w.Write(t.To.ToString());
        w.Write("reason"); w.Write(t.Reason.ToString());
    }

    private static void WriteTriple(ref MsgPackWriter w, double p50, double p99, double max)
    {
        w.WriteArrayHeader(3);
        w.Write(p50); w.Write(p99); w.Write(max);
    }

    /// <summary>Renders a telemetry or transition body as <c>key=value</c> pairs in wire order, for the status command and
    /// logs. Accepts any flat map of scalars and arrays of scalars (so newer producers still print).</summary>
    /// <exception cref="MsgPackException">The body is not such a map.</exception>
    public static string Render(ReadOnlySpan<byte> body)
    {
        var r = new MsgPackReader(body, new MsgPackReaderOptions { MaxDepth = 3 });
        var seen = default(MsgPackKeySet);
        var text = new StringBuilder();
        for (var n = r.ReadMapHeader(); n > 0; n--)
        {
            var key = r.ReadUniqueKey(ref seen);
            if (text.Length > 0) text.Append(' ');
            AppendPrintable(text, Encoding.UTF8.GetString(key));
            text.Append('=');
            if (r.PeekType() == MsgPackType.Array)
            {
                var count = r.ReadArrayHeader();
                for (var i = 0; i < count; i++)
                {
                    if (i > 0) text.Append('/');
                    RenderScalar(ref r, text);
                }
            }
            else
            {
                RenderScalar(ref r, text);
            }
        }
        if (!r.End) throw new MsgPackException(MsgPackErrorKind.TrailingBytes, r.Position, "bytes after the telemetry map");
        return text.ToString();
    }

    /// <summary>
    /// Appends <paramref name="s"/> with every control and format character (ESC and the rest of C0/C1, DEL, bidi
    /// overrides, zero-width marks) written as \uXXXX: a telemetry string comes from whoever can publish on the
    /// endpoint, and raw it could rewrite the operator's terminal or hide text.
    /// </summary>
    public static void AppendPrintable(StringBuilder text, string s)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(s);
        foreach (var c in s)
        {
            var category = char.GetUnicodeCategory(c);
            if (char.IsControl(c) || category is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            else
                text.Append(c);
        }
    }

    private static void RenderScalar(ref MsgPackReader r, StringBuilder text)
    {
        switch (r.PeekType())
        {
            case MsgPackType.Boolean: text.Append(r.ReadBoolean() ? "true" : "false"); break;
            case MsgPackType.Float: text.Append(r.ReadDouble().ToString("0.###", CultureInfo.InvariantCulture)); break;
            case MsgPackType.Integer: text.Append(r.ReadInt64().ToString(CultureInfo.InvariantCulture)); break;
            case MsgPackType.String: AppendPrintable(text, r.ReadString()); break;
            default: r.Skip(); text.Append('?'); break;
        }
    }
}
