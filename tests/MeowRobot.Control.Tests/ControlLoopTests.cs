using System.Diagnostics;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Tests;

[Collection(RealtimeCollection.Name)]
public class ControlLoopTests
{
    private static readonly float[] Low = [-2f, -2f, -2f];
    private static readonly float[] High = [2f, 2f, 2f];

    private static (ControlLoop Loop, FakeRobot Robot) Loop(double rateHz, bool arm = true, double observationTimeout = 0.1)
    {
        var envelope = new SafetyEnvelopeOptions
        {
            ActionLow = Low, ActionHigh = High, MaxRatePerSecond = [400f, 400f, 400f], SafeAction = SafeActionKind.Zero,
            ObservationTimeoutSeconds = observationTimeout, DeadlineMissBudget = 1000,
        };
        var robot = new FakeRobot(5, Low, High, [(float)(400 / rateHz), (float)(400 / rateHz), (float)(400 / rateHz)]);
        var loop = new ControlLoop(robot, new ControlLoopOptions { RateHz = rateHz, SnapshotIntervalSeconds = 0.05, WarmupTicks = 2000 },
            envelope, new ModeOptions { ArmOnStart = arm });
        return (loop, robot);
    }

    /// <summary>The newest snapshot, or an empty one before the loop thread has published its first.</summary>
    private static LoopSnapshot Snapshot(ControlLoop loop) => loop.TryReadSnapshot(out var s) ? s : default;

    [Fact]
    public void Steady_state_ticks_allocate_nothing_on_the_loop_thread()
    {
        var (loop, robot) = Loop(5000);
        robot.LiveObservation = [0.1f, -0.2f, 0.3f, 0f, 1f];
        loop.OfferPolicy(new ActivePolicy(new ChaoticPolicy(5, 3, 7, scale: 3f, badRate: 0.001), 1, "chaotic"));
        var teleop = new TeleopInput { HeartbeatTimestamp = Stopwatch.GetTimestamp(), AxisCount = 3 };
        loop.Teleop.Publish(teleop);   // live link: NaN ticks fall back to teleop and back again on resume
        loop.Start();
        // ≥ 10k ticks after the 2000-tick warm-up, with transitions (NaN outputs) and API commands along the way
        Wait.Until(() => Snapshot(loop).Tick >= 12_500, "12.5k ticks", seconds: 60);
        loop.Resume();
        Wait.Until(() => Snapshot(loop).Tick >= 14_000, "14k ticks", seconds: 60);
        var s = Snapshot(loop);
        Assert.True(loop.Stop(TimeSpan.FromSeconds(10)));
        Assert.Null(loop.Fault);

        Assert.Equal(0, s.LoopAllocatedBytes);
        Assert.True(s.NonFiniteActions > 0, "the chaotic policy produced no NaN: the fallback path was not exercised");
        Assert.True(s.TransitionTotal > 0);
        Assert.Equal(0, robot.Violations);
    }

    [Fact]
    public void Stop_drives_the_safe_action_at_the_rate_limit_before_outputs_stop()
    {
        var (loop, robot) = Loop(1000);
        robot.LiveObservation = [0f, 0f, 0f, 0f, 0f];
        loop.OfferPolicy(new ActivePolicy(new ConstantPolicy(5, [2f, -2f, 1f]), 1, "const"));
        loop.Start();
        Wait.Until(() => robot.Actions.Read(out _, out var seq).Length == 3 && seq > 0 && robot.Actions.Read(out _, out _)[0] == 2f, "the policy's action reached");
        var before = robot.Writes;
        Assert.True(loop.Stop(TimeSpan.FromSeconds(5)));
        var last = robot.Actions.Read(out _, out _).ToArray();
        Assert.Equal([0f, 0f, 0f], last);
        Assert.True(robot.Writes - before >= 5, "reaching zero from 2 at 0.4 per tick takes 5 ticks");
        Assert.Equal(0, robot.Violations);
        var s = Snapshot(loop);
        Assert.False(s.Running);
        Assert.Equal(ControlMode.SafeStop, s.Mode);
    }

