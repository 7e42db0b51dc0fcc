using System.Diagnostics;
using MeowRobot.Learner;
using MeowRobot.Trainer.Reporting.TensorBoard;

namespace MeowRobot.Trainer.Reporting;

/// <summary>
/// A training run's records in its directory, written as the learner reports (the same for <c>trainer learn</c>,
/// <c>trainer serve</c> and campaign runs, whatever the algorithm): config.json (<see cref="RunConfig"/>), metrics.csv
/// rows (<see cref="MetricsCsv"/>) and a TensorBoard event file (<see cref="EventFile"/>) with the same numbers:
/// <list type="bullet">
/// <item><c>train/episode_return</c>, <c>train/episode_length</c>: each finished training episode, at its env step;</item>
/// <item>at each metrics row: the means since the previous row of the update statistics (<see cref="UpdateScalars"/>:
/// losses, gradient norm, Q and TD-target means), <c>charts/alpha</c>, <c>perf/updates_per_s</c>, <c>perf/env_steps_per_s</c>;</item>
/// <item><c>eval/return_mean</c>, <c>eval/return_std</c>, <c>eval/length_mean</c>: each deterministic evaluation;</item>
/// <item>the hyperparameters as a text summary (<c>config</c>) and as the hparams plugin's experiment and session records.</item>
/// </list>
/// The x axis (the event's step) is env steps, as CleanRL's global_step. Events are flushed with each row.
/// </summary>
public sealed class RunRecord : IDisposable
{
    public const string EpisodeReturn = "train/episode_return";
    public const string EpisodeLength = "train/episode_length";
    public const string EvalReturnMean = "eval/return_mean";
    public const string EvalReturnStd = "eval/return_std";
    public const string EvalLengthMean = "eval/length_mean";
    public const string UpdatesPerSecondTag = "perf/updates_per_s";
    public const string EnvStepsPerSecondTag = "perf/env_steps_per_s";

    private readonly MetricsCsv _csv;
    private readonly EventFile _events;
    private readonly double? _alpha;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<string, (double Sum, int Count)> _updates = new(StringComparer.Ordinal);
    private readonly List<string> _updateTags = [];
    private double _episodeReturns, _episodeLengths;
    private int _episodes;
    private long _rowEnvSteps, _rowUpdates;
    private TimeSpan _rowAt;

    /// <param name="envSteps">The run's counters where this process starts (a resumed run's checkpoint), for the first row's rates.</param>
    public RunRecord(string runDirectory, RunConfig config, long envSteps = 0, long updates = 0)
    {
        _rowEnvSteps = envSteps;
        _rowUpdates = updates;
        ArgumentNullException.ThrowIfNull(config);
        Directory.CreateDirectory(runDirectory);
        var now = DateTimeOffset.UtcNow;
        WriteConfig(runDirectory, config.ToJson(now));
        _csv = new MetricsCsv(runDirectory);
        try
        {
            _events = new EventFile(runDirectory, now);
            _events.Text("config", 0, now, config.ToMarkdown());
            _events.HParams(config.Hyperparameters, [EvalReturnMean, EpisodeReturn, UpdateScalars.Loss], Path.GetFileName(Path.GetFullPath(runDirectory)), now);
            _events.Flush();
        }
        catch
        {
            _csv.Dispose();
            throw;
        }
        _alpha = config.Hyperparameters.FirstOrDefault(h => h.Name == "alpha").Value is double a ? a : null;
    }

    public string MetricsPath => _csv.Path;
    public string EventsPath => _events.Path;

    /// <summary>Updates per second over the last train row's interval (0 before the first).</summary>
    public double UpdatesPerSecond { get; private set; }

