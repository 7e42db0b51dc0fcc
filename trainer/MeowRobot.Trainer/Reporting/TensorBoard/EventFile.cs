using System.Globalization;

namespace MeowRobot.Trainer.Reporting.TensorBoard;

/// <summary>A hyperparameter for the hparams plugin: a number, a string or a bool.</summary>
public readonly record struct HParam(string Name, object Value)
{
    public static HParam Of(string name, double value) => new(name, value);
    public static HParam Of(string name, string value) => new(name, value);
    public static HParam Of(string name, bool value) => new(name, value);
}

/// <summary>How a run ended, for the hparams plugin's session records.</summary>
public enum SessionStatus
{
    Success = 1,
    Failure = 2,
    Running = 3,
}

/// <summary>
/// One TensorBoard event file (<c>events.out.tfevents.SECONDS.HOST.PID</c>) in a run directory: TFRecord-framed
/// <c>Event</c> protobufs, written with <see cref="ProtoWriter"/> (field numbers from TensorFlow's event.proto,
/// summary.proto, tensor.proto and TensorBoard's hparams plugin_data.proto/api.proto). Each process writes its own
/// file; TensorBoard reads all of a directory's files as one run. Writes are buffered until <see cref="Flush"/>.
/// </summary>
public sealed class EventFile : IDisposable
{
    public const string FilePrefix = "events.out.tfevents.";

    private delegate void Body(ref ProtoWriter writer);

    private readonly FileStream _stream;
    private byte[] _buffer = new byte[4096];

