using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MeowRobot.Control.Serial;

/// <summary>
/// One serial line over termios, run by its own I/O thread: opened O_RDWR|O_NOCTTY|O_CLOEXEC|O_NONBLOCK with TIOCEXCL,
/// raw 8N1 at any rate, read whenever poll() says so, written from a bounded queue of frames that each get
/// <see cref="SerialPortOptions.WriteTimeout"/> to reach the wire or are dropped. When the device hangs up or vanishes
/// the port reports link down, closes, and reopens the same path with exponential backoff until it returns.
/// <see cref="Send"/> (one producer thread, e.g. the control loop) copies into the queue and wakes the I/O thread through
/// an eventfd: it never blocks, never allocates and never waits for the line.
/// </summary>
public sealed class SerialPort : IDisposable
{
    private readonly SerialPortOptions _options;
    private readonly ISerialLinkHandler _handler;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly long _writeTimeoutTicks;

    // Send queue: fixed slots, single producer (Send) / single consumer (the I/O thread).
    private readonly byte[] _slots;
    private readonly int[] _slotLengths;
    private readonly long[] _slotQueuedAt;
    private long _head, _tail;
    private int _headOffset;     // bytes of the head frame already written (I/O thread only)

    private int _fd = -1;        // I/O thread only
    private volatile bool _up;
    private volatile bool _stopping;
    private volatile SerialFault? _lastFault;
    private long _bytesRead, _bytesWritten, _framesSent, _droppedFull, _droppedDown, _droppedTimedOut, _opens, _openFailures, _linkDowns;
    private int _started;

