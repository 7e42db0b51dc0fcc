using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MeowRobot.Testing;

namespace MeowRobot.Services.Tests;

/// <summary>`trainer demo --quick`: the built executables (two sim workers, trainer serve, controller serve) as the demo runs them.</summary>
public sealed partial class DemoTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(150);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-demo-test-");

    public void Dispose() => _dir.Delete(recursive: true);

    [GeneratedRegex(@"^demo: ok robot_return_first=(-?\d+\.\d) robot_return_last=(-?\d+\.\d) trainer_eval_last=(-?\d+\.\d|NaN) weight_swaps=(\d+) deadline_misses=(\d+) mode_changes=(\d+)$")]
    private static partial Regex ResultLine();

    [GeneratedRegex(@"^demo: started (\S+) \(pid (\d+), log (\S+)\)$")]
    private static partial Regex StartedLine();

    [RequiresFact(Requirement.LibZmq)]
    public void A_quick_demo_starts_four_services_streams_weights_to_the_robot_stops_them_all_and_ends_with_the_result_line()
    {
        var run = Path.Combine(_dir.FullName, "run");
        var (code, lines) = RunDemo(["demo", "--quick", "--out", run], interruptWhen: null);

        Assert.True(code == 0, "demo failed:\n" + string.Join("\n", lines));
        var children = Children(lines);
        Assert.Equal(["sim-train", "sim-robot", "trainer", "controller"], children.Select(c => c.Name));
        AssertAllGone(children);
        foreach (var (name, _, log) in children)
            Assert.Contains("Application is shutting down", File.ReadAllText(Path.Combine(run, log)), StringComparison.Ordinal);

        var result = ResultLine().Match(lines[^1]);
        Assert.True(result.Success, "last line: " + lines[^1]);
        Assert.True(long.Parse(result.Groups[4].Value, CultureInfo.InvariantCulture) >= 1, "the robot adopted no streamed weights: " + lines[^1]);

        // The curves: the robot's first episode in robot_returns.csv is the one the result line reports.
        var robotRows = File.ReadAllLines(Path.Combine(run, "robot_returns.csv"));
        Assert.Equal("time_s,env_steps,episode,return,policy_version", robotRows[0]);
        Assert.True(robotRows.Length >= 3, "fewer than two robot episodes recorded");
        var firstReturn = double.Parse(robotRows[1].Split(',')[3], CultureInfo.InvariantCulture);
        // The CSV keeps three decimals and the result line one: the two agree within both roundings, no closer (a
        // return of -1397.0504 is "-1397.05" in the CSV, which reads back as "-1397.0", and "-1397.1" on the line).
        var reported = double.Parse(result.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(firstReturn - reported) <= 0.0505, $"robot_returns.csv starts with {firstReturn}, the result line says {reported}");
        Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(run, "curves_time.svg")), StringComparison.Ordinal);
        Assert.Contains(File.ReadLines(Path.Combine(run, "trainer", "metrics.csv")).Skip(1), l => l.Contains(",eval,", StringComparison.Ordinal));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Interrupting_the_demo_stops_every_child_and_says_so()
    {
        var (code, lines) = RunDemo(["demo", "--quick", "--out", Path.Combine(_dir.FullName, "run")],
            interruptWhen: line => line.Contains("| robot v", StringComparison.Ordinal));

        Assert.True(code == 130, $"exit code {code}:\n" + string.Join("\n", lines));
        Assert.Equal("demo: failed interrupted", lines[^1]);
        var children = Children(lines);
        Assert.Equal(4, children.Count);
        AssertAllGone(children);
    }

    private static List<(string Name, int Pid, string Log)> Children(List<string> lines) =>
    [
        .. lines.Select(l => StartedLine().Match(l)).Where(m => m.Success)
            .Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), m.Groups[3].Value)),
    ];

    private static void AssertAllGone(List<(string Name, int Pid, string Log)> children)
    {
        foreach (var (name, pid, _) in children)
            Assert.False(Directory.Exists($"/proc/{pid}") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("MeowRobot", StringComparison.Ordinal),
                $"{name} (pid {pid}) is still running after the demo exited");
    }

    /// <summary>Runs the trainer executable; with <paramref name="interruptWhen"/>, sends SIGINT (Ctrl-C) at the first matching line.</summary>
    private static (int Code, List<string> Lines) RunDemo(string[] args, Func<string, bool>? interruptWhen)
    {
        using var process = ServiceProcesses.Start("MeowRobot.Trainer", args, new Dictionary<string, string>());
        var lines = new ConcurrentQueue<string>();
        using var interrupt = new ManualResetEventSlim();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lines.Enqueue(e.Data);
            if (interruptWhen?.Invoke(e.Data) == true) interrupt.Set();
        };
        process.BeginOutputReadLine();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (interruptWhen is not null)
            {
                Assert.True(interrupt.Wait(Limit), "the demo never showed the robot:\n" + string.Join("\n", lines));
                using var kill = Process.Start(new ProcessStartInfo("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]))!;
                kill.WaitForExit();
            }
            Assert.True(process.WaitForExit(Limit), "the demo did not finish within the limit:\n" + string.Join("\n", lines));
            process.WaitForExit();   // drains the output events
            Assert.Equal("", stderr.Result);
            return (process.ExitCode, [.. lines]);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
