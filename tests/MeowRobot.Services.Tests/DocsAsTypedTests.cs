using System.Diagnostics;
using MeowRobot.Testing;
using Xunit.Abstractions;

namespace MeowRobot.Services.Tests;

/// <summary>Commands in the docs, run as a user types them: the shell block is read from the doc, so the two cannot drift.</summary>
public sealed class DocsAsTypedTests(ITestOutputHelper output)
{
    /// <summary>The first ```sh block after the heading <paramref name="heading"/> in docs/<paramref name="doc"/>.</summary>
    internal static string ShellBlock(string doc, string heading)
    {
        var lines = File.ReadAllLines(Path.Combine(SharedMaterial.RepoRoot, "docs", doc));
        var at = Array.FindIndex(lines, l => l.StartsWith('#') && l.TrimStart('#').Trim() == heading);
        Assert.True(at >= 0, $"no heading '{heading}' in docs/{doc}");
        var start = Array.FindIndex(lines, at, l => l.Trim() == "```sh");
        var end = Array.FindIndex(lines, start + 1, l => l.Trim() == "```");
        return string.Join('\n', lines[(start + 1)..end]) + "\n";
    }

    [RequiresFact(Requirement.LibZmq, Requirement.Rsvg)]
    public void Running_the_trainer_by_hand_works_as_typed()
    {
        var script = ShellBlock("operations.md", "Running the trainer by hand");
        var run = Path.Combine(SharedMaterial.RepoRoot, "runs", "by-hand");
        if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
        try
        {
            // From the repository root, as the doc says; the wrapper only makes sure a failing line leaves no worker behind.
            var info = new ProcessStartInfo("bash", ["-e", "-c", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script])
            {
                WorkingDirectory = SharedMaterial.RepoRoot,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MEOW_", StringComparison.Ordinal) || k is "NOTIFY_SOCKET" or "WATCHDOG_USEC").ToList())
                info.Environment.Remove(key);
            using var p = Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(6)))
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail("the documented commands did not finish within 6 minutes: " + stdout.Result);
            }
            output.WriteLine(stdout.Result);
            output.WriteLine(stderr.Result);
            Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {stderr.Result}");

            var rows = RunRecordTests.Csv(Path.Combine(run, "metrics.csv"));
            Assert.Equal("4000", rows.Last(r => r["event"] == "train")["env_steps"]);
            Assert.Contains(rows, r => r["event"] == "eval");
            Assert.True(int.Parse(rows[^1]["published_version"], System.Globalization.CultureInfo.InvariantCulture) > 0, "nothing was published");
            Assert.Single(Directory.GetFiles(run, "events.out.tfevents.*"));
            Assert.True(File.Exists(Path.Combine(run, "config.json")));
            Assert.True(File.Exists(Path.Combine(run, "plot.png")));
            Assert.Contains("done: 4000 env steps", stdout.Result, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
        }
    }
}
