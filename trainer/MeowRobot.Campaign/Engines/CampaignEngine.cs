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
