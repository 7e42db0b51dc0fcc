using System.Collections.Concurrent;
using System.Diagnostics;

namespace MeowRobot.Testing;

/// <summary>
/// A connected pty pair made by Debian's socat (<c>socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B</c>), our stand-in
/// for a USB serial cable. <see cref="Unplug"/> removes the links and kills it, as udev removes a device node when the
/// cable is pulled (both ends hang up); <see cref="Restart"/> plugs back in under the same names.
/// </summary>
public sealed class SocatPair : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);
    private readonly string _dir = Directory.CreateTempSubdirectory("meow-pty-").FullName;
    private readonly ConcurrentQueue<string> _log = new();
    private Process? _socat;

    public SocatPair()
    {
        A = Path.Combine(_dir, "ttyA");
        B = Path.Combine(_dir, "ttyB");
        Restart();
    }

    public string A { get; }
    public string B { get; }

    /// <summary>Starts socat and waits (polling the filesystem, bounded) until both links exist.</summary>
    public void Restart()
    {
        Unplug();
        var start = new ProcessStartInfo("socat", ["-d", "-d", $"pty,raw,echo=0,link={A}", $"pty,raw,echo=0,link={B}"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var socat = Process.Start(start) ?? throw new InvalidOperationException("socat did not start");
        socat.ErrorDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        socat.BeginErrorReadLine();
        _socat = socat;
        if (!SpinWait.SpinUntil(() => socat.HasExited || (File.Exists(A) && File.Exists(B)), StartTimeout) || socat.HasExited)
            throw new InvalidOperationException($"socat made no pty pair within {StartTimeout}: {string.Join(" | ", _log)}");
    }

    /// <summary>Pulls the cable: removes the links, then kills socat, so both pty masters close.</summary>
    public void Unplug()
    {
        // Links first: a dangling link would resolve again once another test's socat reuses the /dev/pts number, and a
        // port reopening it (as root, which TIOCEXCL does not stop) would read that test's bytes.
        File.Delete(A);
        File.Delete(B);
        if (_socat is null)
            return;
        if (!_socat.HasExited)
            _socat.Kill();
        _socat.WaitForExit();
        _socat.Dispose();
        _socat = null;
    }

    public void Dispose()
    {
        Unplug();
        Directory.Delete(_dir, recursive: true);
    }
}
