using System.Globalization;
using MeowRobot.Hosting;

namespace MeowRobot.Campaign.Engines;

/// <summary>Where an attempt at a run executes: as children of a local runner, or inside a Slurm array task.</summary>
/// <param name="SlurmJob">The array task (ARRAYJOB_TASK) the attempt runs in; null: a local runner's children.</param>
public sealed record RunPlacement(string? SlurmJob)
{
    public static RunPlacement Local { get; } = new((string?)null);

    /// <summary>The array task this process runs in (Slurm's environment), or null outside Slurm.</summary>
    public static RunPlacement? FromSlurmEnvironment()
    {
        var job = Environment.GetEnvironmentVariable("SLURM_ARRAY_JOB_ID");
        var task = Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_ID");
        if (job is { Length: > 0 } && task is { Length: > 0 }) return new RunPlacement($"{job}_{task}");
        return Environment.GetEnvironmentVariable("SLURM_JOB_ID") is { Length: > 0 } id ? new RunPlacement(id) : null;
    }
}

/// <summary>
/// One attempt at a run, wherever it executes: starts the run's sim worker and its trainer, records them in run.json
/// (running, one attempt more), waits for the trainer and records how it ended (done when it reached the budget and
/// exited 0, else failed with the end of its log). Both engines run runs through here, so run.json means the same
/// whichever engine wrote it. A stop from the engine's side (<c>stop</c>) tells the trainer to checkpoint and stop
/// (SIGTERM), then stops the sim worker; what it means for the run differs:
/// <list type="bullet">
/// <item>local: the runner itself is stopping; the run stays <c>running</c> and the next runner resumes it;</item>
/// <item>Slurm: the task was cancelled (scancel, its time limit, preemption); the run is <c>failed</c> and the next
/// <c>campaign run</c> submits it again (up to <see cref="RunState.MaxAttempts"/>), resuming from its checkpoint.
/// The sim worker is a job step of the task (srun), so Slurm accounts, limits and signals it as part of the run;
/// it stops with the trainer, which drops the step in flight and checkpoints without it.</item>
/// </list>
/// Two attempts at one run never overlap: each holds runs/ID/attempt.lock.
/// </summary>
public sealed class RunAttempt(Campaign campaign, PlannedRun run, RunPlacement placement)
{
    public const string LockFileName = "attempt.lock";

    /// <summary>run.json's message for an attempt whose Slurm task was cancelled.</summary>
    public const string CancelledMessage = "stopped by Slurm (scancel, time limit or preemption); campaign run submits it again and it resumes from its checkpoint";

    /// <summary>How long a stopping trainer may take to checkpoint before it is killed; under Slurm less than the
    /// default KillWait (30 s), after which Slurm kills everything itself.</summary>
    public static readonly TimeSpan TrainerStopWait = TimeSpan.FromSeconds(90), SlurmTrainerStopWait = TimeSpan.FromSeconds(25);
    private static readonly TimeSpan SimStopWait = TimeSpan.FromSeconds(10);

    /// <summary>Runs the attempt to its end (or to <paramref name="stop"/>) and returns the run's state as recorded.</summary>
    public async Task<RunState> RunAsync(CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        using var held = Lock();
        var previous = campaign.State(run);
        var inSlurm = placement.SlurmJob is not null;
        using var sim = ServiceExecutables.Start("MeowRobot.Sim", campaign.Plan.SimArguments(run), Path.Combine(run.Directory, "sim.log"),
            inSlurm ? SlurmCluster.StepLauncher(SlurmCluster.SimStepName) : null);
        using var trainer = ServiceExecutables.Start("MeowRobot.Trainer", campaign.Plan.TrainerArguments(run), Path.Combine(run.Directory, "trainer.log"));
        var state = previous with
        {
            Status = RunStatus.Running,
            Attempts = previous.Attempts + 1,
            Started = previous.Started ?? DateTimeOffset.UtcNow,
            TrainerPid = trainer.Id,
            SimPid = sim.Id,
            SlurmJob = placement.SlurmJob,
            ExitCode = null,
            Message = null,
        };
        state.Write(run.StateFile);
        var where = inSlurm ? $" in Slurm task {placement.SlurmJob}" : "";
        var inv = CultureInfo.InvariantCulture;
        Log?.WriteLine(string.Create(inv, $"started {run.Id} (attempt {state.Attempts}{where}: trainer pid {trainer.Id}, sim pid {sim.Id})"));
        var stopped = false;
        try
        {
            await trainer.WaitForExitAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            stopped = true;
            await ServiceExecutables.Stop(trainer.Id, inSlurm ? SlurmTrainerStopWait : TrainerStopWait).ConfigureAwait(false);
        }
        await ServiceExecutables.Stop(sim.Id, SimStopWait).ConfigureAwait(false);
        if (stopped && !inSlurm) return state; // the runner is stopping: resumed from its checkpoint next time

        await trainer.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var code = trainer.ExitCode;
        // A trainer stopped just as it reached the budget has finished all the same.
        var done = code == 0 && (!stopped || RunProgress.Read(run.TrainerDirectory).EnvSteps >= campaign.Spec.Budget.EnvSteps);
        state = state with
        {
            Status = done ? RunStatus.Done : RunStatus.Failed,
            Finished = DateTimeOffset.UtcNow,
            TrainerPid = null,
            SimPid = null,
            ExitCode = code,
            Message = done ? null
                : stopped ? CancelledMessage
                : ServiceExecutables.LastProblem(Path.Combine(run.Directory, "trainer.log")),
        };
        state.Write(run.StateFile);
        Log?.WriteLine(string.Create(inv, $"{run.Id} {(done ? "done" : $"failed (exit {code}): {state.Message}")}"));
        return state;
    }

    /// <summary>Where the attempt reports its start and end (the runner's output, or the array task's).</summary>
    public TextWriter? Log { get; init; }

    private FileStream Lock()
    {
        var path = Path.Combine(run.Directory, LockFileName);
        return LockFile.TryTake(path) ?? throw new CampaignException($"run {run.Id} is being run by another process ({path} is locked)");
    }
}