    /// <summary>Takes one learner event (on the learner's thread).</summary>
    public void Observe(LearnerEvent e)
    {
        switch (e)
        {
            case EpisodeEnded ep:
                _episodeReturns += ep.Return;
                _episodeLengths += ep.Length;
                _episodes++;
                _events.Scalars(ep.EnvSteps, DateTimeOffset.UtcNow, [new(EpisodeReturn, ep.Return), new(EpisodeLength, ep.Length)]);
                break;
            case Updated u:
                foreach (var (tag, value) in UpdateScalars.Of(u.Stats))
                {
                    if (!_updates.TryGetValue(tag, out var acc)) _updateTags.Add(tag);
                    _updates[tag] = (acc.Sum + value, acc.Count + 1);
                }
                break;
        }
    }

    /// <summary>
    /// Appends a metrics row and its events. <c>train</c> rows carry the means since the previous train row and the
    /// rates over its interval, <c>eval</c> rows an evaluation, <c>resume</c> rows only the counters.
    /// </summary>
    public MetricsRow Row(string kind, long envSteps, long updates, ulong publishedVersion, double wallSeconds, Evaluation? eval = null)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var time = DateTimeOffset.UtcNow;
        var now = _clock.Elapsed;
        var train = kind == "train";
        double? Mean(double sum, int n) => train && n > 0 ? sum / n : null;
        double? UpdateMean(string tag) => train && _updates.TryGetValue(tag, out var a) && a.Count > 0 ? a.Sum / a.Count : null;
        double? updatesPerSecond = null, envStepsPerSecond = null;
        var seconds = (now - _rowAt).TotalSeconds;
        if (train && seconds > 0)
        {
            updatesPerSecond = UpdatesPerSecond = (updates - _rowUpdates) / seconds;
            envStepsPerSecond = (envSteps - _rowEnvSteps) / seconds;
        }
        var row = new MetricsRow(time, kind, envSteps, updates, updatesPerSecond, envStepsPerSecond,
            Mean(_episodeReturns, _episodes), UpdateMean(UpdateScalars.Loss), UpdateMean(UpdateScalars.GradNorm), UpdateMean(UpdateScalars.MeanQ),
            eval?.MeanReturn, eval?.StdReturn, publishedVersion, wallSeconds,
            Mean(_episodeLengths, _episodes), UpdateMean(UpdateScalars.MeanTarget), eval?.MeanLength);
        _csv.Append(row);

        var scalars = new List<KeyValuePair<string, double>>();
        if (train)
        {
            foreach (var tag in _updateTags)
                if (UpdateMean(tag) is { } m) scalars.Add(new(tag, m));
            // A fixed α (MEow's) is the configuration's; a learned one (SAC's) comes with the updates.
            if (_alpha is { } alpha && !_updates.ContainsKey(UpdateScalars.Alpha)) scalars.Add(new(UpdateScalars.Alpha, alpha));
            if (updatesPerSecond is { } u) scalars.Add(new(UpdatesPerSecondTag, u));
            if (envStepsPerSecond is { } s) scalars.Add(new(EnvStepsPerSecondTag, s));
            _episodeReturns = _episodeLengths = 0;
            _episodes = 0;
            _updates.Clear();
            _updateTags.Clear();
            _rowEnvSteps = envSteps;
            _rowUpdates = updates;
            _rowAt = now;
        }
        if (eval is not null)
        {
            scalars.Add(new(EvalReturnMean, eval.MeanReturn));
            scalars.Add(new(EvalReturnStd, eval.StdReturn));
            scalars.Add(new(EvalLengthMean, eval.MeanLength));
        }
        _events.Scalars(envSteps, time, scalars);
        _events.Flush();
        return row;
    }

    /// <summary>Records how the run ended (the hparams plugin's session status) and flushes.</summary>
    public void End(bool success)
    {
        _events.SessionEnd(success ? SessionStatus.Success : SessionStatus.Failure, DateTimeOffset.UtcNow);
        _events.Flush();
    }

    public void Dispose()
    {
        _events.Dispose();
        _csv.Dispose();
    }

    private static void WriteConfig(string runDirectory, string json)
    {
        var path = Path.Combine(runDirectory, RunConfig.FileName);
        if (File.Exists(path)) File.Copy(path, Path.Combine(runDirectory, RunConfig.PreviousFileName), overwrite: true);
        Service.AtomicFile.WriteAllText(path, json + "\n");
    }
}
