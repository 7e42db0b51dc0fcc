using System.Diagnostics;
using System.Globalization;
using MeowRobot.Campaign.Spec;

namespace MeowRobot.Campaign.Engines;

/// <summary>
/// The embedded engine: runs the campaign's runs as local processes (each a <c>sim serve</c> and a <c>trainer serve</c>
/// that exits at its budget), as many at once as the spec's <c>engine.parallel</c> (default: half the cores, since a run
/// keeps two processes busy). Resumable: a run's state file records its processes; a runner started again skips runs that
/// are done, stops what a killed runner left running (SIGTERM: the trainer checkpoints as it stops) and starts those
/// runs again, which resume from their checkpoints. Children write to log files, never to the runner's pipes, so they
/// outlive a runner's death cleanly.
/// </summary>
public sealed class LocalEngine(Campaign campaign, TextWriter log)
{
    /// <summary>Runs that failed this many times are left failed (a restart of the runner does not retry them again).</summary>
    public const int MaxAttempts = 3;

    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(90);

    /// <summary>Runs every run not yet done; returns 0 when all are done, 1 when some failed, and leaves the running ones
    /// to be resumed when <paramref name="stop"/> fires (their trainers are told to checkpoint and stop).</summary>
    public async Task<int> RunAsync(CancellationToken stop)
    {
        Preflight();
        var queue = new Queue<PlannedRun>();
        foreach (var run in campaign.Plan.Runs)
        {
            var state = campaign.State(run);
            switch (state.Status)
            {
                case RunStatus.Done:
                    continue;
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
        return campaign.Plan.Runs.All(r => campaign.State(r).Status == RunStatus.Done) ? 0 : 1;
    }

    /// <summary>Each configuration through <c>trainer serve --check</c> before anything runs: a learner key the trainer
    /// refuses is a spec error at that configuration's line.</summary>
    private void Preflight()
    {
        var spec = campaign.Spec;
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

    private async Task RunOne(PlannedRun run, CancellationToken stop)
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
            await Stop(trainer.Id, StopWait).ConfigureAwait(false);
            await Stop(sim.Id, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            return;
        }
        await Stop(sim.Id, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        var code = trainer.ExitCode;
        state = state with
        {
            Status = code == 0 ? RunStatus.Done : RunStatus.Failed,
            Finished = DateTimeOffset.UtcNow,
            TrainerPid = null,
            SimPid = null,
            ExitCode = code,
            Message = code == 0 ? null : LastProblem(Path.Combine(run.Directory, "trainer.log")),
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
            if (pid is { } p && ServiceExecutables.CommandLine(p) is { } cmdline &&
                (cmdline.Contains(run.Directory, StringComparison.Ordinal) || cmdline.Contains(RunPlan.SimEndpoint(run), StringComparison.Ordinal)))
                await Stop(p, StopWait).ConfigureAwait(false);
        }
    }

    /// <summary>SIGTERM, then SIGKILL if it is still there after <paramref name="wait"/>.</summary>
    private static async Task Stop(int pid, TimeSpan wait)
    {
        if (!ServiceExecutables.Signal(pid, ServiceExecutables.SigTerm)) return;
        var deadline = DateTime.UtcNow + wait;
        while (ServiceExecutables.Alive(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                ServiceExecutables.Signal(pid, ServiceExecutables.SigKill);
                return;
            }
            await Task.Delay(100).ConfigureAwait(false); // not our child after a runner restart: no exit event to wait on
        }
    }

    /// <summary>The last error-looking lines of a log (what the run failed of), shortened.</summary>
    private static string LastProblem(string logPath)
    {
        if (!File.Exists(logPath)) return "no log";
        var lines = File.ReadAllLines(logPath).Where(l => l.Trim().Length > 0).ToArray();
        var problem = lines.LastOrDefault(l => l.Contains("fail", StringComparison.OrdinalIgnoreCase) || l.Contains("error", StringComparison.OrdinalIgnoreCase)
            || l.Contains("exception", StringComparison.OrdinalIgnoreCase)) ?? lines.LastOrDefault() ?? "empty log";
        problem = problem.Trim();
        return problem.Length > 300 ? problem[..300] + "…" : problem;
    }
}
