using System.Diagnostics;

namespace MeowRobot.Services.Tests;

/// <summary>Runs the built service executables (each in its own output folder, beside its appsettings.json) as child processes.</summary>
internal static class ServiceProcesses
{
    /// <summary>artifacts/bin/MeowRobot.X/&lt;config&gt;/MeowRobot.X: the test's own output is artifacts/bin/MeowRobot.Services.Tests/&lt;config&gt;/.</summary>
    public static string Executable(string project)
    {
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var path = Path.Combine(testDir.Parent!.Parent!.FullName, project, testDir.Name, project);
        Assert.True(File.Exists(path), $"{project} is not built at {path}");
        return path;
    }

    /// <summary>Starts a service with a clean systemd environment plus <paramref name="environment"/>.</summary>
    public static Process Start(string project, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment) =>
        StartAt(Executable(project), args, environment);

    /// <summary>As <see cref="Start"/>, for an executable at <paramref name="executable"/> (a copy of a build output, say).</summary>
    public static Process StartAt(string executable, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment)
    {
        // Through env(1), which resets every signal to its default and execs the service (same pid): as systemd starts a
        // unit, and whatever this test host inherited (a suite run as a background job ignores SIGINT and SIGQUIT).
        var info = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--default-signal");
        info.ArgumentList.Add(executable);
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MEOW_", StringComparison.Ordinal) ||
                     k is "NOTIFY_SOCKET" or "WATCHDOG_USEC" or "WATCHDOG_PID" or "JOURNAL_STREAM" or "INVOCATION_ID").ToList())
            info.Environment.Remove(key);
        foreach (var (k, v) in environment) info.Environment[k] = v;
        return Process.Start(info)!;
    }

    /// <summary>Runs to completion (bounded) and returns exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(string project, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment,
        TimeSpan? limit = null) => RunAt(Executable(project), args, environment, limit);

    /// <summary>As <see cref="Run"/>, for an executable at <paramref name="executable"/>.</summary>
    public static (int Code, string Out, string Err) RunAt(string executable, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment,
        TimeSpan? limit = null)
    {
        using var p = StartAt(executable, args, environment);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var wait = limit ?? TimeSpan.FromSeconds(30);
        if (!p.WaitForExit(wait))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{executable} {string.Join(' ', args)} did not exit within {wait.TotalSeconds} s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>SIGTERM, as systemd stops a unit.</summary>
    public static void Terminate(Process p)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}
