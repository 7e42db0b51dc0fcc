using MeowRobot.Campaign.Gates;
using MeowRobot.Campaign.Spec;

namespace MeowRobot.Campaign.Engines;

/// <summary>
/// What runs a campaign's runs: <see cref="LocalEngine"/> (processes on this machine) or <see cref="SlurmEngine"/> (one
/// sbatch job array). What they share is here and in <see cref="RunAttempt"/> (one attempt at a run, wherever it
/// executes): the configurations' check before anything runs, which runs still need work (training, or with gates in
/// the spec, their candidate's gate), and a run's work itself (<see cref="TrainAndGate"/>).
/// </summary>
public abstract class CampaignEngine(Campaign campaign, TextWriter log)
{
    protected Campaign Campaign { get; } = campaign;
    protected TextWriter Log { get; } = log;
    protected CandidateGate? Gate { get; } = campaign.Spec.Evaluation is null ? null : new CandidateGate(campaign, log);

    /// <summary>Runs (or submits) every run that needs it; 0 when all are done (and gated), 1 when some failed.</summary>
    public abstract Task<int> RunAsync(CancellationToken stop);

    /// <summary>The runs that still need work, in plan order, with their states: neither done nor failed
    /// <see cref="RunState.MaxAttempts"/> times, or done with their candidate not yet gated.</summary>
    protected IEnumerable<(PlannedRun Run, RunState State)> Unsettled() =>
        Campaign.Plan.Runs.Select(r => (Run: r, State: Campaign.State(r)))
            .Where(x => !x.State.Settled || (x.State.Status == RunStatus.Done && Gate is not null && !Gated(x.Run)));

    /// <summary>Every run done, and gated where the spec has gates.</summary>
    protected bool AllDone() => Campaign.Plan.Runs.All(r => Campaign.State(r).Status == RunStatus.Done && (Gate is null || Gated(r)));

    /// <summary>A run's work where it executes: an attempt at it unless it is done, then its candidate's gate (when the
    /// spec has gates and the run is done).</summary>
    internal static async Task TrainAndGate(Campaign campaign, PlannedRun run, RunPlacement placement, CandidateGate? gate, TextWriter log, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        if (campaign.State(run).Status != RunStatus.Done)
            await new RunAttempt(campaign, run, placement) { Log = log }.RunAsync(stop).ConfigureAwait(false);
        if (gate is not null && !stop.IsCancellationRequested && campaign.State(run).Status == RunStatus.Done)
            await gate.RunAsync(run, stop).ConfigureAwait(false);
    }

    /// <summary>Whether the run's candidate has its verdict. A damaged verdict (which the atomic write never leaves) is
    /// moved aside, named in the log, and the candidate gated again.</summary>
    protected bool Gated(PlannedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        try
        {
            return CandidateGate.Verdict(run) is not null;
        }
        catch (InvalidDataException e)
        {
            var aside = CandidateGate.VerdictFile(run) + ".damaged";
            File.Move(CandidateGate.VerdictFile(run), aside, overwrite: true);
            Log.WriteLine($"{e.Message}: moved to {aside}; {run.Id} is gated again");
            return false;
        }
    }

    /// <summary>Refuses (a <see cref="CampaignException"/>: exit 78, like a second runner on the directory) when runs of
    /// the campaign are queued or running as Slurm tasks: the local engine would train them a second time beside them.
    /// Where Slurm cannot be asked, it cannot tell, and refuses too. Runs whose task left the queue without recording
    /// an end (a lost node) are not in flight: the local engine takes them over from their checkpoints.</summary>
    protected void RefuseRunsInFlightInSlurm()
    {
        var submitted = Campaign.Plan.Runs.Select((r, i) => (Run: r, Index: i, State: Campaign.State(r)))
            .Where(x => x.State.Status == RunStatus.Queued || (x.State.Status == RunStatus.Running && x.State.SlurmJob is not null)).ToList();
        if (submitted.Count == 0) return;
        var jobName = SlurmCluster.JobName(Campaign);
        HashSet<int> live;
        try
        {
            live = SlurmCluster.LiveTasks(jobName).Select(t => t.Index).ToHashSet();
        }
        catch (Exception e) when (e is CampaignException or SlurmUnavailableException)
        {
            throw new CampaignException($"runs {Ids(submitted.Select(x => x.Run))} were submitted to Slurm and Slurm cannot be asked whether they still run ({e.Message}): " +
                "the local engine does not run them beside their tasks; run it where Slurm answers, or with --engine slurm", e);
        }
        var inFlight = submitted.Where(x => live.Contains(x.Index)).ToList();
        if (inFlight.Count > 0)
            throw new CampaignException($"runs {Ids(inFlight.Select(x => x.Run))} are queued or running in Slurm (job name {jobName}): the local engine would train them " +
                $"a second time; let them finish (campaign status {Campaign.Directory}), or cancel them (scancel --name={jobName}) and run it again");
    }

    /// <summary>Refuses (a <see cref="CampaignException"/>: exit 78) when runs of the campaign are still running as the
    /// local processes a stopped local runner left (recognised by their command lines naming the run's directory or
    /// endpoint): a Slurm task would train them a second time beside them. The local engine resumes them (it stops
    /// them first, checkpointed).</summary>
    protected void RefuseRunsInFlightLocally()
    {
        var running = Campaign.Plan.Runs.Select(r => (Run: r, State: Campaign.State(r)))
            .Where(x => x.State is { Status: RunStatus.Running, SlurmJob: null }
                && new[] { x.State.TrainerPid, x.State.SimPid }.Any(p => p is { } pid && ServiceExecutables.IsOurs(pid, x.Run.Directory, RunPlan.SimEndpoint(x.Run))))
            .ToList();
        if (running.Count > 0)
            throw new CampaignException($"runs {Ids(running.Select(x => x.Run))} are still running as local processes (trainer pids " +
                $"{string.Join(", ", running.Select(x => x.State.TrainerPid))}) that a stopped local runner left: the Slurm engine would train them a second time; " +
                "resume them with the local engine (campaign run SPEC --engine local stops them and resumes from their checkpoints), or stop those processes first");
    }

    private static string Ids(IEnumerable<PlannedRun> runs) => string.Join(", ", runs.Select(r => r.Id));

    /// <summary>Each configuration through <c>trainer serve --check</c> before anything runs: a learner key the trainer
    /// refuses is a spec error at that configuration's line.</summary>
    protected void Preflight()
    {
        var spec = Campaign.Spec;
        if (spec.Evaluation?.Rehearsal is not null) ServiceExecutables.Path("MeowRobot.Controller"); // its absence is found now, not after training
        for (var i = 0; i < spec.Configurations.Count; i++)
        {
            var run = Campaign.Plan.Runs.First(r => r.Configuration == spec.Configurations[i]);
            var (code, output) = ServiceExecutables.RunToEnd("MeowRobot.Trainer", Campaign.Plan.TrainerArguments(run, check: true), TimeSpan.FromMinutes(2));
            if (code != 0)
            {
                var problem = string.Join(" ", output.Split('\n').Select(l => l.Trim()).Where(l => l.Contains("Trainer:", StringComparison.Ordinal)).Take(3));
                throw new CampaignSpecException(Campaign.SpecFileName, spec.Configurations[i].Line, $"configurations[{i}]",
                    $"the trainer refuses this configuration (exit {code}): {(problem.Length > 0 ? problem : output.Trim())}");
            }
        }
    }
}
