namespace MeowRobot.Campaign.Engines;

/// <summary>
/// The embedded engine: runs the campaign's runs as local processes (each a <see cref="RunAttempt"/>: a <c>sim serve</c>
/// and a <c>trainer serve</c> that exits at its budget), as many at once as the spec's <c>engine.parallel</c> (default:
/// half the cores, since a run keeps two processes busy). Resumable: a run's state file records its processes; a runner
/// started again skips runs that are done, stops what a killed runner left running (SIGTERM: the trainer checkpoints as
/// it stops) and starts those runs again, which resume from their checkpoints. Children write to log files, never to the
/// runner's pipes, so they outlive a runner's death cleanly. With gates in the spec, a run that is done has its candidate
/// gated in the same slot (<see cref="Gates.CandidateGate"/>); a done run without a verdict is gated when the runner
/// starts again.
/// </summary>
public sealed class LocalEngine(Campaign campaign, TextWriter log) : CampaignEngine(campaign, log)
{
    /// <summary>Runs every run not yet done and gates every candidate not yet gated; returns 0 when all are done (and
    /// gated), 1 when some failed, and leaves the running ones to be resumed when <paramref name="stop"/> fires (their
    /// trainers are told to checkpoint and stop; a gate in flight is redone).</summary>
    public override async Task<int> RunAsync(CancellationToken stop)
    {
        Preflight();
        RefuseRunsInFlightInSlurm();
        var queue = new Queue<PlannedRun>();
        foreach (var (run, state) in Unsettled())
        {
            if (state.Status == RunStatus.Running)
            {
                await StopOrphans(run, state).ConfigureAwait(false);
                Log.WriteLine($"resuming {run.Id} from its checkpoint (its runner was stopped)");
            }
            queue.Enqueue(run);
        }
        Log.WriteLine(Campaign.Summary());
        var active = new List<Task>();
        while ((queue.Count > 0 && !stop.IsCancellationRequested) || active.Count > 0)
        {
            while (active.Count < Campaign.Spec.Parallel && queue.Count > 0 && !stop.IsCancellationRequested)
                active.Add(TrainAndGate(Campaign, queue.Dequeue(), RunPlacement.Local, Gate, Log, stop));
            var finished = await Task.WhenAny(active).ConfigureAwait(false);
            active.Remove(finished);
            await finished.ConfigureAwait(false);
            Log.WriteLine(Campaign.Summary());
        }
        return AllDone() ? 0 : 1;
    }

    /// <summary>Stops the processes a killed runner left for <paramref name="run"/>, recognised by their command lines
    /// naming the run's directory or endpoint (a recycled pid is left alone).</summary>
    private static async Task StopOrphans(PlannedRun run, RunState state)
    {
        foreach (var pid in new[] { state.TrainerPid, state.SimPid })
        {
            if (pid is { } p) await ServiceExecutables.StopIfOurs(p, RunAttempt.TrainerStopWait, run.Directory, RunPlan.SimEndpoint(run)).ConfigureAwait(false);
        }
    }
}
