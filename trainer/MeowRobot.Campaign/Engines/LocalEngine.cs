using System.Diagnostics;
using System.Globalization;
using MeowRobot.Campaign.Gates;
using MeowRobot.Campaign.Spec;

namespace MeowRobot.Campaign.Engines;

/// <summary>
/// The embedded engine: runs the campaign's runs as local processes (each a <c>sim serve</c> and a <c>trainer serve</c>
/// that exits at its budget), as many at once as the spec's <c>engine.parallel</c> (default: half the cores, since a run
/// keeps two processes busy). Resumable: a run's state file records its processes; a runner started again skips runs that
/// are done, stops what a killed runner left running (SIGTERM: the trainer checkpoints as it stops) and starts those
/// runs again, which resume from their checkpoints. Children write to log files, never to the runner's pipes, so they
/// outlive a runner's death cleanly. With gates in the spec, a run that is done has its candidate gated in the same slot
/// (<see cref="CandidateGate"/>); a done run without a verdict is gated when the runner starts again.
/// </summary>
public sealed class LocalEngine(Campaign campaign, TextWriter log)
{
    private readonly CandidateGate? _gate = campaign.Spec.Evaluation is null ? null : new CandidateGate(campaign, log);

    /// <summary>Runs that failed this many times are left failed (a restart of the runner does not retry them again).</summary>
    public const int MaxAttempts = 3;

    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(90);

    /// <summary>Runs every run not yet done and gates every candidate not yet gated; returns 0 when all are done (and
    /// gated), 1 when some failed, and leaves the running ones to be resumed when <paramref name="stop"/> fires (their
    /// trainers are told to checkpoint and stop; a gate in flight is redone).</summary>
    public async Task<int> RunAsync(CancellationToken stop)
    {
        Preflight();
        var queue = new Queue<PlannedRun>();
        foreach (var run in campaign.Plan.Runs)
        {
            var state = campaign.State(run);
            switch (state.Status)
            {
                case RunStatus.Done when _gate is null || Gated(run):
                    continue;
                case RunStatus.Done:
                    break;
                case RunStatus.Failed when state.Attempts >= MaxAttempts:
                    continue;
                case RunStatus.Running:
                    await StopOrphans(run, state).ConfigureAwait(false);
                    log.WriteLine($"resuming {run.Id} from its checkpoint (its runner was stopped)");
                    break;
            }
            queue.Enqueue(run);
        }
        log.WriteLine(campaign.Summary());
        var active = new List<Task>();
        while ((queue.Count > 0 && !stop.IsCancellationRequested) || active.Count > 0)
        {
            while (active.Count < campaign.Spec.Parallel && queue.Count > 0 && !stop.IsCancellationRequested)
                active.Add(RunOne(queue.Dequeue(), stop));
            var finished = await Task.WhenAny(active).ConfigureAwait(false);
            active.Remove(finished);
            await finished.ConfigureAwait(false);
            log.WriteLine(campaign.Summary());
        }
        return campaign.Plan.Runs.All(r => campaign.State(r).Status == RunStatus.Done && (_gate is null || Gated(r))) ? 0 : 1;
    }

    /// <summary>Whether the run's candidate has its verdict. A damaged verdict (which the atomic write never leaves) is
    /// moved aside, named in the log, and the candidate gated again.</summary>
    private bool Gated(PlannedRun run)
    {
        try
        {
            return CandidateGate.Verdict(run) is not null;
        }
        catch (InvalidDataException e)
        {
            var aside = CandidateGate.VerdictFile(run) + ".damaged";
            File.Move(CandidateGate.VerdictFile(run), aside, overwrite: true);
            log.WriteLine($"{e.Message}: moved to {aside}; {run.Id} is gated again");
            return false;
        }
    }

