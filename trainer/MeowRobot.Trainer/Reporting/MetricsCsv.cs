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
        _writer = OpenAppending(Path, Header);
    }

    /// <summary>Opens a CSV file for appending rows: the header once, when the file is new; a last line a killed
    /// process left unterminated is ended, so the next row starts clean.</summary>
    internal static StreamWriter OpenAppending(string path, string header)
    {
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        var fresh = stream.Length == 0;
        if (!fresh)
        {
            stream.Seek(-1, SeekOrigin.End);
            var last = stream.ReadByte();
            stream.Seek(0, SeekOrigin.End);
            if (last != '\n') stream.WriteByte((byte)'\n');
        }
        var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { NewLine = "\n" };
        if (fresh)
        {
            writer.WriteLine(header);
            writer.Flush();
        }
        return writer;
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

    internal static void Number(StringBuilder b, double? value, string format)
    {
        if (value is { } v && double.IsFinite(v)) b.Append(v.ToString(format, CultureInfo.InvariantCulture));
        b.Append(',');
    }

    public void Dispose() => _writer.Dispose();
}

/// <summary>
/// RunDir/episodes.csv: one line per finished training episode with the randomised parameters it was played with (the
/// domain randomisation's record, docs/operations.md). Columns: <c>time,env_steps,return,length</c>, then
/// <c>param.NAME</c> per randomised parameter, fixed for the run: a resumed run with other parameters is refused.
/// </summary>
public sealed class EpisodesCsv : IDisposable
{
    public const string FileName = "episodes.csv";
    public const string ParamColumnPrefix = "param.";

    private readonly StreamWriter _writer;
    private readonly StringBuilder _line = new(128);

    public EpisodesCsv(string runDirectory, IReadOnlyList<string> parameterNames)
    {
        ArgumentNullException.ThrowIfNull(parameterNames);
        Path = System.IO.Path.Combine(runDirectory, FileName);
        Header = string.Join(',', new[] { "time", "env_steps", "return", "length" }.Concat(parameterNames.Select(n => ParamColumnPrefix + n)));
        if (File.Exists(Path) && new FileInfo(Path).Length > 0)
        {
            using var reader = new StreamReader(Path);
            var existing = reader.ReadLine();
            if (existing != Header)
                throw new Service.TrainerSetupException($"{Path} has columns '{existing}' but this run randomises '{Header}': give the run its own Trainer:RunDir");
        }
        _writer = MetricsCsv.OpenAppending(Path, Header);
    }

    public string Path { get; }
    public string Header { get; }

    public void Append(Learner.EpisodeEnded episode)
    {
        ArgumentNullException.ThrowIfNull(episode);
        var inv = CultureInfo.InvariantCulture;
        var b = _line.Clear();
        b.Append(DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", inv)).Append(',')
         .Append(episode.EnvSteps.ToString(inv)).Append(',');
        MetricsCsv.Number(b, episode.Return, "G6");
        b.Append(episode.Length.ToString(inv));
        foreach (var v in episode.Params) b.Append(',').Append(v.ToString("G6", inv));
        _writer.WriteLine(b);
        _writer.Flush();
    }

    public void Dispose() => _writer.Dispose();
}
