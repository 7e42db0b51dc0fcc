using System.Collections.Concurrent;
using System.Diagnostics;
using MeowRobot.Control.Serial;
using MeowRobot.Testing;

namespace MeowRobot.Control.Tests;

/// <summary>Collects what a serial port reports, for tests to wait on.</summary>
internal sealed class FrameCollector : ISerialLinkHandler
{
    private readonly SerialFrameParser _parser = new();
    private int _ups, _downs;

    public BlockingCollection<(SerialMessageType Type, byte Sequence, byte[] Payload)> Frames { get; } = new();
    public SemaphoreSlim Ups { get; } = new(0);
    public SemaphoreSlim Downs { get; } = new(0);
    public ConcurrentQueue<SerialFault> Faults { get; } = new();
    public SerialFrameErrors Errors => _parser.Errors;
    public int UpCount => Volatile.Read(ref _ups);
    public int DownCount => Volatile.Read(ref _downs);

    public void OnLinkUp()
    {
        Interlocked.Increment(ref _ups);
        Ups.Release();
    }

    public void OnBytes(ReadOnlySpan<byte> data)
    {
        while (_parser.TryRead(ref data, out var frame))
            Frames.Add((frame.Type, frame.Sequence, frame.Payload.ToArray()));
    }

    public void OnLinkDown(SerialFault fault)
    {
        _parser.Reset();
        Faults.Enqueue(fault);
        Interlocked.Increment(ref _downs);
        Downs.Release();
    }

    public void OnIdle(long nowTicks) { }

    public (SerialMessageType Type, byte Sequence, byte[] Payload) Next()
    {
        Assert.True(Frames.TryTake(out var frame, TimeSpan.FromSeconds(5)), $"no frame within 5 s (parser errors {Errors}, buffered {_parser.Buffered}, ups {UpCount}, downs {DownCount})");
        return frame;
    }
}

