using System.Security.Cryptography;

namespace MeowRobot.Services.Tests;

/// <summary>
/// Issue 18 item 4: a run directory the trainer must not start over in. Both checkpoints damaged, or a published.version
/// that is no version: `trainer serve` and `serve --check` exit 78 saying what is wrong and how to go on, before any
/// socket is opened, and change no file of the run.
/// </summary>
public sealed class TrainerRunDirTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-rundir-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string RunDir => Path.Combine(_dir.FullName, "run");

    /// <summary>Both `serve --check` and `serve` refuse naming <paramref name="reason"/>; every file of the run is left as it was.</summary>
    private void Refused(string reason)
    {
        var site = Path.Combine(_dir.FullName, "site.json");
        File.WriteAllText(site, "{}");
        var before = Snapshot();
        foreach (var check in new[] { true, false })
        {
            // The sim endpoint has no worker: a trainer that got as far as connecting would wait there, not exit.
            var (code, _, error) = ServiceProcesses.Run("MeowRobot.Trainer",
                ["serve", "--config", site, "--Trainer:RunDir=" + RunDir, "--Trainer:SimEndpoints:0=ipc://" + Path.Combine(_dir.FullName, "no-worker"), .. check ? new[] { "--check" } : []],
                new Dictionary<string, string>());
            Assert.True(code == 78, $"serve{(check ? " --check" : "")}: exit {code}; stderr: {error}");
            Assert.Contains(reason, error, StringComparison.Ordinal);
        }
        Assert.Equal(before, Snapshot());
    }

    private Dictionary<string, string> Snapshot() => Directory.EnumerateFiles(RunDir)
        .Where(f => Path.GetFileName(f) != "trainer.lock")
        .ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    private void Write(string name, byte[] content)
    {
        Directory.CreateDirectory(RunDir);
        File.WriteAllBytes(Path.Combine(RunDir, name), content);
    }

    [Fact]
    public void Both_checkpoints_damaged_refuses_to_start_over_and_overwrites_nothing()
    {
        // One truncated inside its header, one with the right magic and a payload that is not what its header announces.
        Write("checkpoint.bin", "MEOWRUN\n"u8.ToArray());
        Write("checkpoint.prev.bin", [.. "MEOWRUN\n"u8, 1, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, .. RandomNumberGenerator.GetBytes(64)]);
        Write("metrics.csv", "env_steps,updates\n9000,8000\n"u8.ToArray());
        Write("published.version", "12\n"u8.ToArray());
        Refused("every checkpoint of Trainer:RunDir");
        Refused("move the damaged files aside");
    }

    [Theory]
    [InlineData("garbage!")]
    [InlineData("-5")]
    [InlineData("")]
    public void A_published_version_that_is_no_version_refuses_to_start(string content)
    {
        Write("published.version", System.Text.Encoding.UTF8.GetBytes(content + "\n"));
        Refused("published.version holds");
        Refused("not a version number");
    }
}
