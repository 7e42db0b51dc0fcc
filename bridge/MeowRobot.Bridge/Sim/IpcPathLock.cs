using System.Net.Sockets;

namespace MeowRobot.Bridge.Sim;

/// <summary>
/// Ownership of an <c>ipc://PATH</c> endpoint. libzmq binds an ipc path by unlinking whatever socket file is there, so a
/// second worker on the same path would silently take it over and orphan the first for good. A worker therefore holds
/// an exclusive lock (flock) on <c>PATH.lock</c> while it serves: a second worker finds the lock taken and is refused.
/// With the lock free, a socket file left at PATH belongs to a dead worker (the kernel drops a dead process's locks,
/// kill -9 included), unless something that does not take the lock still listens on it: a connection attempt tells,
/// and only a refused connection lets the stale file be removed. The lock file stays after exit (removing it would race
/// with a worker starting at that moment); its lock, not its presence, says the path is taken.
/// </summary>
public sealed class IpcPathLock : IDisposable
{
    private readonly FileStream lockFile;

    private IpcPathLock(string socketPath, FileStream lockFile, bool removedStale)
    {
        SocketPath = socketPath;
        this.lockFile = lockFile;
        RemovedStaleSocket = removedStale;
    }

    public string SocketPath { get; }

    /// <summary>A dead worker's socket file was found at the path and removed.</summary>
    public bool RemovedStaleSocket { get; }

    /// <summary>The lock for <paramref name="endpoint"/>, or null when it is not an <c>ipc://</c> path (tcp, or the
    /// <c>ipc://*</c> wildcard, which libzmq makes unique).</summary>
    /// <exception cref="SimEndpointInUseException">another live process holds or listens on the path</exception>
    public static IpcPathLock? Acquire(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        const string scheme = "ipc://";
        if (!endpoint.StartsWith(scheme, StringComparison.Ordinal) || endpoint == scheme + "*") return null;
        var path = endpoint[scheme.Length..];
        if (path.StartsWith('@')) return null; // Linux abstract namespace: no file to take over, bind fails when in use
        var lockPath = path + ".lock";
        FileStream file;
        try
        {
            // FileShare.None takes flock(LOCK_EX | LOCK_NB) on Unix: refused while another process holds it
            file = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && File.Exists(lockPath))
        {
            throw new SimEndpointInUseException(endpoint, $"another live sim worker holds {path} ({lockPath} is locked)", e);
        }
        try
        {
            var removed = false;
            if (File.Exists(path) || Directory.Exists(path))
            {
                if (Listening(path)) throw new SimEndpointInUseException(endpoint, $"a process that does not take {lockPath} listens on {path}");
                File.Delete(path); // a dead worker's socket file
                removed = true;
            }
            file.SetLength(0);
            using (var w = new StreamWriter(file, leaveOpen: true)) w.Write($"{Environment.ProcessId}\n");
            file.Flush();
            return new IpcPathLock(path, file, removed);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Releases the path (the lock file stays, unlocked).</summary>
    public void Dispose() => lockFile.Dispose();

    private static bool Listening(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable or SocketError.AccessDenied
                                            or SocketError.InvalidArgument or SocketError.ProtocolType or SocketError.AddressFamilyNotSupported)
        {
            return false; // nobody accepts on it (or it is not a socket at all): stale
        }
    }
}

/// <summary>The endpoint a sim worker was asked to bind belongs to another live process.</summary>
public sealed class SimEndpointInUseException(string endpoint, string message, Exception? inner = null)
    : IOException($"{endpoint}: {message}", inner)
{
    public string Endpoint { get; } = endpoint;
}
