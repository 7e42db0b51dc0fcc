using System.Globalization;
using System.Text;
using MeowRobot.Campaign.Gates;
using MeowRobot.Campaign.Spec;

namespace MeowRobot.Campaign.Engines;

/// <summary>
/// The Slurm engine: the runs that need an attempt go as one sbatch job array (array task i = the plan's run i), each
/// task running <c>campaign task DIR i</c>, which is one <see cref="RunAttempt"/>: the run's sim worker and its trainer
/// inside the task, state written to the run's run.json on the shared campaign directory. Nothing in a task needs the
/// submitting process: it may exit at once (<c>--detach</c>) or die; it only follows squeue and the state files.
/// <para>Resumable as the local engine: submitting again skips runs that are done and runs still live in Slurm (found
/// in squeue by the campaign directory's job name), and submits the rest again: pending ones, failed ones (a cancelled
/// task is failed) up to <see cref="RunState.MaxAttempts"/>, and ones whose task ended without recording an end (a
/// node lost, SIGKILL), which resume from their checkpoints.</para>
/// </summary>
public sealed class SlurmEngine(Campaign campaign, EngineSpec engine, TextWriter log) : CampaignEngine(campaign, log)
{
    public const string Folder = "slurm";
    public const string ScriptName = "task.sh";

    private static readonly TimeSpan FollowEvery = TimeSpan.FromSeconds(2);

    /// <summary>Only submit; do not follow the array to its end.</summary>
    public bool Detach { get; init; }

    /// <summary>Submits what needs it (under the campaign's lock), then, unless <see cref="Detach"/>, follows the campaign's
    /// tasks until none is live: 0 when every run is done, 1 otherwise. Stopping the follower stops nothing in Slurm.</summary>
    public override async Task<int> RunAsync(CancellationToken stop)
    {
        Preflight();
        RefuseRunsInFlightLocally();
        var jobName = SlurmCluster.JobName(Campaign);
        // squeue before the state files: a task that leaves the queue has written its end first.
        var live = SlurmCluster.LiveTasks(jobName).Select(t => t.Index).ToHashSet();
        SlurmCluster.StepLauncher(SlurmCluster.SimStepName); // no srun (the sim workers' job steps): found now, not in every task
        var due = Unsettled().Where(x => !live.Contains(Index(x.Run))).ToArray();
        if (live.Count > 0)
            Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{live.Count} run(s) still queued or running in Slurm (job name {jobName}): not submitted again"));
        if (due.Length == 0)
        {
            Log.WriteLine("nothing to submit");
        }
        else
        {
            var script = WriteScript();
            foreach (var (run, state) in due)
                (state with { Status = RunStatus.Queued, TrainerPid = null, SimPid = null, SlurmJob = null, ExitCode = null, Message = null }).Write(run.StateFile);
            string job;
            try
            {
                job = SlurmCluster.SubmitArray(script, due.Select(x => Index(x.Run)), engine.Parallel, SbatchOptions(jobName));
            }
            catch
            {
                foreach (var (run, state) in due) state.Write(run.StateFile); // nothing was submitted: as it was
                throw;
            }
            Log.WriteLine($"submitted job array {job} ({jobName}): {string.Join(", ", due.Select(x => $"{job}_{Index(x.Run)} {x.Run.Id}"))}");
        }
        Campaign.ReleaseLock(); // following only reads: another `campaign run` may submit meanwhile
        if (Detach)
        {
            Log.WriteLine(Campaign.Summary());
            return 0;
        }
        return await Follow(jobName, stop).ConfigureAwait(false);
    }

    /// <summary>Prints the summary on every change until no task of the campaign is live in Slurm.</summary>
    private async Task<int> Follow(string jobName, CancellationToken stop)
    {
        string? last = null;
        while (!stop.IsCancellationRequested)
        {
            IReadOnlyList<SlurmTask> live;
            try
            {
                live = SlurmCluster.LiveTasks(jobName);
            }
            catch (SlurmUnavailableException e)
            {
                Log.WriteLine($"Slurm does not answer ({e.Message}); still following");
                await Wait(stop).ConfigureAwait(false);
                continue;
            }
            var summary = Campaign.Summary() + string.Create(CultureInfo.InvariantCulture, $" [Slurm: {live.Count(t => t.State == "RUNNING")} running, {live.Count(t => t.State == "PENDING")} pending]");
            if (summary != last) Log.WriteLine(last = summary);
            if (live.Count == 0) return AllDone() ? 0 : 1;
            await Wait(stop).ConfigureAwait(false);
        }
        Log.WriteLine($"stopped following; the runs go on in Slurm (campaign status {Campaign.Directory})");
        return 1;
    }