    public SerialPort(SerialPortOptions options, ISerialLinkHandler handler)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        options.Validate();
        _options = options;
        _handler = handler;
        _writeTimeoutTicks = (long)(options.WriteTimeout.TotalSeconds * Stopwatch.Frequency);
        _slots = new byte[options.SendQueueFrames * SerialFrame.MaxFrameSize];
        _slotLengths = new int[options.SendQueueFrames];
        _slotQueuedAt = new long[options.SendQueueFrames];
        _wakeFd = Posix.EventFd(0, Posix.EFD_NONBLOCK | Posix.EFD_CLOEXEC);
        if (_wakeFd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new SerialPortException($"eventfd failed: {Posix.Describe(errno)}", errno);
        }
        _thread = new Thread(Run) { IsBackground = true, Name = "serial " + System.IO.Path.GetFileName(options.Path) };
    }

    public string Path => _options.Path;

    /// <summary>True while the line is open and configured.</summary>
    public bool IsUp => _up;

    /// <summary>Why the line last went down or failed to open (null until something failed).</summary>
    public SerialFault? LastFault => _lastFault;

    public SerialPortCounters Counters => new(
        Volatile.Read(ref _bytesRead), Volatile.Read(ref _bytesWritten), Volatile.Read(ref _framesSent),
        Volatile.Read(ref _droppedFull), Volatile.Read(ref _droppedDown), Volatile.Read(ref _droppedTimedOut),
        Volatile.Read(ref _opens), Volatile.Read(ref _openFailures), Volatile.Read(ref _linkDowns));

    /// <summary>Starts the I/O thread, which opens the line (retrying with backoff while it is absent).</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (Interlocked.Exchange(ref _started, 1) == 0)
            _thread.Start();
    }

    /// <summary>
    /// Queues one frame (≤ <see cref="SerialFrame.MaxFrameSize"/> bytes) for the wire. Returns false, and counts why, when
    /// the line is down or the queue is full. Single producer: call from one thread at a time.
    /// </summary>
    public unsafe bool Send(ReadOnlySpan<byte> frame)
    {
        if (frame.Length is 0 or > SerialFrame.MaxFrameSize)
            throw new ArgumentException($"a frame is 1..{SerialFrame.MaxFrameSize} bytes, got {frame.Length}", nameof(frame));
        if (!_up)
        {
            Interlocked.Increment(ref _droppedDown);
            return false;
        }
        var tail = _tail;
        if (tail - Volatile.Read(ref _head) >= _slotLengths.Length)
        {
            Interlocked.Increment(ref _droppedFull);
            return false;
        }
        var slot = (int)(tail % _slotLengths.Length);
        frame.CopyTo(_slots.AsSpan(slot * SerialFrame.MaxFrameSize, SerialFrame.MaxFrameSize));
        _slotLengths[slot] = frame.Length;
        _slotQueuedAt[slot] = Stopwatch.GetTimestamp();
        Volatile.Write(ref _tail, tail + 1);
        ulong one = 1;
        Posix.Write(_wakeFd, (byte*)&one, 8);   // non-blocking; a saturated counter still leaves the fd readable
        return true;
    }

    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        Wake();
        if (_started != 0)
            _thread.Join();
        Posix.Close(_wakeFd);
    }

    private unsafe void Wake()
    {
        ulong one = 1;
        Posix.Write(_wakeFd, (byte*)&one, 8);
    }

    private void Run()
    {
        var backoff = _options.ReopenMinDelay;
        while (!_stopping)
        {
            if (!TryOpen())
            {
                WaitWhileDown(backoff);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.ReopenMaxDelay.Ticks));
                continue;
            }
            backoff = _options.ReopenMinDelay;
            _up = true;
            _handler.OnLinkUp();
            var fault = Service();
            _up = false;
            Posix.Close(_fd);
            _fd = -1;
            DropQueued(ref _droppedDown);
            if (fault is not null)
            {
                _lastFault = fault;
                Interlocked.Increment(ref _linkDowns);
                _handler.OnLinkDown(fault);
            }
        }
    }

    private bool TryOpen()
    {
        var fd = Posix.Open(_options.Path, Posix.O_RDWR | Posix.O_NOCTTY | Posix.O_CLOEXEC | Posix.O_NONBLOCK);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Failed(new SerialFault(SerialFaultKind.OpenFailed, errno, $"open {_options.Path}: {Posix.Describe(errno)}"));
            return false;
        }
        try
        {
            if (Posix.Ioctl(fd, Posix.TIOCEXCL, 0) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new SerialPortException($"TIOCEXCL failed: {Posix.Describe(errno)}", errno);
            }
            SerialTermios.Apply(fd, _options.BaudRate);
        }
        catch (SerialPortException e)
        {
            Posix.Close(fd);
            Failed(new SerialFault(SerialFaultKind.ConfigureFailed, e.Errno, $"{_options.Path}: {e.Message}"));
            return false;
        }
        _fd = fd;
        Interlocked.Increment(ref _opens);
        return true;
    }

    private void Failed(SerialFault fault)
    {
        _lastFault = fault;
        Interlocked.Increment(ref _openFailures);
    }

    private unsafe void WaitWhileDown(TimeSpan delay)
    {
        var until = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        while (!_stopping)
        {
            var now = Stopwatch.GetTimestamp();
            _handler.OnIdle(now);
            if (now >= until)
                return;
            var wait = Math.Min(RemainingMs(until, now), (int)_options.PollInterval.TotalMilliseconds);
            var pfd = new Posix.PollFd { fd = _wakeFd, events = Posix.POLLIN };
            if (Posix.Poll(&pfd, 1, wait) > 0)
                DrainWake();
            DropQueued(ref _droppedDown);
        }
    }

    /// <summary>Runs the open line until it fails (returns why) or the port stops (returns null).</summary>
    private unsafe SerialFault? Service()
    {
        var buffer = stackalloc byte[4096];
        var pollMs = (int)_options.PollInterval.TotalMilliseconds;
        var fds = stackalloc Posix.PollFd[2];
        while (!_stopping)
        {
            var now = Stopwatch.GetTimestamp();
            var pending = HasQueued();
            var timeout = pollMs;
            if (pending)
            {
                var head = (int)(Volatile.Read(ref _head) % _slotLengths.Length);
                timeout = Math.Min(timeout, RemainingMs(_slotQueuedAt[head] + _writeTimeoutTicks, now));
            }
            fds[0] = new Posix.PollFd { fd = _fd, events = (short)(Posix.POLLIN | (pending ? Posix.POLLOUT : 0)) };
            fds[1] = new Posix.PollFd { fd = _wakeFd, events = Posix.POLLIN };
            if (Posix.Poll(fds, 2, timeout) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Posix.EINTR)
                    return new SerialFault(SerialFaultKind.IoError, errno, $"poll {_options.Path}: {Posix.Describe(errno)}");
            }
            if ((fds[1].revents & Posix.POLLIN) != 0)
                DrainWake();
            var events = fds[0].revents;

            // Read before acting on a hang-up: bytes that arrived before it are still delivered.
            if ((events & (Posix.POLLIN | Posix.POLLHUP | Posix.POLLERR)) != 0)
            {
                var n = Posix.Read(_fd, buffer, 4096);
                if (n > 0)
                {
                    Interlocked.Add(ref _bytesRead, n);
                    _handler.OnBytes(new ReadOnlySpan<byte>(buffer, (int)n));
                }
                else if (n == 0)
                {
                    return new SerialFault(SerialFaultKind.HungUp, 0, $"{_options.Path}: end of file (device gone)");
                }
                else
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != Posix.EAGAIN && errno != Posix.EINTR)
                        return Fault(errno, "read");
                    if ((events & (Posix.POLLHUP | Posix.POLLERR)) != 0)
                        return new SerialFault(SerialFaultKind.HungUp, 0, $"{_options.Path}: hung up");
                }
            }
            if ((events & Posix.POLLNVAL) != 0)
                return new SerialFault(SerialFaultKind.IoError, 0, $"{_options.Path}: descriptor no longer valid");

            if (WriteQueued(Stopwatch.GetTimestamp()) is { } writeFault)
                return writeFault;
            _handler.OnIdle(Stopwatch.GetTimestamp());
        }
        return null;
    }

    /// <summary>Writes queued frames until the line would block; drops those past their deadline.</summary>
    private unsafe SerialFault? WriteQueued(long now)
    {
        while (HasQueued())
        {
            var head = Volatile.Read(ref _head);
            var slot = (int)(head % _slotLengths.Length);
            if (now - _slotQueuedAt[slot] > _writeTimeoutTicks)
            {
                // Even a partly written frame is abandoned: the receiver's parser skips the truncated bytes.
                Interlocked.Increment(ref _droppedTimedOut);
                Advance(head);
                continue;
            }
            var length = _slotLengths[slot];
            fixed (byte* start = &_slots[slot * SerialFrame.MaxFrameSize])
            {
                var n = Posix.Write(_fd, start + _headOffset, (nuint)(length - _headOffset));
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno is Posix.EAGAIN or Posix.EINTR)
                        return null;
                    return Fault(errno, "write");
                }
                Interlocked.Add(ref _bytesWritten, n);
                _headOffset += (int)n;
            }
            if (_headOffset < length)
                return null;
            Interlocked.Increment(ref _framesSent);
            Advance(head);
        }
        return null;
    }

    private SerialFault Fault(int errno, string what) =>
        new(errno is Posix.EIO or Posix.ENXIO or Posix.ENODEV ? SerialFaultKind.HungUp : SerialFaultKind.IoError,
            errno, $"{what} {_options.Path}: {Posix.Describe(errno)}");

    private bool HasQueued() => Volatile.Read(ref _head) != Volatile.Read(ref _tail);

    private void Advance(long head)
    {
        _headOffset = 0;
        Volatile.Write(ref _head, head + 1);
    }

    private void DropQueued(ref long counter)
    {
        while (HasQueued())
        {
            Interlocked.Increment(ref counter);
            Advance(Volatile.Read(ref _head));
        }
    }

    private unsafe void DrainWake()
    {
        ulong value;
        Posix.Read(_wakeFd, (byte*)&value, 8);
    }

    private static int RemainingMs(long until, long now) =>
        (int)Math.Clamp((until - now) * 1000 / Stopwatch.Frequency + 1, 0, int.MaxValue);
}
