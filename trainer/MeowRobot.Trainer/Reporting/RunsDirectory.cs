using System.Globalization;

namespace MeowRobot.Trainer.Reporting;

/// <summary>Where runs go by default: runs/ in the repository root (found above the build output by its ./meow
/// script), else runs/ in the current directory.</summary>
public static class RunsDirectory
{
    public static string Default()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "meow")) && File.Exists(Path.Combine(dir.FullName, "MeowRobot.sln")))
                return Path.Combine(dir.FullName, "runs");
        }
        return Path.Combine(Environment.CurrentDirectory, "runs");
    }

    /// <summary>A new run's directory: runs/NAME-&lt;UTC timestamp&gt;.</summary>
    public static string New(string name) =>
        Path.Combine(Default(), name + "-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
}
