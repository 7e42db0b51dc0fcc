using System.Diagnostics;
using MeowRobot.Campaign.Engines;

namespace MeowRobot.Campaign.Tests;

/// <summary>What the end-to-end campaign tests share: the built runner as a process, waiting on a condition, and
/// cleaning up whatever a failed test left running in its directory.</summary>
internal static class CampaignProcesses
{
    public static readonly TimeSpan Wait = TimeSpan.FromMinutes(5);

    /// <summary><c>campaign run SPEC --dir DIR</c>, its output to <paramref name="log"/> (a file: the runner may be killed).</summary>
    public static Process Runner(string spec, string campaignDir, string log)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var a in new[] { "-c", "log=$1; shift; exec \"$@\" >\"$log\" 2>&1", "sh", log, ServiceExecutables.Path("MeowRobot.Campaign"), "run", spec, "--dir", campaignDir })
            info.ArgumentList.Add(a);
        return Process.Start(info)!;
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
