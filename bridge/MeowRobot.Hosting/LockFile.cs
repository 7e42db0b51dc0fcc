namespace MeowRobot.Hosting;

/// <summary>A file that one process at a time holds: a run directory, a campaign, a promotion. FileShare.None takes
/// flock(LOCK_EX | LOCK_NB) on Unix, so a second process is refused at once instead of waiting, and the kernel drops the
/// lock with its holder (kill -9 included): a crash never leaves a stale lock behind.</summary>
public static class LockFile
{
    /// <returns>The held lock (dispose it to let go), or null while another process holds it.</returns>
    public static FileStream? TryTake(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(path))
        {
            return null;
        }
    }
}
