using System.Diagnostics;
using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Control.Safety;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Learner;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Tasks;
using MeowRobot.Tasks.MuJoCo;
using MeowRobot.Trainer.Reporting;
using Microsoft.Extensions.Logging;

namespace MeowRobot.Trainer.Service;

/// <summary>Where the run stands (published by the training thread, read by anyone).</summary>
/// <param name="ResumedFrom">The checkpoint's counters when this process resumed a run, else null.</param>
public sealed record TrainerProgress(string Task, long EnvSteps, long Updates, double UpdatesPerSecond, double? LastEvalReturn,
    ulong PublishedVersion, bool Done, RunCounters? ResumedFrom);

/// <summary>A configuration that only shows to be wrong at start (the sim workers serve another task, the run directory is
/// damaged or in use): `serve` exits 78.</summary>
public sealed class TrainerSetupException(string message, Exception? inner = null) : ConfigurationProblemException(message, inner)
{
    public TrainerSetupException() : this("the trainer cannot start") { }

    public TrainerSetupException(string message) : this(message, null) { }
}

/// <summary>
/// One process's share of a training run, on the thread that owns the sim connection (<see cref="VectorEnvClient"/>
/// must be driven by the thread that made it). The constructor does the whole setup (connect, build the learner,
/// resume, bind the publisher); <see cref="Train"/> steps until the budget or the stop, at step boundaries only, and
/// writes the final checkpoint. A stop while a sim worker is awaited (gone, or stopping with this process, as every
/// step of a cancelled Slurm job does) abandons the step in flight: the checkpoint holds the run as of the last whole step.
/// </summary>
internal sealed partial class TrainingRun : IDisposable
{
    private readonly TrainerOptions _o;
    private readonly ILogger _log;
    private readonly Action<TrainerProgress> _progress;
    private readonly IVectorEnv _env;
    private readonly IVectorEnv? _evalEnv;
    private readonly OffPolicyLearner _learner;
    private readonly RunCheckpoint _checkpoints;
    private readonly BundleStream _bundles;
    private readonly RunRecord _record;
    private readonly EpisodesCsv _episodesCsv;
    private readonly RunCounters? _resumedFrom;
    private readonly double _wallBase;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly FileStream? _lock;
    private readonly CancellationToken _stop;

    private Evaluation? _lastEval;