    public EventFile(string directory, DateTimeOffset now)
    {
        var seconds = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var host = Environment.MachineName.Length > 0 ? Environment.MachineName : "localhost";
        Path = System.IO.Path.Combine(directory, $"{FilePrefix}{seconds}.{host}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
        _stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var wall = Seconds(now);
        Write((ref ProtoWriter w) =>
        {
            w.Double(EventField.WallTime, wall);
            w.String(EventField.FileVersion, "brain.Event:2");
        });
        Flush();
    }

    public string Path { get; }

    /// <summary>Scalars at one step, as simple values (what every TensorBoard version reads).</summary>
    public void Scalars(long step, DateTimeOffset time, IEnumerable<KeyValuePair<string, double>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var list = values.Where(v => double.IsFinite(v.Value)).ToList();
        if (list.Count == 0) return;
        Summary(step, time, (ref ProtoWriter w) =>
        {
            foreach (var (tag, value) in list)
            {
                var v = w.BeginMessage(SummaryField.Value);
                w.String(ValueField.Tag, tag);
                w.Float(ValueField.SimpleValue, (float)value);
                w.EndMessage(v);
            }
        });
    }

    /// <summary>Markdown for the text plugin (a scalar string tensor).</summary>
    public void Text(string tag, long step, DateTimeOffset time, string markdown)
    {
        Summary(step, time, (ref ProtoWriter w) =>
        {
            var v = w.BeginMessage(SummaryField.Value);
            w.String(ValueField.Tag, tag);
            Metadata(ref w, "text", []);
            var t = w.BeginMessage(ValueField.Tensor);
            w.Varint(TensorField.Dtype, DtString);
            var shape = w.BeginMessage(TensorField.Shape);
            w.EndMessage(shape);
            w.Bytes(TensorField.StringVal, System.Text.Encoding.UTF8.GetBytes(markdown));
            w.EndMessage(t);
            w.EndMessage(v);
        });
    }

    /// <summary>
    /// The hparams plugin's records of this run: the experiment (which hyperparameters and metrics there are) and the
    /// session start (this run's values), as TensorBoard's own hparams summary writes them.
    /// </summary>
    public void HParams(IReadOnlyList<HParam> hparams, IReadOnlyList<string> metricTags, string groupName, DateTimeOffset start)
    {
        ArgumentNullException.ThrowIfNull(hparams);
        ArgumentNullException.ThrowIfNull(metricTags);
        var startSeconds = Seconds(start);
        HParamsSummary("_hparams_/experiment", start, (ref ProtoWriter w) =>
        {
            var e = w.BeginMessage(PluginDataField.Experiment);
            w.Double(ExperimentField.TimeCreatedSecs, startSeconds);
            foreach (var h in hparams)
            {
                var info = w.BeginMessage(ExperimentField.HParamInfos);
                w.String(HParamInfoField.Name, h.Name);
                w.Varint(HParamInfoField.Type, h.Value switch { string => 1UL, bool => 2UL, _ => 3UL });
                w.EndMessage(info);
            }
            foreach (var tag in metricTags)
            {
                var info = w.BeginMessage(ExperimentField.MetricInfos);
                var name = w.BeginMessage(MetricInfoField.Name);
                w.String(MetricNameField.Tag, tag);
                w.EndMessage(name);
                w.EndMessage(info);
            }
            w.EndMessage(e);
        });
        HParamsSummary("_hparams_/session_start_info", start, (ref ProtoWriter w) =>
        {
            var s = w.BeginMessage(PluginDataField.SessionStartInfo);
            foreach (var h in hparams)
            {
                var entry = w.BeginMessage(SessionStartField.HParams);
                w.String(MapEntryField.Key, h.Name);
                var value = w.BeginMessage(MapEntryField.Value);
                switch (h.Value)
                {
                    case string text: w.String(ProtoValueField.String, text); break;
                    case bool flag: w.Bool(ProtoValueField.Bool, flag); break;
                    default: w.Double(ProtoValueField.Number, Convert.ToDouble(h.Value, CultureInfo.InvariantCulture)); break;
                }
                w.EndMessage(value);
                w.EndMessage(entry);
            }
            w.String(SessionStartField.GroupName, groupName);
            w.Double(SessionStartField.StartTimeSecs, startSeconds);
            w.EndMessage(s);
        });
    }

    /// <summary>The hparams plugin's session end (the run's status in the hparams table).</summary>
    public void SessionEnd(SessionStatus status, DateTimeOffset end)
    {
        var endSeconds = Seconds(end);
        HParamsSummary("_hparams_/session_end_info", end, (ref ProtoWriter w) =>
        {
            var s = w.BeginMessage(PluginDataField.SessionEndInfo);
            w.Varint(SessionEndField.Status, (ulong)status);
            w.Double(SessionEndField.EndTimeSecs, endSeconds);
            w.EndMessage(s);
        });
    }

    public void Flush() => _stream.Flush();

    public void Dispose() => _stream.Dispose();

    private void HParamsSummary(string tag, DateTimeOffset time, Body pluginData)
    {
        var content = Encode((ref ProtoWriter w) =>
        {
            w.Varint(PluginDataField.Version, 0);
            pluginData(ref w);
        }).ToArray();
        Summary(0, time, (ref ProtoWriter w) =>
        {
            var v = w.BeginMessage(SummaryField.Value);
            w.String(ValueField.Tag, tag);
            Metadata(ref w, "hparams", content);
            // TensorBoard's own writer attaches a null tensor (scalar float 0) so the value reads as tensor data.
            var t = w.BeginMessage(ValueField.Tensor);
            w.Varint(TensorField.Dtype, DtFloat);
            var shape = w.BeginMessage(TensorField.Shape);
            w.EndMessage(shape);
            w.PackedFloats(TensorField.FloatVal, [0f]);
            w.EndMessage(t);
            w.EndMessage(v);
        });
    }

    private static void Metadata(ref ProtoWriter w, string plugin, ReadOnlySpan<byte> content)
    {
        var m = w.BeginMessage(ValueField.Metadata);
        var p = w.BeginMessage(MetadataField.PluginData);
        w.String(PluginField.Name, plugin);
        if (content.Length > 0) w.Bytes(PluginField.Content, content);
        w.EndMessage(p);
        w.EndMessage(m);
    }

    private void Summary(long step, DateTimeOffset time, Body values)
    {
        var wall = Seconds(time);
        Write((ref ProtoWriter w) =>
        {
            w.Double(EventField.WallTime, wall);
            w.Int64(EventField.Step, step);
            var s = w.BeginMessage(EventField.Summary);
            values(ref w);
            w.EndMessage(s);
        });
    }

    private void Write(Body body) => TfRecord.Write(_stream, Encode(body));

    private ReadOnlySpan<byte> Encode(Body body)
    {
        while (true)
        {
            var w = new ProtoWriter(_buffer);
            body(ref w);
            if (!w.Overflowed) return _buffer.AsSpan(0, w.Written);
            _buffer = new byte[_buffer.Length * 2];
        }
    }

    private static double Seconds(DateTimeOffset t) => t.ToUnixTimeMilliseconds() / 1000.0;

    private const ulong DtFloat = 1, DtString = 7;

    // Field numbers. Event (tensorflow/core/util/event.proto), Summary (tensorflow/core/framework/summary.proto).
    private static class EventField { public const int WallTime = 1, Step = 2, FileVersion = 3, Summary = 5; }
    private static class SummaryField { public const int Value = 1; }
    private static class ValueField { public const int Tag = 1, SimpleValue = 2, Tensor = 8, Metadata = 9; }
    private static class MetadataField { public const int PluginData = 1; }
    private static class PluginField { public const int Name = 1, Content = 2; }
    // TensorProto (tensor.proto), TensorShapeProto (tensor_shape.proto).
    private static class TensorField { public const int Dtype = 1, Shape = 2, FloatVal = 5, StringVal = 8; }
    // tensorboard/plugins/hparams: HParamsPluginData, Experiment, HParamInfo, MetricInfo, MetricName, SessionStartInfo, SessionEndInfo.
    private static class PluginDataField { public const int Version = 1, Experiment = 2, SessionStartInfo = 3, SessionEndInfo = 4; }
    private static class ExperimentField { public const int TimeCreatedSecs = 3, HParamInfos = 4, MetricInfos = 5; }
    private static class HParamInfoField { public const int Name = 1, Type = 4; }
    private static class MetricInfoField { public const int Name = 1; }
    private static class MetricNameField { public const int Tag = 2; }
    private static class SessionStartField { public const int HParams = 1, GroupName = 4, StartTimeSecs = 5; }
    private static class SessionEndField { public const int Status = 1, EndTimeSecs = 2; }
    private static class MapEntryField { public const int Key = 1, Value = 2; }
    // google.protobuf.Value (struct.proto).
    private static class ProtoValueField { public const int Number = 2, String = 3, Bool = 4; }
}
