using System.Globalization;
using MeowRobot.Hosting.Systemd;
using MeowRobot.Policy.Bundles;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeowRobot.Trainer.Service;

/// <summary>
/// The body of <c>trainer serve</c>: the learner (MEow, SAC or S2AC) against the sim workers on a dedicated thread (not the thread pool: a
/// learner step is seconds of CPU at a time and the sim connection belongs to one thread), publishing policy bundles,
/// checkpointing and writing metrics (<see cref="TrainingRun"/>). <see cref="StartAsync"/> returns once the workers
/// answered, the run is resumed and the publisher is bound, so READY=1 means training. A stop (SIGTERM) ends
/// training at a step boundary and writes a checkpoint before the host's ShutdownTimeout.
/// </summary>
public sealed partial class TrainerService(IOptions<TrainerOptions> options, SystemdNotifier notifier, IHostApplicationLifetime lifetime,
    ILogger<TrainerService> logger) : BackgroundService
{
    /// <summary>RunDir/policy.safetensors: the policy as of the latest checkpoint.</summary>
    public const string PolicyFileName = "policy.safetensors";

    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile TrainerProgress? _progress;
    private volatile TrainingRun? _run;

    /// <summary>Where the run stands; null until started.</summary>
    public TrainerProgress? Progress => _progress;

    /// <summary>The newest bundle this process published.</summary>
    public PolicyBundle? LatestBundle => _run?.LatestBundle;

    /// <summary>Raised on the training thread after each metrics row, and when training ends. Handlers must be quick.</summary>
    public event Action<TrainerProgress>? Reported;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var thread = new Thread(Run) { Name = "meow-trainer", IsBackground = true };
        thread.Start();
        try
        {
            await _ready.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        stoppingToken.Register(_stop.Cancel);
        return _finished.Task;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _stop.Dispose();
        base.Dispose();
    }

    private void Run()
    {
        var o = options.Value;
        TrainingRun run;
        try
        {
            notifier.Status($"connecting to {o.SimEndpoints.Length} sim worker(s)");
            run = new TrainingRun(o, logger, OnProgress, _stop.Token);
            _run = run;
            run.Report();
        }
#pragma warning disable CA1031 // handed to StartAsync, which fails the start with it
        catch (Exception e)
#pragma warning restore CA1031
        {
            _ready.TrySetException(e);
            return;
        }
        try
        {
            _ready.TrySetResult();
            var done = run.Train();
            if (done && o.StopWhenDone)
            {
                lifetime.StopApplication();
            }
            else if (done)
            {
                // Keep the publisher up: robots that (re)connect still get the final policy from the snapshot socket.
                _stop.Token.WaitHandle.WaitOne();
            }
            run.Dispose();
            LogStopped(logger);
            _finished.TrySetResult();
        }
#pragma warning disable CA1031 // faults the service's task: the host stops and `serve` exits 1, so systemd restarts it
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogFailed(logger, e);
            run.Dispose();
            _finished.TrySetException(e);
        }
    }

    private void OnProgress(TrainerProgress p)
    {
        _progress = p;
        notifier.Status(Status(p));
        Reported?.Invoke(p);
    }

    /// <summary>The STATUS= line: <c>pendulum: 12000/50000 env steps, 310.5 updates/s, eval -182.3, published v12</c>.</summary>
    public static string Status(TrainerProgress p)
    {
        ArgumentNullException.ThrowIfNull(p);
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv, $"{(p.Done ? "done" : "training")} {p.Task}: {p.EnvSteps} env steps, {p.Updates} updates, {p.UpdatesPerSecond:F1} updates/s, ") +
            (p.LastEvalReturn is { } r ? string.Create(inv, $"eval return {r:F1}") : "no eval yet") +
            (p.PublishedVersion > 0 ? string.Create(inv, $", published v{p.PublishedVersion}") : ", nothing published");
    }

    [LoggerMessage(1, LogLevel.Information, "trainer stopped: sim connections and publisher closed")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(2, LogLevel.Critical, "training failed; the last checkpoint is kept and a restart resumes from it")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
