using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MeowRobot.Campaign.Engines;

/// <summary>
/// The built service executables a campaign runs (artifacts/bin/MeowRobot.X/CONFIG/MeowRobot.X, beside this
/// program's own folder, each next to its appsettings.json), and the process handling the engines share.
/// </summary>
public static partial class ServiceExecutables
{
    public const int SigTerm = 15, SigKill = 9;

    /// <summary>The executable of <paramref name="project"/> (MeowRobot.Trainer, MeowRobot.Sim, …) beside this program;
    /// <see cref="FileNotFoundException"/> saying how to build it.</summary>
    public static string Path(string project) => Find(project, AppContext.BaseDirectory);

    /// <summary>The executable of <paramref name="project"/> beside a program in <paramref name="ownDirectory"/>, in
    /// either layout: built (artifacts/bin/MeowRobot.X/CONFIG/MeowRobot.X, the same CONFIG as its own) or installed by
    /// systemd/install.sh (/opt/meowrobot/x/MeowRobot.X: the project's name after "MeowRobot.", lower case).</summary>
    public static string Find(string project, string ownDirectory)
    {
        ArgumentNullException.ThrowIfNull(project);
        var own = new DirectoryInfo(ownDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var built = System.IO.Path.Combine(own.Parent!.Parent!.FullName, project, own.Name, project);
        if (File.Exists(built)) return built;
        var installed = System.IO.Path.Combine(own.Parent!.FullName, project["MeowRobot.".Length..].ToLowerInvariant(), project);
        if (File.Exists(installed)) return installed;
        throw new FileNotFoundException($"{project} is not built at {built} (./meow build) nor installed at {installed} (systemd/install.sh)", built);
    }

    /// <summary>Starts a service with stdout and stderr appended to <paramref name="logPath"/> (a file, so the child
    /// never blocks on, or dies of, a pipe whose reader is gone). The returned process is the service itself, or with a
    /// <paramref name="launcher"/> (a command prefix such as srun's) the launcher running it.</summary>
    public static Process Start(string project, IEnumerable<string> args, string logPath, IReadOnlyList<string>? launcher = null)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("log=$1; shift; exec \"$@\" >>\"$log\" 2>&1");
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add(logPath);
        foreach (var a in launcher ?? []) info.ArgumentList.Add(a);
        info.ArgumentList.Add(Path(project));
        foreach (var a in args) info.ArgumentList.Add(a);
        Scrub(info);
        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {project}");
    }

    /// <summary>Runs a service to its end (bounded) and returns its exit code and output.</summary>
    public static (int Code, string Output) RunToEnd(string project, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(Path(project)) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        Scrub(info);
        using var p = Process.Start(info) ?? throw new InvalidOperationException($"could not start {project}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"{project} did not finish within {timeout.TotalSeconds:F0} s");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>The command line of a live process (NULs as spaces), or null when there is none with that pid.</summary>
    public static string? CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary><paramref name="signal"/> (SIGTERM unless told), then SIGKILL if it is still there after <paramref name="wait"/>.</summary>
    public static async Task Stop(int pid, TimeSpan wait, int signal = SigTerm)
    {
        if (!Signal(pid, signal)) return;
        var deadline = DateTime.UtcNow + wait;
        while (Alive(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                Signal(pid, SigKill);
                return;
            }
            await Task.Delay(100).ConfigureAwait(false); // not our child after a runner restart: no exit event to wait on
        }
    }

    /// <summary>Stops a process a killed runner left behind, recognised by its command line containing one of
    /// <paramref name="marks"/> (the run's directory, its endpoint): a recycled pid is left alone.</summary>
    public static async Task StopIfOurs(int pid, TimeSpan wait, params string[] marks)
    {
        if (IsOurs(pid, marks)) await Stop(pid, wait).ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="pid"/> is alive and its command line contains one of <paramref name="marks"/>.</summary>
    public static bool IsOurs(int pid, params string[] marks)
    {
        ArgumentNullException.ThrowIfNull(marks);
        return Alive(pid) && CommandLine(pid) is { } cmdline && marks.Any(m => cmdline.Contains(m, StringComparison.Ordinal));
    }

    /// <summary>The last error-looking lines of a log (what the run failed of), shortened.</summary>
    public static string LastProblem(string logPath)
    {
        if (!File.Exists(logPath)) return "no log";
        var lines = File.ReadAllLines(logPath).Where(l => l.Trim().Length > 0).ToArray();
        var problem = lines.LastOrDefault(l => l.Contains("fail", StringComparison.OrdinalIgnoreCase) || l.Contains("error", StringComparison.OrdinalIgnoreCase)
            || l.Contains("exception", StringComparison.OrdinalIgnoreCase)) ?? lines.LastOrDefault() ?? "empty log";
        problem = problem.Trim();
        return problem.Length > 300 ? problem[..300] + "…" : problem;
    }

    public static bool Alive(int pid) => Directory.Exists($"/proc/{pid}") && !IsZombie(pid);

    /// <summary>Sends a signal; false when there is no such process.</summary>
    public static bool Signal(int pid, int signal) => kill(pid, signal) == 0;

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Children get the runner's environment without systemd's notification variables (they are not the unit).</summary>
    private static void Scrub(ProcessStartInfo info)
    {
        foreach (var key in new[] { "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID" }) info.Environment.Remove(key);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
