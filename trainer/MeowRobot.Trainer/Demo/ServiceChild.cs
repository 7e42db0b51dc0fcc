using System.Diagnostics;
using System.Runtime.InteropServices;
using MeowRobot.Bridge.Native;

namespace MeowRobot.Trainer.Demo;

/// <summary>
/// One service of the demo as a child process: a built service executable run with <c>dotnet</c>, its stdout and stderr
/// written straight into a log file (by the shell that execs it, so nothing here has to pump them), with a clean
/// environment (no MEOW_ variables, no systemd notify socket leaking in from the caller). Stopped as systemd stops a
/// unit: SIGTERM, a bounded wait, then SIGKILL.
/// </summary>
internal sealed partial class ServiceChild : IDisposable
{
    private static readonly string[] Inherited = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "INVOCATION_ID", "LISTEN_FDS", "LISTEN_PID"];
    private readonly Process _process;

    private ServiceChild(string name, string logPath, Process process)
    {
        Name = name;
        LogPath = logPath;
        _process = process;
    }

    public string Name { get; }
    public string LogPath { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>True when the child had to be killed (it ignored SIGTERM for the whole budget).</summary>
    public bool Killed { get; private set; }

    /// <summary>Starts <c>dotnet <paramref name="assembly"/> <paramref name="args"/></c>, output into <paramref name="logPath"/>.</summary>
    public static ServiceChild Start(string name, string assembly, IEnumerable<string> args, string logPath)
    {
        // stdin is a pipe closed at once: a service reads nothing, and a child holding the terminal would make .NET switch
        // the terminal's modes back and forth around it (escape sequences in the progress line).
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = true };
        // $0 is the child's name for ps; "$@" is the command line, exec'd so that the pid is the service's own.
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$@\" >\"$DEMO_CHILD_LOG\" 2>&1");
        info.ArgumentList.Add("meow-demo-" + name);
        info.ArgumentList.Add(DotnetHost());
        info.ArgumentList.Add(assembly);
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MEOW_", StringComparison.Ordinal) || Inherited.Contains(k)).ToList())
            info.Environment.Remove(key);
        info.Environment["DEMO_CHILD_LOG"] = logPath;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
        process.StandardInput.Close();
        return new ServiceChild(name, logPath, process);
    }

    /// <summary>The dotnet host running this process (so children use the same runtime), else the one on PATH.</summary>
    private static string DotnetHost() =>
        Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";

    /// <summary>SIGTERM, wait up to <paramref name="budget"/>, then SIGKILL. Returns once the process is gone.</summary>
    public void Stop(TimeSpan budget)
    {
        if (_process.HasExited) return;
        if (Kill(_process.Id, SigTerm) != 0 && !_process.HasExited)
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        if (_process.WaitForExit(budget)) return;
        Killed = true;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    private const int SigTerm = 15;

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>The last lines of the child's log, for a failure message.</summary>
    public string Tail(int lines = 5)
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join("\n", all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Kills the child if it still runs (the last line of defence: no child outlives the demo).</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                Killed = true;
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
