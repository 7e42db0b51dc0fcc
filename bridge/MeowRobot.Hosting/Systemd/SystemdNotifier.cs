using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace MeowRobot.Hosting.Systemd;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram per message to <c>$NOTIFY_SOCKET</c> (a path, or <c>@name</c> in the
/// abstract namespace). Without <c>$NOTIFY_SOCKET</c> (not started by systemd, or Type=simple) every call is a no-op,
/// so services call it unconditionally. Thread-safe; never throws on a failed send (systemd may be restarting): the
/// result says whether the datagram left.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly UnixDomainSocketEndPoint? _endpoint;
    private readonly Lock _gate = new();
    private Socket? _socket;
    private bool _disposed;

    /// <summary>Reads <c>$NOTIFY_SOCKET</c>, <c>$WATCHDOG_USEC</c> and <c>$WATCHDOG_PID</c> of this process.</summary>
    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable, Environment.ProcessId);

    /// <param name="getEnvironmentVariable">Where the systemd variables come from (tests pass their own).</param>
    /// <param name="processId">This process's id, compared with <c>$WATCHDOG_PID</c>.</param>
    public SystemdNotifier(Func<string, string?> getEnvironmentVariable, int processId)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        var socket = getEnvironmentVariable("NOTIFY_SOCKET");
        if (!string.IsNullOrEmpty(socket))
        {
            // The abstract namespace is spelled with a leading '@' in the variable and a leading NUL on the wire.
            _endpoint = new UnixDomainSocketEndPoint(socket[0] == '@' ? "\0" + socket[1..] : socket);
            SocketDescription = socket;
        }
        WatchdogInterval = ParseWatchdog(getEnvironmentVariable("WATCHDOG_USEC"), getEnvironmentVariable("WATCHDOG_PID"), processId);
    }

    /// <summary>True when systemd listens (NOTIFY_SOCKET was set).</summary>
    public bool IsEnabled => _endpoint is not null;

    /// <summary>The socket as given in NOTIFY_SOCKET, for logs.</summary>
    public string? SocketDescription { get; }

    /// <summary>
    /// WatchdogSec= of the unit when the watchdog is meant for this process (WATCHDOG_USEC set and WATCHDOG_PID unset
    /// or ours), else null. Ping at half of it.
    /// </summary>
    public TimeSpan? WatchdogInterval { get; }

    /// <summary>READY=1, with an optional STATUS= line.</summary>
    public bool Ready(string? status = null) => Send(status is null ? "READY=1" : "READY=1\nSTATUS=" + OneLine(status));

    /// <summary>STATUS=: the line <c>systemctl status</c> shows.</summary>
    public bool Status(string status) => Send("STATUS=" + OneLine(status));

    /// <summary>WATCHDOG=1: "still alive" (only meaningful when <see cref="WatchdogInterval"/> is set).</summary>
    public bool Watchdog() => Send("WATCHDOG=1");

    /// <summary>STOPPING=1, with an optional STATUS= line.</summary>
    public bool Stopping(string? status = null) => Send(status is null ? "STOPPING=1" : "STOPPING=1\nSTATUS=" + OneLine(status));

    /// <summary>EXTEND_TIMEOUT_USEC=: asks for more time for a slow start or stop (e.g. a large checkpoint).</summary>
    public bool ExtendTimeout(TimeSpan by) =>
        Send("EXTEND_TIMEOUT_USEC=" + ((long)(by.Ticks / TimeSpan.TicksPerMicrosecond)).ToString(CultureInfo.InvariantCulture));

    /// <summary>Longest a message may wait for room in the manager's queue before it is dropped.</summary>
    public const int SendTimeoutMs = 200;

    /// <summary>Sends newline-separated assignments as one datagram. False when disabled, or when the send failed or found
    /// no room within <see cref="SendTimeoutMs"/> (the message is then dropped).</summary>
    public bool Send(string assignments)
    {
        ArgumentNullException.ThrowIfNull(assignments);
        if (_endpoint is null) return false;
        var bytes = Encoding.UTF8.GetBytes(assignments);
        lock (_gate)
        {
            if (_disposed) return false;
            try
            {
                // A datagram waits when the manager's queue is full (net.unix.max_dgram_qlen, often 10): bounded, so that a
                // manager that is slow to read can never stall the caller (the training thread, the service's status loop).
                _socket ??= new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { SendTimeout = SendTimeoutMs };
                return _socket.SendTo(bytes, SocketFlags.None, _endpoint) == bytes.Length;
            }
            catch (SocketException)
            {
                // The manager may be re-executing; a fresh socket next time costs nothing.
                _socket?.Dispose();
                _socket = null;
                return false;
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _socket?.Dispose();
            _socket = null;
        }
    }

    /// <summary>STATUS= ends at a newline: anything after it would be read as another (bogus) assignment.</summary>
    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    private static TimeSpan? ParseWatchdog(string? usec, string? pid, int processId)
    {
        if (!long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var us) || us <= 0) return null;
        if (!string.IsNullOrEmpty(pid) &&
            (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var owner) || owner != processId))
            return null;
        return TimeSpan.FromMicroseconds(us);
    }
}
