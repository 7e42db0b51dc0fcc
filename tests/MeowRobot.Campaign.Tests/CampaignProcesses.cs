using System.Diagnostics;
using MeowRobot.Campaign.Engines;

namespace MeowRobot.Campaign.Tests;

/// <summary>What the end-to-end campaign tests share: the built runner as a process, waiting on a condition, and
/// cleaning up whatever a failed test left running in its directory.</summary>
internal static class CampaignProcesses
{
    public static readonly TimeSpan Wait = TimeSpan.FromMinutes(5);

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

    /// <summary>A CSV the trainer writes (metrics.csv, episodes.csv): its header and rows.</summary>
    public static List<string[]> Rows(string csv, out string[] header)
    {
        var lines = File.ReadAllLines(csv).Where(l => l.Length > 0).ToArray();
        header = lines[0].Split(',');
        return lines.Skip(1).Select(l => l.Split(',')).ToList();
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

    /// <summary>SIGKILLs every process whose command line names <paramref name="dir"/>.</summary>
    public static void KillLeftovers(string dir)
    {
        foreach (var p in Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!))
        {
            if (ServiceExecutables.CommandLine(p) is { } cmd && cmd.Contains(dir, StringComparison.Ordinal)) ServiceExecutables.Signal(p, ServiceExecutables.SigKill);
        }
    }
}
