using System.Globalization;
using System.Text;

namespace MeowRobot.Trainer.Reporting;

/// <summary>One row of a run's metrics.csv, as the demo and the plots use it (absent or empty fields: NaN).</summary>
/// <param name="Seconds">Since the reader's start time.</param>
public readonly record struct TrainerMetrics(double Seconds, string Event, long EnvSteps, long Updates, double UpdatesPerSecond,
    double EpisodeReturnMean, double EvalReturnMean, long PublishedVersion)
{
    public double EvalReturnStd { get; init; } = double.NaN;
    public double Loss { get; init; } = double.NaN;
    public double GradNorm { get; init; } = double.NaN;
    public double MeanQ { get; init; } = double.NaN;
}

/// <summary>
/// Reads a run's metrics.csv, following it as it grows (the trainer flushes one complete line per row): each
/// <see cref="Poll"/> parses the lines completed since the last one, by column name, so added columns change nothing.
/// </summary>
public sealed class MetricsTail(string path, DateTimeOffset start)
{
    private readonly List<TrainerMetrics> _rows = [];
    private readonly StringBuilder _partial = new();
    private long _offset;
    private Dictionary<string, int>? _columns;

    public string Path { get; } = path;
    public IReadOnlyList<TrainerMetrics> Rows => _rows;
    public bool Exists => _columns is not null;

    public void Poll()
    {
        if (!File.Exists(Path)) return;
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length <= _offset) return;
        stream.Seek(_offset, SeekOrigin.Begin);
        var bytes = new byte[stream.Length - _offset];
        stream.ReadExactly(bytes);
        _offset += bytes.Length;
        _partial.Append(Encoding.UTF8.GetString(bytes));
        var text = _partial.ToString();
        var end = text.LastIndexOf('\n');
        if (end < 0) return;
        _partial.Clear().Append(text.AsSpan(end + 1));
        foreach (var line in text[..end].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(',');
            if (_columns is null)
            {
                _columns = fields.Select((name, i) => (name, i)).ToDictionary(c => c.name.Trim(), c => c.i, StringComparer.Ordinal);
                continue;
            }
            _rows.Add(Parse(fields));
        }
    }

    private TrainerMetrics Parse(string[] f)
    {
        string Field(string name) => _columns!.TryGetValue(name, out var i) && i < f.Length ? f[i] : "";
        double Number(string name) => double.TryParse(Field(name), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
        long Integer(string name) => long.TryParse(Field(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
        var seconds = DateTimeOffset.TryParse(Field("time"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? (t - start).TotalSeconds
            : double.NaN;
        return new TrainerMetrics(seconds, Field("event"), Integer("env_steps"), Integer("updates"), Number("updates_per_s"),
            Number("episode_return_mean"), Number("eval_return_mean"), Integer("published_version"))
        {
            EvalReturnStd = Number("eval_return_std"),
            Loss = Number("loss"),
            GradNorm = Number("grad_norm"),
            MeanQ = Number("mean_q"),
        };
    }
}
