using System.Diagnostics;
using Xunit;

namespace MeowRobot.Testing;

/// <summary>systemd/install.sh, as the deployment tests run it (into a prefix or as a dry run).</summary>
public static class InstallScript
{
    /// <summary>Runs install.sh with <paramref name="args"/> to its end (bounded): exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(SharedMaterial.RepoRoot, "systemd", "install.sh"));
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), "install.sh hung");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