    private static async Task Wait(CancellationToken stop)
    {
        try
        {
            await Task.Delay(FollowEvery, stop).ConfigureAwait(false); // squeue has no change notification to wait on
        }
        catch (OperationCanceledException)
        {
        }
    }

    private int Index(PlannedRun run)
    {
        for (var i = 0; i < Campaign.Plan.Runs.Count; i++)
            if (Campaign.Plan.Runs[i] == run) return i;
        throw new ArgumentException($"{run.Id} is not a run of this campaign", nameof(run));
    }

    private List<string> SbatchOptions(string jobName)
    {
        var folder = Path.Combine(Campaign.Directory, Folder);
        var options = new List<string>
        {
            $"--job-name={jobName}",
            $"--output={Path.Combine(folder, "%A_%a.out")}",
            $"--chdir={Campaign.Directory}",
            "--ntasks=1",
            string.Create(CultureInfo.InvariantCulture, $"--cpus-per-task={engine.CpusPerRun}"),
            // A task is resubmitted by `campaign run` (with its attempt counted), not requeued behind its back.
            "--no-requeue",
        };
        if (engine.Partition is { } partition) options.Add($"--partition={partition}");
        if (engine.TimeLimit is { } time) options.Add($"--time={time}");
        if (engine.MemPerRun is { } mem) options.Add($"--mem={mem}");
        if (engine.Account is { } account) options.Add($"--account={account}");
        if (engine.Qos is { } qos) options.Add($"--qos={qos}");
        return options;
    }

    /// <summary>DIR/slurm/task.sh (read by sbatch, so it needs no execute bit): what every array task runs (this program, by absolute path: the campaign directory
    /// and the built executables must be at the same paths on every node, e.g. on shared storage).</summary>
    private string WriteScript()
    {
        var folder = Path.Combine(Campaign.Directory, Folder);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, ScriptName);
        var text = new StringBuilder()
            .Append("#!/bin/sh\n")
            .Append($"# Campaign {Campaign.Spec.Name}: array task i runs the plan's run i (docs/campaigns.md, \"Slurm\"). Written by campaign run --engine slurm.\n")
            .Append($"exec {Quote(ServiceExecutables.Path("MeowRobot.Campaign"))} task {Quote(Campaign.Directory)} \"$SLURM_ARRAY_TASK_ID\"\n")
            .ToString();
        if (!File.Exists(path) || File.ReadAllText(path) != text)
        {
            File.WriteAllText(path + ".tmp", text, new UTF8Encoding(false));
            File.Move(path + ".tmp", path, overwrite: true);
        }
        return path;
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>What <c>campaign task DIR INDEX</c> does inside an array task: one attempt at run INDEX, then (with gates
    /// in the spec) its candidate's gate, as the local engine does in a run's slot.</summary>
    public static async Task<int> RunTaskAsync(Campaign campaign, int index, TextWriter log, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        if (index < 0 || index >= campaign.Plan.Runs.Count)
            throw new CampaignException(string.Create(CultureInfo.InvariantCulture, $"campaign {campaign.Spec.Name} has runs 0–{campaign.Plan.Runs.Count - 1}, not {index}"));
        var placement = RunPlacement.FromSlurmEnvironment() ?? throw new CampaignException("campaign task runs inside a Slurm job (no SLURM_JOB_ID here)");
        var run = campaign.Plan.Runs[index];
        var gate = campaign.Spec.Evaluation is null ? null : new CandidateGate(campaign, log);
        await TrainAndGate(campaign, run, placement, gate, log, stop).ConfigureAwait(false);
        return campaign.State(run).Status == RunStatus.Done && (gate is null || CandidateGate.Verdict(run) is not null) ? 0 : 1;
    }
}