    public TrainingRun(TrainerOptions options, ILogger logger, Action<TrainerProgress> progress, CancellationToken stop)
    {
        _o = options;
        _stop = stop;
        _log = logger;
        _progress = progress;
        Directory.CreateDirectory(options.RunDir);
        _checkpoints = new RunCheckpoint(options.RunDir);
        try
        {
            _lock = LockRunDirectory(options.RunDir);
            // The run directory is judged before any socket is opened: a damaged run or version file stops the start here.
            var temp = Path.Combine(options.RunDir, RunCheckpoint.TempFileName);
            if (File.Exists(temp)) LogStaleTemp(_log, temp);
            var candidates = _checkpoints.FindResumable((path, why) => LogSkipped(_log, path, why));
            var recordedVersion = BundleStream.ReadVersionFile(options.RunDir);
            var client = SimClient(options.SimEndpoints, options);
            _env = client;
            if (options.Randomisation() is { Count: > 0 } randomisation)
            {
                try
                {
                    client.SetRandomisation(randomisation);
                }
                catch (Exception e) when (e is ArgumentException or NotSupportedException)
                {
                    throw new TrainerSetupException($"Trainer:Randomise: {e.Message}", e);
                }
            }
            var actuator = ActuatorFor(options);
            if (actuator is not null) _env = new ActuatedVectorEnv(client, actuator);
            var spec = _env.Spec;
            if (options.Task is { } expected && !string.Equals(expected, spec.Name, StringComparison.OrdinalIgnoreCase))
                throw new TrainerSetupException($"Trainer:Task is '{expected}' but the sim workers at {string.Join(", ", options.SimEndpoints)} serve '{spec.Name}'");
            Task = spec.Name;
            var setup = LearnerSettingsFor(options, spec);
            _evalEnv = setup.Loop.EvalEvery > 0 ? EvalEnv(options, spec) : null;
            if (actuator is not null && _evalEnv is not null) _evalEnv = new ActuatedVectorEnv(_evalEnv, actuator);
            if (actuator is not null) LogActuator(_log, options.ActuatorConfig!, actuator.Describe());
            _learner = setup.CreateLearner(_env, _evalEnv);
            _learner.Reported += Observe;
            var loop = setup.Loop;
            LogConnected(_log, spec.Name, spec.ObsDim, spec.ActDim, _env.NumEnvs, options.SimEndpoints.Length, setup.Describe(),
                loop.BufferCapacity, loop.EvalEvery, _evalEnv is null ? "none" : Unwrapped(_evalEnv) is VectorEnvClient ? "sim workers" : "in-process");

            _resumedFrom = Resume(spec, candidates);
            _bundles = new BundleStream(options, Math.Max(_resumedFrom?.PublishedVersion ?? 0, recordedVersion));
            if (_bundles.PublishEndpoint is { } pub)
            {
                if (options.AllowedRobotKeysDir is null) LogPublishingToAny(_log, pub, _bundles.SnapshotEndpoint!);
                else LogPublishing(_log, pub, _bundles.SnapshotEndpoint!, _bundles.AllowedRobots, options.AllowedRobotKeysDir);
                if (options.AllowedRobotKeysDir is { } dir && _bundles.AllowedRobots == 0) LogNoRobots(_log, dir);
            }
            _record = new RunRecord(options.RunDir, new RunConfig("trainer serve", setup.Algorithm.Name(), spec.Name, spec.ObsDim, spec.ActDim, options.Seed,
                RunConfig.Of(setup), options), _learner.EnvSteps, _learner.Updates);
            _episodesCsv = new EpisodesCsv(options.RunDir, _env.Randomisation.Select(d => d.Name).ToArray());
            _wallBase = _resumedFrom?.WallSeconds ?? 0;
            if (_resumedFrom is not null)
            {
                Row("resume", eval: null);
                // Robots may have lost the stream with the previous process: give them this run's policy at once.
                Publish();
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Task { get; } = "";
    public PolicyBundle? LatestBundle => _bundles?.Latest;

    /// <summary>Trains until Trainer:TotalEnvSteps or the stop, then checkpoints. True when the budget was reached.</summary>
    public bool Train()
    {
        var o = _o;
        long Next(long value, long every) => every > 0 ? (value / every + 1) * every : long.MaxValue;
        var evalEvery = _evalEnv is null ? 0 : _learner.Options.EvalEvery;
        long nextRow = Next(_learner.EnvSteps, o.MetricsEveryEnvSteps), nextEval = Next(_learner.EnvSteps, evalEvery);
        long nextPublish = Next(_learner.Updates, o.PublishEveryUpdates), nextStepCheckpoint = Next(_learner.EnvSteps, o.CheckpointEveryEnvSteps ?? 0);
        var nextCheckpointAt = _clock.Elapsed + o.CheckpointInterval;
        var publishedAt = _learner.Updates;
        LogTraining(_log, _learner.EnvSteps, o.TotalEnvSteps);
        if (o.TotalEnvSteps <= _learner.Options.LearningStarts)
            LogNeverLearns(_log, o.TotalEnvSteps, _learner.Options.LearningStarts);
        try
        {
            while (_learner.EnvSteps < o.TotalEnvSteps && !_stop.IsCancellationRequested)
            {
                _learner.Step();
                if (_learner.Updates >= nextPublish)
                {
                    Publish();
                    publishedAt = _learner.Updates;
                    nextPublish = Next(publishedAt, o.PublishEveryUpdates);
                }
                var rowDue = _learner.EnvSteps >= nextRow;
                if (rowDue)
                {
                    Row("train", eval: null);
                    nextRow = Next(_learner.EnvSteps, o.MetricsEveryEnvSteps);
                }
                if (_learner.EnvSteps >= nextEval)
                {
                    Row("eval", _learner.Evaluate());
                    nextEval = Next(_learner.EnvSteps, evalEvery);
                }
                if (_learner.EnvSteps >= nextStepCheckpoint || _clock.Elapsed >= nextCheckpointAt)
                {
                    TryCheckpoint("scheduled");
                    nextStepCheckpoint = Next(_learner.EnvSteps, o.CheckpointEveryEnvSteps ?? 0);
                    nextCheckpointAt = _clock.Elapsed + o.CheckpointInterval;
                }
                if (rowDue) Report();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            LogAbandonedStep(_log, _learner.EnvSteps);
        }
        var done = _learner.EnvSteps >= o.TotalEnvSteps;
        if (done)
        {
            if (_learner.Updates != publishedAt) Publish();
            if (evalEvery > 0 && _lastEval?.EnvSteps != _learner.EnvSteps) FinalEvaluation();
            LogDone(_log, _learner.EnvSteps, _learner.Updates, Wall);
            if (_learner.Updates == 0) LogNeverLearned(_log, _learner.EnvSteps, _learner.Options.LearningStarts);
        }
        Checkpoint(done ? "done" : "stop");
        if (done) _record.End(success: true);
        Report(done);
        return done;
    }

    /// <summary>The evaluation at the budget. A stop during it (its eval sim workers gone, say) leaves the run done without
    /// it: the checkpoint is still "done", and a trainer started again on the run evaluates it before anything else.</summary>
    private void FinalEvaluation()
    {
        try
        {
            Row("eval", _learner.Evaluate());
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            LogFinalEvaluationStopped(_log, _learner.EnvSteps);
        }
    }

    /// <summary>Closes the sim connections, the publisher and the CSV (on the thread that made them).</summary>
    public void Dispose()
    {
        _record?.Dispose();
        _episodesCsv?.Dispose();
        _bundles?.Dispose();
        _evalEnv?.Dispose();
        _env?.Dispose();
        _lock?.Dispose();
    }

    /// <summary>Two trainers writing one run directory would interleave checkpoints and metrics: the second one is refused.</summary>
    private static FileStream LockRunDirectory(string runDirectory) => RunsDirectory.TryLock(runDirectory)
        ?? throw new TrainerSetupException($"Trainer:RunDir {runDirectory} is in use by another trainer process ({Path.Combine(runDirectory, RunsDirectory.LockFileName)} is locked)");

    private double Wall => _wallBase + _clock.Elapsed.TotalSeconds;

    private static AlgorithmSetup LearnerSettingsFor(TrainerOptions o, TaskSpec spec)
    {
        if (!PolicyAlgorithms.TryParse(o.Algorithm, out var algorithm) || !AlgorithmSetup.CanTrain(algorithm))
            throw new TrainerSetupException($"Trainer:Algorithm '{o.Algorithm}' cannot be trained"); // --check reports it first
        var setup = o.Learner.Apply(AlgorithmSetup.For(algorithm, spec.Name, spec.ObsDim, spec.ActDim));
        setup = setup with
        {
            Loop = setup.Loop with { Seed = o.Seed, EvalEvery = o.EvalEvery ?? setup.Loop.EvalEvery, EvalEpisodes = o.EvalEpisodes ?? setup.Loop.EvalEpisodes },
        };
        try
        {
            setup.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            // A key that is fine alone but not with the task's preset (SigmaMin above the preset's SigmaMax, …).
            throw new TrainerSetupException($"Trainer:Learner:{e.ParamName}: {e.Message.Split(" (Parameter")[0]} (with the preset of task '{spec.Name}')", e);
        }
        return setup;
    }

    /// <summary>A client of the sim workers at <paramref name="endpoints"/> whose losses and recoveries are logged.</summary>
    private VectorEnvClient SimClient(string[] endpoints, TrainerOptions o)
    {
        var client = new VectorEnvClient(endpoints, SimClientOptions(o));
        client.WorkerLost += (_, e) => LogWorkerLost(_log, e.ToString());
        client.WorkerRecovered += (_, e) => LogWorkerRecovered(_log, e.ToString());
        return client;
    }

    /// <summary>The sim client's options: the give-up time, and CURVE with the trainer's key when the workers' key is set.</summary>
    private VectorEnvClientOptions SimClientOptions(TrainerOptions o) => new()
    {
        GiveUpAfter = o.SimGiveUpAfter,
        Stopping = _stop,
        Curve = o.SimServerKeyFile is null ? null : SimClientCurve.Load(o.SecretKeyFile!, o.SimServerKeyFile),
    };

    /// <summary>The simulation under the actuator model, if one is applied.</summary>
    private static IVectorEnv Unwrapped(IVectorEnv env) => env is ActuatedVectorEnv a ? a.Inner : env;

    /// <summary>The robot's actuator model from Trainer:ActuatorConfig (a controller configuration file), if set.</summary>
    private static ActuatorModel? ActuatorFor(TrainerOptions o)
    {
        if (o.ActuatorConfig is not { } path) return null;
        try
        {
            return ActuatorModel.Load(path);
        }
        catch (Exception e) when (e is InvalidControlOptionsException or IOException)
        {
            throw new TrainerSetupException($"Trainer:ActuatorConfig {path}: {e.Message}", e);
        }
    }

    private IVectorEnv? EvalEnv(TrainerOptions o, TaskSpec spec)
    {
        if (o.EvalSimEndpoints.Length > 0)
        {
            var eval = SimClient(o.EvalSimEndpoints, o);
            if (_env.Randomisation.Count > 0)
            {
                try
                {
                    eval.SetRandomisation(_env.Randomisation);
                }
                catch (Exception e) when (e is ArgumentException or NotSupportedException)
                {
                    eval.Dispose();
                    throw new TrainerSetupException($"Trainer:EvalSimEndpoints: {e.Message}", e);
                }
            }
            if (eval.Spec.Name != spec.Name || eval.Spec.ObsDim != spec.ObsDim || eval.Spec.ActDim != spec.ActDim)
            {
                eval.Dispose();
                throw new TrainerSetupException($"Trainer:EvalSimEndpoints serve '{eval.Spec.Name}' ({eval.Spec.ObsDim}, {eval.Spec.ActDim}), " +
                    $"the training workers '{spec.Name}' ({spec.ObsDim}, {spec.ActDim})");
            }
            return eval;
        }
        // In-process, with the workers' parameters and randomisation: evaluation sees the physics training sees (a MuJoCo
        // task on Trainer:EvalModel, which must be the workers' model: its sizes are checked, its contents cannot be).
        if (TaskCatalog.TryGet(spec.Name, out var entry) && Unwrapped(_env) is VectorEnvClient client)
        {
            if (!entry.TakesModel && o.EvalModel is not null)
                throw new TrainerSetupException($"Trainer:EvalModel: task '{spec.Name}' takes no model (it is evaluated in-process without one)");
            if (!entry.TakesModel || o.EvalModel is not null)
                return InProcessEvalEnv(o, spec, client);
        }
        LogNoEvaluation(_log, spec.Name);
        return null;
    }

    private static LocalVectorEnv InProcessEvalEnv(TrainerOptions o, TaskSpec spec, VectorEnvClient client)
    {
        LocalVectorEnv env;
        try
        {
            env = TaskCatalog.CreateVectorEnv(spec.Name, 1, o.EvalModel is { } model ? new TaskOptions(model) : null, unchecked(o.Seed + 10_000),
                client.Workers[0].Params, client.Randomisation);
        }
        catch (Exception e) when (o.EvalModel is not null && e is ArgumentException or MuJoCoException or IOException)
        {
            throw new TrainerSetupException($"Trainer:EvalModel {o.EvalModel}: {e.Message}", e);
        }
        if (env.Spec.ObsDim != spec.ObsDim || env.Spec.ActDim != spec.ActDim)
        {
            env.Dispose();
            throw new TrainerSetupException($"Trainer:EvalModel {o.EvalModel} makes '{spec.Name}' ({env.Spec.ObsDim}, {env.Spec.ActDim}), " +
                $"the training workers serve ({spec.ObsDim}, {spec.ActDim}): give it the workers' model");
        }
        return env;
    }

    /// <summary>Loads the newest intact checkpoint of RunDir, if any; one that is intact but does not fit this
    /// configuration (another task, network or buffer) stops the start rather than being overwritten.</summary>
    private RunCounters? Resume(TaskSpec spec, IReadOnlyList<CheckpointCandidate> candidates)
    {
        foreach (var c in candidates)
        {
            var k = c.Counters;
            if (k.Task != spec.Name || k.ObsDim != spec.ObsDim || k.ActDim != spec.ActDim)
                throw new TrainerSetupException($"{c.Path} is a run of task '{k.Task}' ({k.ObsDim}, {k.ActDim}) but the sim workers serve '{spec.Name}' " +
                    $"({spec.ObsDim}, {spec.ActDim}): give this run its own Trainer:RunDir");
            try
            {
                using var state = RunCheckpoint.OpenLearnerState(c);
                _learner.LoadCheckpoint(state);
                if (state.Position != c.LearnerOffset + c.LearnerLength) throw new InvalidDataException("the learner's state does not end where the file says");
            }
            catch (InvalidDataException e)
            {
                throw new TrainerSetupException($"{c.Path} does not fit this configuration ({e.Message}); restore the run's Trainer:Learner settings " +
                    "or give a new run its own Trainer:RunDir", e);
            }
            LogResumed(_log, c.Path, k.EnvSteps, k.Updates, k.PublishedVersion, k.SavedAt.ToString("u", CultureInfo.InvariantCulture));
            return k;
        }
        LogFresh(_log, _o.RunDir);
        return null;
    }

    private void Observe(LearnerEvent e)
    {
        _record.Observe(e);
        if (e is EpisodeEnded ep) _episodesCsv.Append(ep);
        if (e is Evaluated ev) _lastEval = ev.Result;
    }

    private void Row(string kind, Evaluation? eval)
    {
        var row = _record.Row(kind, _learner.EnvSteps, _learner.Updates, _bundles.Version, Wall, eval);
        if (kind == "train")
            LogRow(_log, row.EnvSteps, row.Updates, row.UpdatesPerSecond ?? 0, Text(row.EpisodeReturnMean), Text(row.Loss), Text(row.GradNorm), row.PublishedVersion);
        else if (eval is not null)
            LogEval(_log, eval.EnvSteps, eval.MeanReturn, eval.StdReturn, eval.Episodes);
    }

    private static string Text(double? v) => v is { } x ? x.ToString("G5", CultureInfo.InvariantCulture) : "-";

    private void Publish()
    {
        var bundle = _bundles.Publish(version => PolicyFor(version), Task);
        LogPublished(_log, bundle.Version, _learner.Updates, _learner.EnvSteps, bundle.PolicyBytes.Length);
    }

    private PolicyFile PolicyFor(ulong? version) => _learner.ExportPolicy(m => m with
    {
        Robot = PolicyIdentity.AnyRobot,
        Version = version,
        Source = "MeowRobot trainer",
        Extra =
        [
            .. m.Extra,
            new("meow.trainer.env_steps", _learner.EnvSteps.ToString(CultureInfo.InvariantCulture)),
            new("meow.trainer.updates", _learner.Updates.ToString(CultureInfo.InvariantCulture)),
        ],
    });

    private void TryCheckpoint(string why)
    {
        try
        {
            Checkpoint(why);
        }
        catch (IOException e)
        {
            // A full disk must not end the run: the previous checkpoint stays, and the next one is tried on schedule.
            LogCheckpointFailed(_log, e.Message);
        }
    }

    private void Checkpoint(string why)
    {
        var started = Stopwatch.GetTimestamp();
        var counters = new RunCounters(Task, _learner.Spec.ObsDim, _learner.Spec.ActDim, _learner.EnvSteps, _learner.Updates, _bundles.Version,
            Wall, DateTimeOffset.UtcNow);
        var bytes = _checkpoints.Save(counters, _learner.SaveCheckpoint);
        var policy = PolicyFor(_bundles.Version == 0 ? null : _bundles.Version).ToBytes();
        AtomicFile.Write(Path.Combine(_o.RunDir, TrainerService.PolicyFileName), s => s.Write(policy));
        LogCheckpoint(_log, why, counters.EnvSteps, counters.Updates, bytes, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Where the run stands, to the progress callback: its owner calls it once the run is constructed (so that
    /// a handler reading the owner's latest bundle sees this run's), then Train after each metrics row and at the end.</summary>
    public void Report(bool done = false) => _progress(new TrainerProgress(Task, _learner.EnvSteps, _learner.Updates, _record?.UpdatesPerSecond ?? 0,
        _lastEval?.MeanReturn, _bundles.Version, done, _resumedFrom));

    [LoggerMessage(1, LogLevel.Information, "connected: task {Task} ({ObsDim} obs, {ActDim} act), {Envs} envs on {Workers} sim worker(s); {Settings}, buffer {Buffer}, eval every {EvalEvery} env steps ({EvalEnv})")]
    private static partial void LogConnected(ILogger logger, string task, int obsDim, int actDim, int envs, int workers, string settings, int buffer, int evalEvery, string evalEnv);

    [LoggerMessage(2, LogLevel.Information, "resumed from {Path}: env step {EnvSteps}, update {Updates}, published version {Version} (saved {SavedAt})")]
    private static partial void LogResumed(ILogger logger, string path, long envSteps, long updates, ulong version, string savedAt);

    [LoggerMessage(3, LogLevel.Warning, "skipping checkpoint {Path}: {Why}")]
    private static partial void LogSkipped(ILogger logger, string path, string why);

    [LoggerMessage(4, LogLevel.Information, "no checkpoint in {RunDir}: starting a new run")]
    private static partial void LogFresh(ILogger logger, string runDir);

    [LoggerMessage(5, LogLevel.Information, "checkpoint ({Why}) at env step {EnvSteps}, update {Updates}: {Bytes} bytes in {Ms:F0} ms")]
    private static partial void LogCheckpoint(ILogger logger, string why, long envSteps, long updates, long bytes, double ms);

    [LoggerMessage(6, LogLevel.Error, "checkpoint failed (the previous one stays; retrying on schedule): {Why}")]
    private static partial void LogCheckpointFailed(ILogger logger, string why);

    [LoggerMessage(7, LogLevel.Information, "published policy version {Version} (update {Updates}, env step {EnvSteps}, {Bytes} bytes)")]
    private static partial void LogPublished(ILogger logger, ulong version, long updates, long envSteps, int bytes);

    [LoggerMessage(8, LogLevel.Information, "step {EnvSteps} updates {Updates} ({UpdatesPerSecond:F1}/s) episode_return {EpisodeReturn} loss {Loss} grad_norm {GradNorm} published {Version}")]
    private static partial void LogRow(ILogger logger, long envSteps, long updates, double updatesPerSecond, string episodeReturn, string loss, string gradNorm, ulong version);

    [LoggerMessage(9, LogLevel.Information, "evaluation at env step {EnvSteps}: return {Mean:F1} ± {Std:F1} over {Episodes} episodes")]
    private static partial void LogEval(ILogger logger, long envSteps, double mean, double std, int episodes);

    [LoggerMessage(10, LogLevel.Information, "training from env step {EnvSteps} to {Total}")]
    private static partial void LogTraining(ILogger logger, long envSteps, long total);

    [LoggerMessage(11, LogLevel.Information, "done: {EnvSteps} env steps, {Updates} updates, {Wall:F0} s of training")]
    private static partial void LogDone(ILogger logger, long envSteps, long updates, double wall);

    [LoggerMessage(12, LogLevel.Warning, "no evaluation: task {Task} is not built in; set Trainer:EvalModel (the workers' MJCF file) to evaluate it in-process, or Trainer:EvalSimEndpoints to evaluate on sim workers")]
    private static partial void LogNoEvaluation(ILogger logger, string task);

    [LoggerMessage(13, LogLevel.Information, "publishing bundles on {Publish} (snapshots on {Snapshot}) to {Robots} allow-listed robot key(s) from {Dir}")]
    private static partial void LogPublishing(ILogger logger, string publish, string snapshot, int robots, string dir);

    [LoggerMessage(18, LogLevel.Information, "publishing bundles on {Publish} (snapshots on {Snapshot}) to any robot holding the trainer's public key (no Trainer:AllowedRobotKeysDir)")]
    private static partial void LogPublishingToAny(ILogger logger, string publish, string snapshot);

    [LoggerMessage(14, LogLevel.Warning, "no robot public keys (*.key) in Trainer:AllowedRobotKeysDir {Dir}: no robot can subscribe until one is added and the trainer restarted (or unset the key to admit any robot holding the trainer's public key)")]
    private static partial void LogNoRobots(ILogger logger, string dir);

    [LoggerMessage(15, LogLevel.Information, "ignoring {Path}: an unfinished checkpoint of an earlier process (the next checkpoint replaces it)")]
    private static partial void LogStaleTemp(ILogger logger, string path);

    [LoggerMessage(16, LogLevel.Warning, "{Event}")]
    private static partial void LogWorkerLost(ILogger logger, string @event);

    [LoggerMessage(18, LogLevel.Information, "actuator model from {Path}: {Model}")]
    private static partial void LogActuator(ILogger logger, string path, string model);

    [LoggerMessage(19, LogLevel.Warning, "Trainer:TotalEnvSteps {Total} ends before learning starts ({LearningStarts} random-action env steps): no gradient update will run and the published policy stays as initialised")]
    private static partial void LogNeverLearns(ILogger logger, long total, int learningStarts);

    [LoggerMessage(20, LogLevel.Warning, "the run never learned: {EnvSteps} env steps, 0 updates (learning starts at {LearningStarts}); its policy is the initial one")]
    private static partial void LogNeverLearned(ILogger logger, long envSteps, int learningStarts);

    [LoggerMessage(21, LogLevel.Information, "stopping while waiting on a sim worker: the step in flight is dropped; the run stands at env step {EnvSteps}")]
    private static partial void LogAbandonedStep(ILogger logger, long envSteps);

    [LoggerMessage(22, LogLevel.Warning, "stopping during the final evaluation: the run is done at env step {EnvSteps} without it (a trainer started again on this run evaluates it)")]
    private static partial void LogFinalEvaluationStopped(ILogger logger, long envSteps);

    [LoggerMessage(17, LogLevel.Information, "{Event}")]
    private static partial void LogWorkerRecovered(ILogger logger, string @event);
}
