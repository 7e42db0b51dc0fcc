using System.Diagnostics;
using System.Text.RegularExpressions;

namespace MeowRobot.Sim.Tests;

/// <summary>A real `sim serve` child process: its log lines are collected, <see cref="Endpoint"/> is the endpoint it
/// logged once bound; disposing kills it.</summary>
internal sealed partial class SimServeProcess : IDisposable
{
    private readonly List<string> lines = [];
    private readonly SemaphoreSlim lineAdded = new(0);

    public SimServeProcess(params string[] arguments)
        : this(true, arguments)
    {
    }

    private SimServeProcess(bool waitUntilServing, string[] arguments)
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "MeowRobot.Sim.dll");
        Process = Process.Start(new ProcessStartInfo("dotnet", [exe, "serve", .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        Process.OutputDataReceived += (_, e) => Add(e.Data);
        Process.ErrorDataReceived += (_, e) => Add(e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
        if (!waitUntilServing) return;
        var serving = WaitForLine(ServingLine(), TimeSpan.FromSeconds(60))
            ?? throw new InvalidOperationException("sim serve did not bind within 60 s:\n" + Tail());
        Endpoint = serving.Groups[1].Value;
    }

    public Process Process { get; }

    public string Endpoint { get; } = "";

    /// <summary>Runs `sim serve` expecting it to stop by itself within <paramref name="timeout"/>: its exit code and log.</summary>
    public static (int ExitCode, string Log) RunToExit(TimeSpan timeout, params string[] arguments)
    {
        using var p = new SimServeProcess(false, arguments);
        if (!p.Process.WaitForExit(timeout)) return (-1, p.Tail());
        p.Process.WaitForExit(); // the output readers have drained
        return (p.Process.ExitCode, p.Tail());
    }

    /// <summary>The first log line matching <paramref name="pattern"/> (waiting for it up to <paramref name="timeout"/>), or null.</summary>
    public Match? WaitForLine(Regex pattern, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        for (var seen = 0; ; )
        {
            lock (lines)
            {
                for (; seen < lines.Count; seen++)
                {
                    if (pattern.Match(lines[seen]) is { Success: true } m) return m;
                }
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !lineAdded.Wait(left)) return null;
        }
    }

    public string Tail()
    {
        lock (lines) return string.Join('\n', lines.TakeLast(30));
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill();
        Process.WaitForExit();
        Process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null) return;
        lock (lines) lines.Add(line);
        lineAdded.Release();
    }

    [GeneratedRegex(@"serving .* on (tcp://\S+|ipc://\S+) ")]
    private static partial Regex ServingLine();
}
