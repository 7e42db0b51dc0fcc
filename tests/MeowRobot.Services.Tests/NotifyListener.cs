using System.Net.Sockets;
using System.Text;

namespace MeowRobot.Services.Tests;

/// <summary>The systemd side of sd_notify for tests: a real Unix datagram socket bound in a temp dir (or the abstract namespace).</summary>
internal sealed class NotifyListener : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly DirectoryInfo? _dir;

    /// <summary>What to put in NOTIFY_SOCKET.</summary>
    public string Address { get; }

    public NotifyListener(bool abstractName = false)
    {
        if (abstractName)
        {
            var name = "meow-test-" + Guid.NewGuid().ToString("N");
            _socket.Bind(new UnixDomainSocketEndPoint("\0" + name));
            Address = "@" + name;
        }
        else
        {
            _dir = Directory.CreateTempSubdirectory("meow-notify-");
            Address = Path.Combine(_dir.FullName, "notify");
            _socket.Bind(new UnixDomainSocketEndPoint(Address));
        }
    }

    /// <summary>The next datagram, or null when none arrives within <paramref name="timeout"/>.</summary>
    public string? Receive(TimeSpan timeout)
    {
        if (!_socket.Poll(timeout, SelectMode.SelectRead)) return null;
        var buffer = new byte[4096];
        var n = _socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    /// <summary>Receives until <paramref name="done"/> holds for the messages so far; fails after <paramref name="timeout"/> in all.</summary>
    public List<string> ReceiveUntil(Func<List<string>, bool> done, TimeSpan timeout)
    {
        var messages = new List<string>();
        var deadline = DateTime.UtcNow + timeout;
        while (!done(messages))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || Receive(left) is not { } m)
                Assert.Fail($"timed out after {timeout.TotalSeconds} s; received so far: [{string.Join(" | ", messages)}]");
            else
                messages.Add(m);
        }
        return messages;
    }

    /// <summary>Everything queued now, without waiting.</summary>
    public List<string> Drain()
    {
        var messages = new List<string>();
        while (Receive(TimeSpan.Zero) is { } m) messages.Add(m);
        return messages;
    }

    public void Dispose()
    {
        _socket.Dispose();
        _dir?.Delete(recursive: true);
    }
}
