using System.Collections.Concurrent;
using System.Diagnostics;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Teleop;
using MeowRobot.Testing;

namespace MeowRobot.Control.Tests;

/// <summary>The operator link end to end over a socat pty pair: our receiver on one end, the emulated transmitter on the other.</summary>
public sealed class TeleopLinkTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SocatPair _pty = new();
    private readonly TeleopChannel _channel = new();
    private readonly TeleopLink _link;
    private readonly TeleopTransmitter _transmitter;
    private readonly BlockingCollection<TeleopLinkEvent> _events = new();

    public TeleopLinkTests()
    {
        _link = new TeleopLink(SerialPortTests.Fast(_pty.A), _channel);
        _link.Changed += _events.Add;
        _transmitter = new TeleopTransmitter(SerialPortTests.Fast(_pty.B), new TeleopTransmitterOptions { AxisCount = 2, RateHz = 50 });
    }

    public void Dispose()
    {
        _transmitter.Dispose();
        _link.Dispose();
        _pty.Dispose();
    }

    /// <summary>Takes events until one of <paramref name="kind"/> comes (bounded).</summary>
    private TeleopLinkEvent Expect(TeleopLinkEventKind kind)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Wait.TotalSeconds * Stopwatch.Frequency);
        while (_events.TryTake(out var e, TimeSpan.FromTicks(Math.Max(0, deadline - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency)))
        {
            if (e.Kind == kind)
                return e;
        }
        Assert.Fail($"no {kind} event within {Wait}");
        return default;
    }

    private TeleopInput WaitForInput(Func<TeleopInput, bool> condition)
    {
        TeleopInput input = default;
        Assert.True(SpinWait.SpinUntil(() => _channel.TryRead(out input) && condition(input), Wait), $"input never matched; last {input.Buttons} {input.AxisCount}");
        return input;
    }

    [RequiresFact(Requirement.Socat)]
    public void Heartbeats_make_the_link_alive_and_axes_and_buttons_reach_the_loop_handoff()
    {
        _transmitter.SetAxes([0.25f, -0.75f]);
        _transmitter.Buttons = TeleopButtons.Override | TeleopButtons.Arm;
        _link.Start();
        _transmitter.Start();
        Expect(TeleopLinkEventKind.Alive);
        var input = WaitForInput(i => i.Buttons == (TeleopButtons.Override | TeleopButtons.Arm) && i.AxisCount == 2);
        Assert.Equal([0.25f, -0.75f], ((ReadOnlySpan<float>)input.Axes)[..2].ToArray());
        Assert.InRange(Stopwatch.GetElapsedTime(input.HeartbeatTimestamp).TotalSeconds, 0, 0.5);

        _transmitter.Buttons = TeleopButtons.EStop;
        WaitForInput(i => i.Buttons == TeleopButtons.EStop);
        var counters = _link.Counters;
        Assert.True(counters.Heartbeats > 0 && counters.AxesFrames > 0 && counters.ButtonFrames > 0);
        Assert.Equal(0, counters.SequenceGaps + counters.RejectedMessages + counters.FrameErrors.Total);
    }

    [RequiresFact(Requirement.Socat)]
    public void Link_is_lost_within_the_heartbeat_timeout_when_heartbeats_stop_and_returns_when_they_resume()
    {
        _transmitter.Buttons = TeleopButtons.Override;
        _link.Start();
        _transmitter.Start();
        Expect(TeleopLinkEventKind.Alive);
        WaitForInput(i => i.Buttons == TeleopButtons.Override);

        var stopped = Stopwatch.GetTimestamp();
        _transmitter.HeartbeatsEnabled = false;
        var lost = Expect(TeleopLinkEventKind.Lost);
        var after = (lost.Timestamp - stopped) / (double)Stopwatch.Frequency;
        // The last heartbeat left at most one period (20 ms) before we stopped them; the check runs every poll interval.
        Assert.InRange(after, 0.5 - 0.03, 0.5 + 0.4);
        Assert.False(_link.IsAlive);
        // Axes and buttons keep coming but drive nothing: the handoff holds a cleared input with the stale heartbeat.
        var input = WaitForInput(i => true);
        Assert.Equal(TeleopButtons.None, input.Buttons);
        Assert.Equal(0, input.AxisCount);
        Assert.True(Stopwatch.GetElapsedTime(input.HeartbeatTimestamp).TotalSeconds > 0.5);

        _transmitter.HeartbeatsEnabled = true;
        Expect(TeleopLinkEventKind.Alive);
        WaitForInput(i => i.Buttons == TeleopButtons.Override);
        Assert.Equal(1, _link.Counters.LinkLosses);
    }

    [RequiresFact(Requirement.Socat)]
    public void Unplugged_receiver_is_reported_and_loses_the_link_then_recovers_when_plugged_back()
    {
        _link.Start();
        _transmitter.Start();
        Expect(TeleopLinkEventKind.Alive);
        _pty.Unplug();
        Expect(TeleopLinkEventKind.PortDown);
        Expect(TeleopLinkEventKind.Lost);
        _pty.Restart();
        Expect(TeleopLinkEventKind.PortUp);
        Expect(TeleopLinkEventKind.Alive);
        Assert.Equal(2, _link.Port.Counters.Opens);
    }
}
