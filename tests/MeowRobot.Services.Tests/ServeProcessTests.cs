using System.Collections.Concurrent;
using MeowRobot.Testing;

namespace MeowRobot.Services.Tests;

/// <summary>The built executables end to end: `serve` as systemd runs it.</summary>
public sealed class ServeProcessTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-serve-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>An empty site file, so that a machine's /etc/meowrobot does not leak into the test.</summary>
    private string EmptySite()
    {
        var path = Path.Combine(_dir.FullName, "site.json");
        File.WriteAllText(path, "{}");
        return path;
    }

    [Fact]
    public void A_bad_environment_variable_fails_fast_with_exit_78_naming_the_key_on_stderr()
    {
        var policy = Path.Combine(_dir.FullName, "pendulum.safetensors");
        MeowRobot.Policy.Files.PolicyFile.Initialized(new MeowRobot.Policy.Files.PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum" }, seed: 1).Save(policy);
        var (code, output, error) = ServiceProcesses.Run("MeowRobot.Controller",
            ["serve", "--config", EmptySite(), "--Controller:Robot=tcp://127.0.0.1:5601", "--Controller:PolicyPath=" + policy],
            new Dictionary<string, string> { ["MEOW_Controller__Loop__RateHz"] = "20000" });

        Assert.Equal(78, code);
        Assert.Equal("", output);
        Assert.Equal(
            "meow controller: configuration error:\n" +
            "  Controller:Loop:RateHz: RateHz must be in [50, 5000] (is 20000) (value '20000' from environment variable MEOW_Controller__Loop__RateHz)\n",
            error);
    }

    [RequiresFact(Requirement.LibZmq)]
    public async Task Under_systemd_serve_notifies_ready_pings_logs_for_journald_and_stops_cleanly_on_SIGTERM()
    {
        using var listener = new NotifyListener();
        using var process = ServiceProcesses.Start("MeowRobot.Sim", ["serve", "--config", EmptySite()], new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = listener.Address,
            ["WATCHDOG_USEC"] = "400000",
            ["JOURNAL_STREAM"] = "8:4242",
            ["MEOW_Sim__Bind"] = "ipc://" + Path.Combine(_dir.FullName, "sim.sock"),
            ["MEOW_Sim__Seed"] = "5",
        });
        var lines = new BlockingCollection<string>();
        var seen = new List<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Add(e.Data); };
        process.BeginOutputReadLine();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            var early = listener.ReceiveUntil(m => m.Contains("READY=1\nSTATUS=running") && m.Count(x => x == "WATCHDOG=1") >= 2, Wait);
            var watchdog = WaitForLine(lines, seen, l => l.Contains("systemd watchdog", StringComparison.Ordinal));
            Assert.Equal("<6>MeowRobot.Hosting.Systemd.WatchdogPinger[1] systemd watchdog: WatchdogSec=400 ms, pinging every 200 ms while 0 health probe(s) are healthy", watchdog);
            var serving = WaitForLine(lines, seen, l => l.Contains("serving", StringComparison.Ordinal));
            Assert.StartsWith($"<6>MeowRobot.Sim.SimWorkerService[1] serving pendulum × 8 on ipc://{_dir.FullName}/sim.sock (seed 5, session ", serving, StringComparison.Ordinal);
            var status = $"STATUS=serving pendulum × 8 on ipc://{_dir.FullName}/sim.sock";
            if (!early.Contains(status)) listener.ReceiveUntil(m => m.Contains(status), Wait);

            ServiceProcesses.Terminate(process);

            listener.ReceiveUntil(m => m.Contains("STOPPING=1\nSTATUS=stopping"), Wait);
            Assert.True(process.WaitForExit(Wait), "sim serve did not exit after SIGTERM");
            Assert.Equal(0, process.ExitCode);
            Assert.Equal("", await stderr);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The first line, already seen or still to come, that matches.</summary>
    private static string WaitForLine(BlockingCollection<string> lines, List<string> seen, Func<string, bool> match)
    {
        if (seen.FirstOrDefault(match) is { } earlier) return earlier;
        var deadline = DateTime.UtcNow + Wait;
        while (lines.TryTake(out var line, deadline - DateTime.UtcNow > TimeSpan.Zero ? deadline - DateTime.UtcNow : TimeSpan.Zero))
        {
            seen.Add(line);
            if (match(line)) return line;
        }
        Assert.Fail("no matching line on stdout; saw: " + string.Join(" | ", seen));
        return "";
    }
}
