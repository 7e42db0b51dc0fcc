using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using MeowRobot.Campaign.Engines;
using MeowRobot.Control.RobotIo;
using MeowRobot.Policy.Files;

namespace MeowRobot.Campaign.Gates;

/// <summary>
/// Gates one candidate (a finished run's final policy) with real processes, as a run trains with them: <c>trainer policy
/// eval</c> on the held-out randomisation, then the same seeds rehearsed through <c>controller run --episodes</c> with the
/// robot's controller configuration; the spec's gates decide, and the verdict with its evidence goes to
/// runs/ID/gate/verdict.json (<see cref="GateVerdict"/>), the tools' outputs and logs beside it. Resumable: a verdict
/// written is final (not redone); a gate interrupted before its verdict (the runner killed or stopped) is redone from
/// the start, after the tool a killed runner left running is stopped (its pid is in gate/state.json). Either engine
/// calls <see cref="RunAsync"/> once a run is done.
/// </summary>
public sealed class CandidateGate(Campaign campaign, TextWriter log)
{
    /// <summary>A tool that crashes (any exit but 0, or 2 and 78 which refuse the candidate or the arguments) is run again,
    /// up to this many times, before the candidate's verdict says it could not be evaluated.</summary>
    public const int MaxToolAttempts = 3;

    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(10);

    private readonly EvaluationPlan _plan = campaign.Spec.Evaluation ?? throw new ArgumentException("the campaign's spec has no evaluation and gates");

    public static string DirectoryOf(PlannedRun run) => Path.Combine(run.Directory, "gate");

    public static string VerdictFile(PlannedRun run) => Path.Combine(DirectoryOf(run), GateVerdict.FileName);

    /// <summary>The candidate's verdict, or null when it has not been gated (<see cref="InvalidDataException"/> for a damaged one).</summary>
    public static GateVerdict? Verdict(PlannedRun run) => GateVerdict.Read(VerdictFile(run));

