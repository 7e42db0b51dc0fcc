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
/// A line with fewer fields than the header (cut by a crash, then ended by the next writer) is damaged: counted in
/// <see cref="DamagedLines"/>, never read as numbers.
/// </summary>
public sealed class MetricsTail(string path, DateTimeOffset start)
{
    private readonly List<TrainerMetrics> _rows = [];
    private readonly StringBuilder _partial = new();
    private long _offset;
    private int _lines, _width;
    private Dictionary<string, int>? _columns;

    public string Path { get; } = path;
    public IReadOnlyList<TrainerMetrics> Rows => _rows;
    public bool Exists => _columns is not null;

    /// <summary>Whether the header names the column.</summary>
    public bool HasColumn(string name) => _columns?.ContainsKey(name) == true;

    /// <summary>Lines skipped as damaged (fewer fields than the header), and the first of them (1-based).</summary>
    public int DamagedLines { get; private set; }
    public int FirstDamagedLine { get; private set; }

    /// <summary>Characters after the last line end: a line being written, or one a crash cut off.</summary>
    public int UnterminatedLength => _partial.Length;

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
            _lines++;
            if (_columns is null)
            {
                // The first of a repeated name counts (a damaged header must not stop the reader).
                _columns = new Dictionary<string, int>(StringComparer.Ordinal);
                for (var i = 0; i < fields.Length; i++) _columns.TryAdd(fields[i].Trim(), i);
                _width = fields.Length;
                continue;
            }
            if (fields.Length < _width)
            {
                if (DamagedLines++ == 0) FirstDamagedLine = _lines;
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
