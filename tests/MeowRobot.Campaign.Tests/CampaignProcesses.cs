using System.Diagnostics;
using System.Globalization;
using MeowRobot.Campaign.Engines;

namespace MeowRobot.Campaign.Tests;

/// <summary>What the end-to-end campaign tests share: the built runner as a process, waiting on a condition, and
/// cleaning up whatever a failed test left running in its directory.</summary>
internal static class CampaignProcesses
{
    public static readonly TimeSpan Wait = TimeSpan.FromMinutes(5);

    /// <summary>The test campaigns' task, after their name: Pendulum, 2 envs, mass and length randomised per episode.</summary>
    public const string PendulumRandomised = """
        task: pendulum
        envs: 2
        randomise:
          mass: uniform(0.7, 1.3)
          length: uniform(0.8, 1.2)
        """;

    /// <summary>The engine tests' runs: MEow at two temperatures × 2 seeds, 1 200 env steps each (far too few to learn:
    /// a test of the engine), checkpoints every 200 and metrics every 100 env steps.</summary>
    public const string EngineTestRuns = """
        configurations:
          - name: alpha-0.1
            learner: { Alpha: 0.1, Hidden: 16, ShiftHidden: 16, BatchSize: 32, LearningStarts: 200 }
          - name: alpha-0.3
            learner: { Alpha: 0.3, Hidden: 16, ShiftHidden: 16, BatchSize: 32, LearningStarts: 200 }
        seeds: [1, 2]
        budget:
          env_steps: 1200
          eval_every: 600
          eval_episodes: 2
          checkpoint_every: 200
          metrics_every: 100
        """;

    /// <summary><c>campaign run SPEC --dir DIR</c>, its output to <paramref name="log"/> (a file: the runner may be killed).</summary>
    public static Process Runner(string spec, string campaignDir, string log) => Runner(log, null, "run", spec, "--dir", campaignDir);

    /// <summary><c>campaign ARGS…</c> (with extra environment variables), its output to <paramref name="log"/>.</summary>
    public static Process Runner(string log, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var a in new[] { "-c", "log=$1; shift; exec \"$@\" >\"$log\" 2>&1", "sh", log, ServiceExecutables.Path("MeowRobot.Campaign") }.Concat(args))
            info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        return Process.Start(info)!;
    }

    /// <summary><c>campaign ARGS…</c> to its end (bounded), its output through <paramref name="log"/>: exit code and output.</summary>
    public static (int Code, string Output) RunToEnd(string log, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var p = Runner(log, environment, args);
        Assert.True(p.WaitForExit(Wait), $"campaign {string.Join(' ', args)} did not finish");
        return (p.ExitCode, File.ReadAllText(log));
    }

    /// <summary>A command (a Slurm client: squeue, scancel, scontrol) to its end: its stdout and stderr.</summary>
    public static string Command(string exe, params string[] args)
    {
        var info = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd() + stderr.Result;
        p.WaitForExit();
        return output;
    }

    /// <summary>A CSV the trainer writes (metrics.csv, episodes.csv): its header and rows.</summary>
    public static List<string[]> Rows(string csv, out string[] header)
    {
        var lines = File.ReadAllLines(csv).Where(l => l.Length > 0).ToArray();
        header = lines[0].Split(',');
        return lines.Skip(1).Select(l => l.Split(',')).ToList();
    }

    /// <summary>Asserts that nothing of <paramref name="run"/>'s training was lost or repeated: its metrics rows every
    /// <paramref name="every"/> env steps appear once each, in order, up to the budget, and its episodes (all of
    /// <paramref name="episodeLength"/> steps) once each, every one of them there but those a stop cut: a resumed run
    /// starts new episodes (the envs are not checkpointed), so an episode in progress where a stop cut the run is not
    /// recorded (counted from its resume rows). Returns how often it was resumed.</summary>
    public static int AssertNothingLostOrRepeated(PlannedRun run, Spec.CampaignSpec spec, long every, long episodeLength)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(spec);
        var rows = Rows(Path.Combine(run.TrainerDirectory, "metrics.csv"), out var header);
        int ev = Array.IndexOf(header, "event"), steps = Array.IndexOf(header, "env_steps");
        long Steps(string[] row) => long.Parse(row[steps], CultureInfo.InvariantCulture);
        var budget = spec.Budget.EnvSteps;
        Assert.Equal(Enumerable.Range(1, (int)(budget / every)).Select(i => every * i), rows.Where(r => r[ev] == "train").Select(Steps));
        var perEnv = budget / spec.Envs;
        var cuts = rows.Where(r => r[ev] == "resume").Select(r => Steps(r) / spec.Envs).Prepend(0).Append(perEnv).ToArray();
        var episodes = Rows(Path.Combine(run.TrainerDirectory, "episodes.csv"), out var episodeHeader);
        Assert.Equal(["time", "env_steps", "return", "length", .. spec.Randomise.Select(d => "param." + d.Name).Order(StringComparer.Ordinal)], episodeHeader);
        Assert.Equal(spec.Envs * cuts.Zip(cuts.Skip(1), (from, to) => (to - from) / episodeLength).Sum(), episodes.Count);
        Assert.All(episodes, e => Assert.Equal(episodeLength.ToString(CultureInfo.InvariantCulture), e[3]));
        var episodeSteps = episodes.Select(e => long.Parse(e[1], CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(episodeSteps.Distinct().Order(), episodeSteps); // in order, none twice: none written again after a resume
        return cuts.Length - 2;
    }

    /// <summary>Polls <paramref name="condition"/> (files other processes write; there is no event to wait on) until it holds.</summary>
    public static void Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out after {Wait.TotalMinutes} min waiting for {what}");
            Thread.Sleep(50);
        }
    }

    /// <summary>What a test leaves behind, removed: the processes naming <paramref name="dir"/> (SIGKILL), the Slurm
    /// tasks named <paramref name="slurmJobName"/> (cancelled and waited out of the queue: their output files are in
    /// <paramref name="dir"/>), then <paramref name="dir"/> itself.</summary>
    public static void CleanUp(string dir, string? slurmJobName = null)
    {
        KillLeftovers(dir);
        if (slurmJobName is not null)
        {
            Command("scancel", $"--name={slurmJobName}", "--full");
            Until(() => Command("squeue", "--noheader", $"--name={slurmJobName}").Trim().Length == 0, "the cancelled tasks to leave the queue");
        }
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>SIGKILLs every process whose command line names <paramref name="dir"/>.</summary>
    public static void KillLeftovers(string dir)
    {
        foreach (var p in Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!))
        {
            if (ServiceExecutables.CommandLine(p) is { } cmd && cmd.Contains(dir, StringComparison.Ordinal)) ServiceExecutables.Signal(p, ServiceExecutables.SigKill);
        }
    }
}
