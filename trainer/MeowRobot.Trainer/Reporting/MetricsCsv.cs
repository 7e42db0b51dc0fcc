using System.Globalization;
using System.Text;

namespace MeowRobot.Trainer.Reporting;

/// <summary>One row of RunDir/metrics.csv. Null fields are written empty (e.g. no episode finished since the last row).</summary>
/// <param name="Event"><c>train</c> (every Trainer:MetricsEveryEnvSteps), <c>eval</c> (each evaluation), <c>resume</c>
/// (a process resumed the run from a checkpoint: rows after it continue from that checkpoint's counters).</param>
public sealed record MetricsRow(DateTimeOffset Time, string Event, long EnvSteps, long Updates, double? UpdatesPerSecond, double? EnvStepsPerSecond,
    double? EpisodeReturnMean, double? Loss, double? GradNorm, double? MeanQ, double? EvalReturnMean, double? EvalReturnStd,
    ulong PublishedVersion, double WallSeconds, double? EpisodeLengthMean = null, double? MeanTarget = null, double? EvalLengthMean = null);

/// <summary>
/// RunDir/metrics.csv: the run's curves (beside them, the same numbers as TensorBoard events: <see cref="RunRecord"/>), appended one flushed line at a time so a reader (the demo, a plot) sees each
/// row as soon as it is written. The header is written once, when the file is new; the columns are a stable interface
/// (docs/operations.md): new ones are only ever added at the end.
/// </summary>
public sealed class MetricsCsv : IDisposable
{
    public const string FileName = "metrics.csv";

    public const string Header = "time,event,env_steps,updates,updates_per_s,env_steps_per_s,episode_return_mean,loss,grad_norm,mean_q," +
        "eval_return_mean,eval_return_std,published_version,wall_s,episode_length_mean,mean_target,eval_length_mean";

    private readonly StreamWriter _writer;
    private readonly StringBuilder _line = new(256);

    public MetricsCsv(string runDirectory)
    {
        Path = System.IO.Path.Combine(runDirectory, FileName);
        var stream = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        var fresh = stream.Length == 0;
        if (!fresh)
        {
            // A process killed in the middle of a line leaves it unterminated: end it, so the next row starts clean.
            stream.Seek(-1, SeekOrigin.End);
            var last = stream.ReadByte();
            stream.Seek(0, SeekOrigin.End);
            if (last != '\n') stream.WriteByte((byte)'\n');
        }
        _writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { NewLine = "\n" };
        if (fresh)
        {
            _writer.WriteLine(Header);
            _writer.Flush();
        }
    }

    public string Path { get; }

    public void Append(MetricsRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var inv = CultureInfo.InvariantCulture;
        var b = _line.Clear();
        b.Append(row.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", inv)).Append(',')
         .Append(row.Event).Append(',')
         .Append(row.EnvSteps.ToString(inv)).Append(',')
         .Append(row.Updates.ToString(inv)).Append(',');
        Number(b, row.UpdatesPerSecond, "F2");
        Number(b, row.EnvStepsPerSecond, "F1");
        Number(b, row.EpisodeReturnMean, "G6");
        Number(b, row.Loss, "G6");
        Number(b, row.GradNorm, "G6");
        Number(b, row.MeanQ, "G6");
        Number(b, row.EvalReturnMean, "G6");
        Number(b, row.EvalReturnStd, "G6");
        b.Append(row.PublishedVersion.ToString(inv)).Append(',')
         .Append(row.WallSeconds.ToString("F1", inv)).Append(',');
        Number(b, row.EpisodeLengthMean, "G6");
        Number(b, row.MeanTarget, "G6");
        Number(b, row.EvalLengthMean, "G6");
        b.Length--; // the last field's comma
        _writer.WriteLine(b);
        _writer.Flush();
    }

    private static void Number(StringBuilder b, double? value, string format)
    {
        if (value is { } v && double.IsFinite(v)) b.Append(v.ToString(format, CultureInfo.InvariantCulture));
        b.Append(',');
    }

    public void Dispose() => _writer.Dispose();
}