    /// <summary>Gates <paramref name="run"/>'s candidate and writes its verdict; null when <paramref name="stop"/> fired
    /// first (the tool in flight is stopped, nothing is written, and the gate is redone next time).</summary>
    public async Task<GateVerdict?> RunAsync(PlannedRun run, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(run);
        var dir = DirectoryOf(run);
        Directory.CreateDirectory(dir);
        await StopLeftovers(run).ConfigureAwait(false);
        foreach (var stale in new[] { EvalOutput(run), RehearsalOutput(run) }) File.Delete(stale);

        var verdict = new GateVerdict
        {
            Candidate = run.Id,
            Policy = Path.GetRelativePath(campaign.Directory, run.PolicyFile),
            Configuration = run.Configuration.Name,
            Seed = run.Seed,
        };
        try
        {
            var policy = PolicyFile.Load(run.PolicyFile);
            verdict = verdict with
            {
                PolicySha256 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(run.PolicyFile))),
                Algorithm = policy.Metadata.Algorithm.Name(),
            };
        }
        catch (Exception e) when (e is PolicyFileException or IOException or UnauthorizedAccessException)
        {
            return Decide(run, verdict with { Error = $"the candidate's policy file cannot be evaluated: {e.Message}" });
        }
        var inv = CultureInfo.InvariantCulture;
        log.WriteLine(string.Create(inv, $"gating {run.Id}: policy eval of {_plan.Episodes} held-out episodes (seed {_plan.Seed})") +
            (_plan.Rehearsal is { } r ? string.Create(inv, $", rehearsal of {r.Episodes} through the controller at {r.LoopRateHz:0.#} Hz") : ""));

        var eval = await Tool(run, "policy-eval", "MeowRobot.Trainer", EvalArguments(run), EvalOutput(run), "policy eval:", _plan.Episodes,
            TimeSpan.FromSeconds(120 + 0.005 * _plan.Episodes * _plan.EpisodeSteps), stop).ConfigureAwait(false);
        if (eval.Stopped) return null;
        if (eval.Error is { } evalError) return Decide(run, verdict with { Error = evalError });
        verdict = verdict with { Eval = GateVerdict.EvalFrom(eval.Report!, _plan.Seed) };

        if (_plan.Rehearsal is { } rehearsal)
        {
            var realTime = rehearsal.Episodes * _plan.EpisodeSteps / rehearsal.StepRateHz;
            var run2 = await Tool(run, "rehearsal", "MeowRobot.Controller", RehearsalArguments(run, rehearsal), RehearsalOutput(run), "controller run:",
                rehearsal.Episodes, TimeSpan.FromSeconds(120 + 2 * realTime), stop).ConfigureAwait(false);
            if (run2.Stopped) return null;
            if (run2.Error is { } rehearsalError) return Decide(run, verdict with { Error = rehearsalError });
            try
            {
                verdict = verdict with { Rehearsal = GateVerdict.RehearsalFrom(run2.Report!, _plan.Seed, rehearsal.ControllerConfig) };
            }
            catch (InvalidDataException e)
            {
                return Decide(run, verdict with { Error = $"rehearsal: {e.Message}" });
            }
        }
        var checks = GateVerdict.Apply(_plan.Gates, verdict.Eval, verdict.Rehearsal);
        return Decide(run, verdict with { Checks = checks, Passed = checks.All(c => c.Passed) });
    }

    /// <summary><c>trainer policy eval</c> of the candidate: the campaign's task and fixed parameters, the held-out
    /// randomisation, episodes seeded <c>seed + i</c>.</summary>
    public IReadOnlyList<string> EvalArguments(PlannedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var inv = CultureInfo.InvariantCulture;
        return
        [
            "policy", "eval", "--weights", run.PolicyFile, .. TaskArguments(), "--episodes", _plan.Episodes.ToString(inv),
            "--seed", _plan.Seed.ToString(inv), "--output", EvalOutput(run),
        ];
    }

    /// <summary><c>controller run --episodes</c> of the candidate: the same task, parameters, randomisation and seeds,
    /// with the robot's controller configuration (envelope, loop rate, plant rate).</summary>
    public IReadOnlyList<string> RehearsalArguments(PlannedRun run, RehearsalPlan rehearsal)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(rehearsal);
        var inv = CultureInfo.InvariantCulture;
        return
        [
            "run", "--weights", run.PolicyFile, .. TaskArguments(), "--episodes", rehearsal.Episodes.ToString(inv),
            "--seed", _plan.Seed.ToString(inv), "--actuator", rehearsal.ControllerConfig, "--output", RehearsalOutput(run),
        ];
    }

    private IEnumerable<string> TaskArguments()
    {
        var spec = campaign.Spec;
        yield return "--task";
        yield return spec.Task;
        if (spec.Model is { } model)
        {
            yield return "--model";
            yield return model;
        }
        foreach (var (name, value) in spec.Params)
        {
            yield return "--param";
            yield return $"{name}={value.ToString("R", CultureInfo.InvariantCulture)}";
        }
        foreach (var d in _plan.Randomise)
        {
            yield return "--randomise";
            yield return d.ToString();
        }
    }

    private static string EvalOutput(PlannedRun run) => Path.Combine(DirectoryOf(run), "policy-eval.json");

    private static string RehearsalOutput(PlannedRun run) => Path.Combine(DirectoryOf(run), "rehearsal.json");

    private static string StateFile(PlannedRun run) => Path.Combine(DirectoryOf(run), "state.json");

    private GateVerdict Decide(PlannedRun run, GateVerdict verdict)
    {
        verdict = verdict with { EvaluatedAt = DateTime.UtcNow };
        verdict.Write(VerdictFile(run));
        File.Delete(StateFile(run));
        log.WriteLine($"{run.Id} gate: {(verdict.Passed ? "passed" : "failed: " + verdict.Why())}");
        return verdict;
    }

    private sealed record ToolResult(EpisodeReport? Report, string? Error, bool Stopped);

    /// <summary>Runs one tool to its end (its output appended to gate/NAME.log), again after a crash up to
    /// <see cref="MaxToolAttempts"/> times; its report, or why there is none.</summary>
    private async Task<ToolResult> Tool(PlannedRun run, string name, string project, IReadOnlyList<string> args, string output, string prefix,
        int episodes, TimeSpan timeout, CancellationToken stop)
    {
        var logPath = Path.Combine(DirectoryOf(run), name + ".log");
        string? why = null;
        for (var attempt = 1; attempt <= MaxToolAttempts; attempt++)
        {
            File.AppendAllText(logPath, $"--- {name} attempt {attempt} at {DateTime.UtcNow:O}\n");
            using var process = ServiceExecutables.Start(project, args, logPath);
            new GateState(name, attempt, process.Id).Write(StateFile(run));
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop);
            limit.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                await ServiceExecutables.Stop(process.Id, StopWait).ConfigureAwait(false);
                if (stop.IsCancellationRequested) return new ToolResult(null, null, Stopped: true);
                why = string.Create(CultureInfo.InvariantCulture, $"{name} did not finish within {timeout.TotalSeconds:F0} s");
                log.WriteLine($"{run.Id} gate: {why} (attempt {attempt} of {MaxToolAttempts})");
                continue;
            }
            var code = process.ExitCode;
            if (code is 2 or 78)
                return new ToolResult(null, $"{name}: refused (exit {code}): {Problem(logPath, prefix)}", Stopped: false);
            if (code == 0)
            {
                try
                {
                    var report = EpisodeReport.Load(output);
                    return report.Episodes.Count == episodes
                        ? new ToolResult(report, null, Stopped: false)
                        : new ToolResult(null, $"{name}: {report.Episodes.Count} of {episodes} episodes reported", Stopped: false);
                }
                catch (Exception e) when (e is InvalidDataException or IOException)
                {
                    why = $"{name}: exit 0 but no report ({e.Message})";
                }
            }
            else
            {
                why = $"{name} crashed (exit {code}): {Problem(logPath, prefix)}";
            }
            log.WriteLine($"{run.Id} gate: {why} (attempt {attempt} of {MaxToolAttempts})");
        }
        return new ToolResult(null, $"{why} ({MaxToolAttempts} attempts)", Stopped: false);
    }

    /// <summary>The tool's own last complaint in its log (lines start with its name), else the log's last problem.</summary>
    private static string Problem(string logPath, string prefix) =>
        File.ReadAllLines(logPath).LastOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal) && !l.Contains("warning", StringComparison.Ordinal)) is { } line
            ? line[prefix.Length..].Trim()
            : ServiceExecutables.LastProblem(logPath);

    /// <summary>A tool a killed runner left running for this candidate, recognised by its command line naming the gate's directory.</summary>
    private static async Task StopLeftovers(PlannedRun run)
    {
        if (GateState.Read(StateFile(run)) is { } state)
            await ServiceExecutables.StopIfOurs(state.Pid, StopWait, DirectoryOf(run)).ConfigureAwait(false);
    }

    /// <summary>gate/state.json: the tool in flight (removed with the verdict), so that a restarted runner can stop it.</summary>
    private sealed record GateState(string Tool, int Attempt, int Pid)
    {
        private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

        public static GateState? Read(string path)
        {
            try
            {
                return CampaignJson.Read<GateState>(path, "a gate state", Json);
            }
            catch (InvalidDataException)
            {
                return null; // written whole, so never half; anything else names no process of ours to stop
            }
        }

        public void Write(string path) => CampaignJson.Write(path, this, Json);
    }
}