    [Fact]
    public void Policies_swapped_under_load_are_adopted_at_tick_boundaries_and_released_off_the_loop()
    {
        var (loop, robot) = Loop(2000);
        robot.LiveObservation = [0f, 0f, 0f, 0f, 0f];
        loop.Start();
        var offered = new List<ConstantPolicy>();
        for (var v = 1; v <= 300; v++)
        {
            var p = new ConstantPolicy(5, [v % 2 == 0 ? 1f : -1f, 0f, 0f]);
            offered.Add(p);
            loop.OfferPolicy(new ActivePolicy(p, v, "v" + v));
            loop.CollectRetiredPolicy();
            if (v % 50 == 0)
                Wait.Until(() => Snapshot(loop).PolicyVersion == v, $"version {v} adopted");
        }
        Wait.Until(() => Snapshot(loop).PolicyVersion == 300, "the last version adopted");
        loop.CollectRetiredPolicy();
        var s = Snapshot(loop);
        Assert.Equal(ControlMode.Policy, s.Mode);
        Assert.True(s.PolicySwaps is >= 6 and <= 300);
        Assert.True(loop.Stop(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, robot.Violations);
        // every policy but the one driving was released (displaced offers by OfferPolicy, retired ones by CollectRetiredPolicy)
        Assert.Equal(299, offered.Count(p => p.Disposed));
        loop.Dispose();
        Assert.All(offered, p => Assert.True(p.Disposed));
    }

    [Fact]
    public void Observations_that_stop_arriving_make_the_running_loop_stop_safely()
    {
        var (loop, robot) = Loop(1000, observationTimeout: 0.05);
        loop.OfferPolicy(new ActivePolicy(new ConstantPolicy(5, [1f, 1f, 1f]), 1, "const"));
        robot.Publish([0f, 0f, 0f, 0f, 0f], Stopwatch.GetTimestamp());
        loop.Start();
        // one observation, then silence: the policy drives until it is 50 ms old, then SafeStop, with no transition back
        Wait.Until(() => Snapshot(loop).Mode == ControlMode.SafeStop, "safe stop");
        var s = Snapshot(loop);
        Assert.Equal(ObservationFault.Stale, s.ObservationFault);
        Assert.Equal(1, loop.TransitionCount(ControlMode.Idle, ControlMode.Policy));
        Assert.Equal(1, loop.TransitionCount(ControlMode.Policy, ControlMode.SafeStop));
        Assert.True(loop.Transitions.TryDequeue(out var first));
        Assert.Equal(TransitionReason.Armed, first.Reason);
        Assert.True(loop.Transitions.TryDequeue(out var second));
        Assert.Equal(TransitionReason.ObservationStale, second.Reason);
        Wait.Until(() => robot.Actions.Read(out _, out _)[0] == 0f, "the safe action reached");
        Assert.True(loop.Stop(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, robot.Violations);
    }

    [Fact]
    public void The_watchdog_timestamp_advances_while_ticks_meet_their_deadlines_and_api_estop_latches()
    {
        var (loop, robot) = Loop(1000);
        robot.LiveObservation = [0f, 0f, 0f, 0f, 0f];
        loop.OfferPolicy(new ActivePolicy(new ConstantPolicy(5, [1f, 1f, 1f]), 1, "const"));
        Assert.Equal(0, loop.LastHealthyTickTimestamp);
        loop.Start();
        Wait.Until(() => loop.LastHealthyTickTimestamp != 0, "a healthy tick");
        var first = loop.LastHealthyTickTimestamp;
        Wait.Until(() => loop.LastHealthyTickTimestamp > first, "the next healthy tick");
        loop.RequestEStop();
        Wait.Until(() => Snapshot(loop).Mode == ControlMode.EStop, "e-stop");
        loop.Resume();
        loop.Arm();
        Wait.Until(() => robot.Actions.Read(out _, out _)[0] == 0f, "safe action under e-stop");
        Assert.Equal(ControlMode.EStop, Snapshot(loop).Mode);
        loop.ResetEStop();
        Wait.Until(() => Snapshot(loop).Mode == ControlMode.Idle, "reset to idle");
        Assert.True(loop.Stop(TimeSpan.FromSeconds(5)));
        Assert.True((Snapshot(loop).Realtime & RealtimeStatus.AbsoluteSleep) != 0 || !OperatingSystem.IsLinux());
    }

    [Fact]
    public void Invalid_rates_and_scheduling_requests_are_rejected_at_construction_and_refused_privileges_are_reported()
    {
        var robot = new FakeRobot(5, Low, High, [1f, 1f, 1f]);
        var env = new SafetyEnvelopeOptions { ActionLow = Low, ActionHigh = High };
        Assert.Throws<InvalidControlOptionsException>(() => new ControlLoop(robot, new ControlLoopOptions { RateHz = 10_000 }, env, new ModeOptions()));
        Assert.Throws<InvalidControlOptionsException>(() => new ControlLoop(robot, new ControlLoopOptions { RateHz = 10 }, env, new ModeOptions()));
        Assert.Throws<InvalidControlOptionsException>(() => new ControlLoop(robot, new ControlLoopOptions { RealtimePriority = 120 }, env, new ModeOptions()));

        using var loop = new ControlLoop(robot, new ControlLoopOptions { RealtimePriority = 10, CpuAffinity = [0], SnapshotIntervalSeconds = 0.01 }, env, new ModeOptions());
        loop.Start();
        Wait.Until(() => loop.TryReadSnapshot(out var s) && s.Tick > 0, "a snapshot");
        Assert.True(loop.TryReadSnapshot(out var snap));
        Assert.True((snap.Realtime & RealtimeStatus.FifoRequested) != 0);
        Assert.True((snap.Realtime & RealtimeStatus.AffinityApplied) != 0);   // CPU 0 always exists
        Assert.Null(loop.Fault);                                                 // FIFO refused or granted: either way it runs
    }
}