    /// <summary>Each configuration through <c>trainer serve --check</c> before anything runs: a learner key the trainer
    /// refuses is a spec error at that configuration's line.</summary>
    private void Preflight()
    {
        var spec = campaign.Spec;
        if (spec.Evaluation?.Rehearsal is not null) ServiceExecutables.Path("MeowRobot.Controller"); // its absence is found now, not after training
        for (var i = 0; i < spec.Configurations.Count; i++)
        {
            var run = campaign.Plan.Runs.First(r => r.Configuration == spec.Configurations[i]);
            var (code, output) = ServiceExecutables.RunToEnd("MeowRobot.Trainer", campaign.Plan.TrainerArguments(run, check: true), TimeSpan.FromMinutes(2));
            if (code != 0)
            {
                var problem = string.Join(" ", output.Split('\n').Select(l => l.Trim()).Where(l => l.Contains("Trainer:", StringComparison.Ordinal)).Take(3));
                throw new CampaignSpecException(Campaign.SpecFileName, spec.Configurations[i].Line, $"configurations[{i}]",
                    $"the trainer refuses this configuration (exit {code}): {(problem.Length > 0 ? problem : output.Trim())}");
            }
        }
    }

    /// <summary>Trains the run unless it is done, then gates its candidate (when the spec has gates).</summary>
    private async Task RunOne(PlannedRun run, CancellationToken stop)
    {
        if (campaign.State(run).Status != RunStatus.Done) await Train(run, stop).ConfigureAwait(false);
        if (_gate is not null && !stop.IsCancellationRequested && campaign.State(run).Status == RunStatus.Done)
            await _gate.RunAsync(run, stop).ConfigureAwait(false);
    }

    private async Task Train(PlannedRun run, CancellationToken stop)
    {
        var previous = campaign.State(run);
        using var sim = ServiceExecutables.Start("MeowRobot.Sim", campaign.Plan.SimArguments(run), Path.Combine(run.Directory, "sim.log"));
        using var trainer = ServiceExecutables.Start("MeowRobot.Trainer", campaign.Plan.TrainerArguments(run), Path.Combine(run.Directory, "trainer.log"));
        var state = previous with
        {
            Status = RunStatus.Running,
            Attempts = previous.Attempts + 1,
            Started = previous.Started ?? DateTimeOffset.UtcNow,
            TrainerPid = trainer.Id,
            SimPid = sim.Id,
            ExitCode = null,
            Message = null,
        };
        state.Write(run.StateFile);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"started {run.Id} (attempt {state.Attempts}: trainer pid {trainer.Id}, sim pid {sim.Id})"));
        try
        {
            await trainer.WaitForExitAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The runner is stopping: the trainer checkpoints on SIGTERM; the run stays "running" and resumes next time.
            await ServiceExecutables.Stop(trainer.Id, StopWait).ConfigureAwait(false);
            await ServiceExecutables.Stop(sim.Id, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            return;
        }
        await ServiceExecutables.Stop(sim.Id, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        var code = trainer.ExitCode;
        state = state with
        {
            Status = code == 0 ? RunStatus.Done : RunStatus.Failed,
            Finished = DateTimeOffset.UtcNow,
            TrainerPid = null,
            SimPid = null,
            ExitCode = code,
            Message = code == 0 ? null : ServiceExecutables.LastProblem(Path.Combine(run.Directory, "trainer.log")),
        };
        state.Write(run.StateFile);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{run.Id} {(code == 0 ? "done" : $"failed (exit {code}): {state.Message}")}"));
    }

    /// <summary>Stops the processes a killed runner left for <paramref name="run"/>, recognised by their command lines
    /// naming the run's directory or endpoint (a recycled pid is left alone).</summary>
    private static async Task StopOrphans(PlannedRun run, RunState state)
    {
        foreach (var pid in new[] { state.TrainerPid, state.SimPid })
        {
            if (pid is { } p) await ServiceExecutables.StopIfOurs(p, StopWait, run.Directory, RunPlan.SimEndpoint(run)).ConfigureAwait(false);
        }
    }
}
