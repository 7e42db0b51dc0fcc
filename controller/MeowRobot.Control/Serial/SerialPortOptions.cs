namespace MeowRobot.Control.Serial;

/// <summary>How to open and run one serial line.</summary>
public sealed record SerialPortOptions
{
    /// <summary>Device path (e.g. /dev/ttyACM0, or a stable /dev/serial/by-id link that survives re-plugging).</summary>
    public required string Path { get; init; }

    /// <summary>Any positive rate; standard ones use their B-code, others termios2 BOTHER.</summary>
    public int BaudRate { get; init; } = 115200;

    /// <summary>Longest the I/O thread sleeps in poll() when the line is quiet (bounds stop latency and idle ticks).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>A queued frame not on the wire this long after it was queued is dropped (and counted).</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>First wait before reopening a line that went away; doubles per failed attempt up to <see cref="ReopenMaxDelay"/>.</summary>
    public TimeSpan ReopenMinDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan ReopenMaxDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Frames that may wait for the line at once; more are dropped (and counted).</summary>
    public int SendQueueFrames { get; init; } = 32;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Path);
        ArgumentOutOfRangeException.ThrowIfLessThan(BaudRate, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(PollInterval, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(WriteTimeout, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReopenMinDelay, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReopenMaxDelay, ReopenMinDelay);
        ArgumentOutOfRangeException.ThrowIfLessThan(SendQueueFrames, 1);
    }
}

/// <summary>Why a line is down.</summary>
public enum SerialFaultKind
{
    /// <summary>open() failed (device absent, permission, busy).</summary>
    OpenFailed,
    /// <summary>termios or exclusive-access setup failed.</summary>
    ConfigureFailed,
    /// <summary>The device hung up or vanished (POLLHUP/POLLERR, EIO, ENXIO, ENODEV, end of file).</summary>
    HungUp,
    /// <summary>Another read/write/poll error.</summary>
    IoError,
}

/// <summary>One reason the line went down or could not be opened.</summary>
public sealed record SerialFault(SerialFaultKind Kind, int Errno, string Message);

/// <summary>Counters of one serial line (a snapshot; any thread).</summary>
public readonly record struct SerialPortCounters(
    long BytesRead, long BytesWritten, long FramesSent,
    long DroppedQueueFull, long DroppedLinkDown, long DroppedTimedOut,
    long Opens, long OpenFailures, long LinkDowns);

/// <summary>What a <see cref="SerialPort"/> reports, all on its I/O thread.</summary>
public interface ISerialLinkHandler
{
    /// <summary>The line was (re)opened and configured.</summary>
    void OnLinkUp();

    /// <summary>Bytes arrived (the span is only valid during the call).</summary>
    void OnBytes(ReadOnlySpan<byte> data);

    /// <summary>An open line went away; the port reopens it with backoff.</summary>
    void OnLinkDown(SerialFault fault);

    /// <summary>Each wake of the I/O thread, at least every <see cref="SerialPortOptions.PollInterval"/>, up or down.</summary>
    void OnIdle(long nowTicks);
}
