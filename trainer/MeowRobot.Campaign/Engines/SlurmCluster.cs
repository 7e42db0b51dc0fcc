using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MeowRobot.Campaign.Engines;

/// <summary>One live array task of a campaign's jobs, as squeue shows it.</summary>
/// <param name="Job">ARRAYJOB_TASK (e.g. 12_3).</param>
/// <param name="Index">The array task id: the run's index in the campaign's plan.</param>
/// <param name="State">Slurm's state (PENDING, RUNNING, COMPLETING, …).</param>
/// <param name="Reason">Why it waits (Resources, Priority, …) or None.</param>
public sealed record SlurmTask(string Job, string ArrayJob, int Index, string State, string Reason, string Nodes, string Elapsed)
{
    /// <summary>The status table's Slurm column: <c>12_3 RUNNING on vm, 0:42</c> or <c>12_1 PENDING (Resources)</c>.</summary>
    public string Describe() => State == "PENDING" ? $"{Job} {State} ({Reason})" : $"{Job} {State} on {Nodes}, {Elapsed}";
}

/// <summary>Slurm is there but does not answer (slurmctld down or unreachable): nothing was submitted.</summary>
public sealed class SlurmUnavailableException : Exception
{
    public SlurmUnavailableException() { }
    public SlurmUnavailableException(string message) : base(message) { }
    public SlurmUnavailableException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The Slurm client commands a campaign uses (squeue, sbatch), run with bounded waits. There is no accounting database
/// to rely on (sacct may be disabled), so a campaign's live tasks are found by their job name in squeue and everything
/// after that is read from the runs' own state files. A command missing from PATH is a <see cref="CampaignException"/>
/// (a machine without Slurm's clients: exit 78); one that fails is a <see cref="SlurmUnavailableException"/>.
/// </summary>
public static class SlurmCluster
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The job name of a campaign directory's arrays: the campaign's name and a hash of its directory, so two
    /// directories of one spec never see each other's tasks.</summary>
    public static string JobName(Campaign campaign)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(campaign.Directory)))[..8];
        return $"meow-{campaign.Spec.Name}-{hash}";
    }

    /// <summary>The job step name of a run's sim worker inside its array task (<c>squeue --steps</c> lists it).</summary>
    public const string SimStepName = "sim";

    /// <summary>The command prefix that runs a program as a job step of the Slurm job this process is in: one task on
    /// the task's node, sharing the task's CPUs with its trainer (<c>--overlap</c>), no stdin, srun's own chatter off.
    /// srun forwards SIGTERM to the step.</summary>
    public static IReadOnlyList<string> StepLauncher(string stepName)
    {
        var srun = OnPath("srun") ?? throw new CampaignException("srun is not on PATH on this node: the Slurm engine runs each run's sim worker as a job step (Debian: apt-get install slurm-client)");
        return [srun, "--overlap", "--nodes=1", "--ntasks=1", "--input=none", "--quiet", $"--job-name={stepName}", "--"];
    }

    /// <summary>The live (pending, running, completing, …) array tasks named <paramref name="jobName"/>.</summary>
    public static IReadOnlyList<SlurmTask> LiveTasks(string jobName)
    {
        var output = Run("squeue", ["--noheader", "--array", $"--name={jobName}", "--format=%i|%F|%K|%T|%r|%N|%M"]);
        var tasks = new List<SlurmTask>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split('|');
            if (f.Length != 7 || !int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var index)) continue; // not one of our array tasks
            tasks.Add(new SlurmTask(f[0], f[1], index, f[3], f[4], f[5], f[6]));
        }
        return tasks;
    }

    /// <summary>Submits <paramref name="script"/> as an array of <paramref name="indices"/>; returns the array's job id.</summary>
    public static string SubmitArray(string script, IEnumerable<int> indices, int? limit, IEnumerable<string> options)
    {
        var array = string.Join(',', indices.Select(i => i.ToString(CultureInfo.InvariantCulture))) +
            (limit is { } l ? string.Create(CultureInfo.InvariantCulture, $"%{l}") : "");
        var output = Run("sbatch", ["--parsable", $"--array={array}", .. options, script]);
        var id = output.Trim().Split(';')[0];
        return id.Length > 0 && id.All(char.IsAsciiDigit) ? id : throw new SlurmUnavailableException($"sbatch answered '{output.Trim()}', not a job id");
    }

    private static string Run(string command, IReadOnlyList<string> args)
    {
        var exe = OnPath(command) ?? throw new CampaignException(
            $"{command} is not on PATH: the Slurm engine needs Slurm's client commands (Debian: apt-get install slurm-client) and a reachable cluster");
        var info = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info) ?? throw new SlurmUnavailableException($"could not start {exe}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(CommandTimeout))
        {
            p.Kill(entireProcessTree: true);
            throw new SlurmUnavailableException($"{command} did not answer within {CommandTimeout.TotalSeconds:F0} s (is slurmctld up?)");
        }
        if (p.ExitCode != 0)
        {
            var why = (stderr.Result + stdout.Result).Trim().Replace('\n', ' ');
            throw new SlurmUnavailableException($"{command} failed (exit {p.ExitCode}): {(why.Length > 400 ? why[..400] + "…" : why)}");
        }
        return stdout.Result;
    }

    private static string? OnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, command)).FirstOrDefault(File.Exists);
}