public class SerialPortTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    /// <summary>Quick reopening; a write deadline long enough that a busy shared test machine never drops a frame.</summary>
    internal static SerialPortOptions Fast(string path) => new()
    {
        Path = path,
        WriteTimeout = TimeSpan.FromSeconds(1),
        ReopenMinDelay = TimeSpan.FromMilliseconds(10),
        ReopenMaxDelay = TimeSpan.FromMilliseconds(100),
    };

    [RequiresFact(Requirement.Socat)]
    public void Frames_cross_the_pty_in_both_directions_in_order()
    {
        using var pty = new SocatPair();
        var a = new FrameCollector();
        var b = new FrameCollector();
        using var portA = new SerialPort(Fast(pty.A), a);
        using var portB = new SerialPort(Fast(pty.B) with { BaudRate = 1_000_000 }, b);
        portA.Start();
        portB.Start();
        Assert.True(a.Ups.Wait(Wait) && b.Ups.Wait(Wait));

        var frame = new byte[SerialFrame.MaxFrameSize];
        for (var i = 0; i < 200; i++)
        {
            var payload = Enumerable.Range(0, i).Select(k => (byte)(k * 7 + i)).ToArray();
            // The queue holds 32 frames; a full queue is a refusal, so pace on it rather than on time.
            Assert.True(SpinWait.SpinUntil(() => portA.Send(frame.AsSpan(0, SerialFrame.Write(frame, SerialMessageType.Axes, (byte)i, payload))), Wait));
        }
        for (var i = 0; i < 200; i++)
        {
            var (type, sequence, payload) = b.Next();
            Assert.Equal(SerialMessageType.Axes, type);
            Assert.Equal((byte)i, sequence);
            Assert.Equal(Enumerable.Range(0, i).Select(k => (byte)(k * 7 + i)), payload);
        }
        Assert.True(portB.Send(frame.AsSpan(0, SerialMessages.WriteHeartbeat(frame, 42, 1234))));
        Assert.Equal((SerialMessageType.Heartbeat, (byte)42), a.Next() is var f ? (f.Type, f.Sequence) : default);
        Assert.Equal(0, b.Errors.Total + b.Errors.GarbageBytes);
        Assert.Equal(200, portA.Counters.FramesSent);
    }

    [RequiresFact(Requirement.Socat)]
    public void Garbage_and_partial_frames_on_the_line_are_skipped_and_counted()
    {
        using var pty = new SocatPair();
        var b = new FrameCollector();
        using var portA = new SerialPort(Fast(pty.A), new FrameCollector());
        using var portB = new SerialPort(Fast(pty.B), b);
        portA.Start();
        portB.Start();
        Assert.True(SpinWait.SpinUntil(() => portA.IsUp && portB.IsUp, Wait));

        var good1 = ReferenceFraming.Frame(0x01, 1, [1, 0, 0, 0]);
        var good2 = ReferenceFraming.Frame(0x03, 2, [0x04]);
        var corrupt = ReferenceFraming.Frame(0x02, 9, [0x11, 0x11, 0x80, 0x3F]);
        corrupt[4] ^= 0x01;              // a payload byte: the CRC catches it
        byte[] noise = [0x13, 0xA5, 0xFF];
        foreach (var chunk in new[] { noise, good1, corrupt, good1[..7], good2, noise, good1 })
            Assert.True(portA.Send(chunk));

        Assert.Equal((SerialMessageType.Heartbeat, (byte)1), b.Next() is var f1 ? (f1.Type, f1.Sequence) : default);
        Assert.Equal((SerialMessageType.Buttons, (byte)2), b.Next() is var f2 ? (f2.Type, f2.Sequence) : default);
        Assert.Equal((SerialMessageType.Heartbeat, (byte)1), b.Next() is var f3 ? (f3.Type, f3.Sequence) : default);
        // Noise twice (bad COBS), the corrupted frame (CRC), the cut frame (too short once decoded).
        Assert.Equal(new SerialFrameErrors(3 + (corrupt.Length - 2) + 6 + 3, EncodingErrors: 2, CrcMismatches: 1, LengthErrors: 1), b.Errors);
    }

    [RequiresFact(Requirement.Socat)]
    public void Unplugged_device_goes_down_and_comes_back_when_it_returns()
    {
        using var pty = new SocatPair();
        var a = new FrameCollector();
        var b = new FrameCollector();
        using var portA = new SerialPort(Fast(pty.A), a);
        using var portB = new SerialPort(Fast(pty.B), b);
        portA.Start();
        portB.Start();
        Assert.True(a.Ups.Wait(Wait) && b.Ups.Wait(Wait));

        pty.Unplug();
        Assert.True(a.Downs.Wait(Wait), "no link-down after the pty vanished");
        Assert.True(a.Faults.TryPeek(out var fault));
        Assert.Equal(SerialFaultKind.HungUp, fault.Kind);
        Assert.False(portA.IsUp);

        var frame = new byte[SerialFrame.MaxFrameSize];
        var n = SerialMessages.WriteHeartbeat(frame, 1, 1);
        Assert.False(portA.Send(frame.AsSpan(0, n)));
        Assert.True(portA.Counters.DroppedLinkDown >= 1);
        // While it is gone, reopening fails (the link dangles) and is retried with backoff.
        Assert.True(SpinWait.SpinUntil(() => portA.Counters.OpenFailures >= 2, Wait));
        Assert.Equal(SerialFaultKind.OpenFailed, portA.LastFault!.Kind);

        pty.Restart();
        Assert.True(a.Ups.Wait(Wait), "port A did not reopen");
        Assert.True(b.Ups.Wait(Wait), "port B did not reopen");
        Assert.Equal(2, portA.Counters.Opens);
        Assert.Equal(1, portA.Counters.LinkDowns);
        Assert.True(portA.Send(frame.AsSpan(0, SerialMessages.WriteHeartbeat(frame, 2, 2))));
        Assert.Equal(2, b.Next().Sequence);
    }

    [RequiresFact(Requirement.Socat)]
    public void Writes_that_cannot_reach_the_line_in_time_are_dropped_and_sending_never_blocks()
    {
        using var pty = new SocatPair();
        // Nobody opens B: socat's and the ptys' buffers fill, then our writes stall.
        using var portA = new SerialPort(Fast(pty.A) with { WriteTimeout = TimeSpan.FromMilliseconds(5) }, new FrameCollector());
        portA.Start();
        Assert.True(SpinWait.SpinUntil(() => portA.IsUp, Wait));
        var frame = new byte[SerialFrame.MaxFrameSize];
        var n = SerialFrame.Write(frame, SerialMessageType.Actuator, 0, new byte[200]);
        var slowest = 0L;
        var deadline = Stopwatch.GetTimestamp() + 20 * Stopwatch.Frequency;
        while (portA.Counters.DroppedTimedOut == 0 && Stopwatch.GetTimestamp() < deadline)
        {
            var t0 = Stopwatch.GetTimestamp();
            portA.Send(frame.AsSpan(0, n));
            slowest = Math.Max(slowest, Stopwatch.GetTimestamp() - t0);
        }
        var counters = portA.Counters;
        Assert.True(counters.DroppedTimedOut > 0, $"nothing timed out: {counters}");
        Assert.True(counters.DroppedQueueFull > 0, $"the queue never filled: {counters}");
        // A non-blocking copy plus an eventfd write; generous bound for a shared 2-core machine.
        Assert.True(slowest < Stopwatch.Frequency / 20, $"a Send took {slowest * 1000.0 / Stopwatch.Frequency} ms");
        Assert.True(portA.IsUp);
    }

    [RequiresFact(Requirement.Socat)]
    public void Raw_mode_and_standard_and_non_standard_rates_reach_the_kernel()
    {
        using var pty = new SocatPair();
        var fd = Posix.Open(pty.B, Posix.O_RDWR | Posix.O_NOCTTY | Posix.O_CLOEXEC | Posix.O_NONBLOCK);
        Assert.True(fd >= 0);
        try
        {
            SerialTermios.Apply(fd, 115200);
            // stty reads the line through glibc's tcgetattr: an independent view of what we set.
            var stty = Stty(pty.B);
            Assert.Contains("speed 115200 baud", stty);
            var words = stty.Split([' ', ';', '\n'], StringSplitOptions.RemoveEmptyEntries);
            foreach (var flag in new[] { "-icanon", "-echo", "-isig", "-iexten", "-opost", "-icrnl", "-ixon", "-ixoff", "-parenb", "-cstopb", "cs8", "cread", "clocal" })
                Assert.Contains(flag, words);
            Assert.Contains("min = 1", stty);
            Assert.Contains("time = 0", stty);

            SerialTermios.Apply(fd, 250_000);
            var settings = SerialTermios.Query(fd);
            Assert.Equal(0x1000u, settings.ControlFlags & 0x100Fu);   // CBAUD field holds BOTHER (<asm/termbits.h>: 0010000)
            Assert.Equal(250_000u, settings.OutputSpeed);
            Assert.Equal(250_000u, settings.InputSpeed);
        }
        finally
        {
            Posix.Close(fd);
        }
    }

    private static string Stty(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("stty", ["-F", path, "-a"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return output;
    }
}
