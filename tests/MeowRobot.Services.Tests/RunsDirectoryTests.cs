using MeowRobot.Trainer.Reporting;

namespace MeowRobot.Services.Tests;

/// <summary>One process writes a run directory: runs started in the same second (a seed sweep launched in parallel) get
/// their own, and `learn --run-dir` refuses one that another process holds instead of interleaving its files.</summary>
public sealed class RunsDirectoryTests : IDisposable
{
    private static readonly DateTime Second = new(2026, 12, 3, 10, 29, 29, DateTimeKind.Utc);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-runs-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Runs_started_in_the_same_second_get_their_own_directories_and_a_finished_run_is_never_reused()
    {
        var stem = Path.Combine(_dir.FullName, "learn-pendulum-20261203-102929");
        var (first, firstLock) = RunsDirectory.New(_dir.FullName, "learn-pendulum", Second);
        var (second, secondLock) = RunsDirectory.New(_dir.FullName, "learn-pendulum", Second);
        Assert.Equal(stem, first);
        Assert.Equal(stem + "-2", second);

        File.WriteAllText(Path.Combine(first, RunConfig.FileName), "{}");
        firstLock.Dispose();
        var (third, thirdLock) = RunsDirectory.New(_dir.FullName, "learn-pendulum", Second);
        Assert.Equal(stem + "-3", third);
        Assert.Equal("{}", File.ReadAllText(Path.Combine(first, RunConfig.FileName)));

        // A directory its holder let go of before writing anything is as good as new.
        secondLock.Dispose();
        var (fourth, fourthLock) = RunsDirectory.New(_dir.FullName, "learn-pendulum", Second);
        Assert.Equal(stem + "-2", fourth);
        thirdLock.Dispose();
        fourthLock.Dispose();
    }

    [Fact]
    public void Learn_refuses_a_run_directory_another_process_holds_and_writes_nothing_there()
    {
        var run = Path.Combine(_dir.FullName, "run");
        using (var held = RunsDirectory.TryLock(run))
        {
            Assert.NotNull(held);
            var (code, _, stderr) = ServiceProcesses.Run("MeowRobot.Trainer",
                ["learn", "--task", "pendulum", "--steps", "300", "--quiet", "--run-dir", run], new Dictionary<string, string>());
            Assert.True(code == 2, $"exit {code}; stderr: {stderr}");
            Assert.Contains($"--run-dir {run} is in use by another process", stderr, StringComparison.Ordinal);
            Assert.Equal([RunsDirectory.LockFileName], Directory.EnumerateFileSystemEntries(run).Select(Path.GetFileName));
        }

        var (again, stdout, _) = ServiceProcesses.Run("MeowRobot.Trainer",
            ["learn", "--task", "pendulum", "--steps", "300", "--quiet", "--run-dir", run], new Dictionary<string, string>());
        Assert.True(again == 0, "learn after the holder let go: exit " + again);
        Assert.Contains("run: " + run, stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(run, RunConfig.FileName)));
    }
}
