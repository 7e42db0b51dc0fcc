using System.Globalization;
using MeowRobot.Hosting;

namespace MeowRobot.Trainer.Reporting;

/// <summary>Where runs go by default (runs/ in the repository root, found above the build output by its ./meow script,
/// else runs/ in the current directory), and the lock that lets one process at a time write a run directory: two would
/// interleave metrics, events and checkpoints.</summary>
public static class RunsDirectory
{
    public const string LockFileName = "trainer.lock";

    public static string Default()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "meow")) && File.Exists(Path.Combine(dir.FullName, "MeowRobot.sln")))
                return Path.Combine(dir.FullName, "runs");
        }
        return Path.Combine(Environment.CurrentDirectory, "runs");
    }

    /// <summary>Holds DIRECTORY/trainer.lock (creating the directory) until disposed; null while another process holds it.</summary>
    public static FileStream? TryLock(string directory)
    {
        Directory.CreateDirectory(directory);
        return LockFile.TryTake(Path.Combine(directory, LockFileName));
    }

    /// <summary>A new run's directory, runs/NAME-&lt;UTC timestamp&gt;, and its lock, held. Runs started within the same
    /// second (a seed sweep launched in parallel) get -2, -3, …: a directory locked by another process, or holding
    /// anything besides its lock (a finished run's), is never reused.</summary>
    public static (string Directory, FileStream Lock) New(string name) => New(Default(), name, DateTime.UtcNow);

    /// <summary>The directory a command writes, with its lock: <paramref name="chosen"/> when the user named one (the lock
    /// null while another process holds it), else <see cref="New(string)"/>.</summary>
    public static (string Directory, FileStream? Lock) Claim(string? chosen, string name) =>
        chosen is null ? New(name) : (chosen, TryLock(chosen));

    /// <summary><see cref="New(string)"/> under <paramref name="root"/> at <paramref name="utcNow"/>.</summary>
    public static (string Directory, FileStream Lock) New(string root, string name, DateTime utcNow)
    {
        var stem = Path.Combine(root, name + "-" + utcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        for (var n = 1; ; n++)
        {
            var directory = n == 1 ? stem : string.Create(CultureInfo.InvariantCulture, $"{stem}-{n}");
            if (TryLock(directory) is not { } held) continue;
            if (Directory.EnumerateFileSystemEntries(directory).All(e => Path.GetFileName(e) == LockFileName)) return (directory, held);
            held.Dispose();
        }
    }
}
