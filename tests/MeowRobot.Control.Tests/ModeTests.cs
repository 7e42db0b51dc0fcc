using MeowRobot.Control.Modes;
using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Tests;

/// <summary>Mode arbitration through the whole cycle (observation checks, policy, envelope) on synthetic time.</summary>
public class ModeTests
{
    private static readonly float[] Obs = [0.1f, 0.2f, 0.3f];

    private static CycleHarness Harness(bool armOnStart = true, double hysteresis = 0, double stallReengage = 0.25, int stallReengagesPerMinute = 3) => new(
        new SafetyEnvelopeOptions
        {
            ActionLow = [-1f, -1f], ActionHigh = [1f, 1f], MaxRatePerSecond = [1000f, 1000f],
            SafeAction = SafeActionKind.Zero, ObservationTimeoutSeconds = 0.02, StateBounds = [new StateBound(0, -1f, 1f)], DeadlineMissBudget = 5,
        },
        new ModeOptions
        {
            ArmOnStart = armOnStart, TeleopTimeoutSeconds = 0.05, ResumeHysteresisSeconds = hysteresis,
            StallReengageSeconds = stallReengage, StallReengagesPerMinute = stallReengagesPerMinute,
        },
        observationSize: 3);

    [Fact]
    public void Armed_with_a_healthy_policy_it_drives_and_stale_observations_make_a_safe_stop()
    {
        var h = Harness();
        h.Offer(new ConstantPolicy(3, [0.5f, -0.5f]));
        Assert.Equal(ControlMode.Policy, h.Run(5, Obs));
        Assert.Equal([0.5f, -0.5f], h.LastAction());

        for (var i = 0; i < 20; i++) Assert.Equal(ControlMode.Policy, h.Step());   // the last observation is still fresh (20 ms)
        Assert.Equal(ControlMode.SafeStop, h.Step());
        Assert.Equal(TransitionReason.ObservationStale, h.Log[^1].Reason);
        Assert.Equal(TransitionReason.ObservationStale, h.Cycle.PolicyFault);

        // fresh observations again, but for less than the stall re-engagement's 0.25 s: it does not take over yet
        Assert.Equal(ControlMode.SafeStop, h.Run(50, Obs));
        h.Observe(Obs);
        Assert.Equal(ControlMode.Policy, h.Step(TeleopButtons.Resume));
        Assert.Equal(TransitionReason.Resumed, h.Log[^1].Reason);
    }

    /// <summary>Fresh observations (one per ms) for <paramref name="ms"/> ms; returns the mode after each.</summary>
    private static List<ControlMode> Fresh(CycleHarness h, int ms) => [.. Enumerable.Range(0, ms).Select(_ => h.Run(1, Obs))];

    /// <summary>Drives, then lets the observations go stale (20 ms timeout) until the safe stop.</summary>
    private static void Stall(CycleHarness h)
    {
        Assert.Equal(ControlMode.Policy, h.Run(1, Obs));
        while (h.Step() == ControlMode.Policy) { }
        Assert.Equal(ControlMode.SafeStop, h.Cycle.Modes.Mode);
        Assert.Equal(TransitionReason.ObservationStale, h.Log[^1].Reason);
    }

    [Fact]
    public void After_a_stall_the_policy_re_engages_once_observations_have_been_fresh_for_the_hysteresis_without_a_break()
    {
        var h = Harness();
        h.Offer(new ConstantPolicy(3, [0.5f, -0.5f]));
        Stall(h);
        // 200 ms of fresh observations, then none for 25 ms (healthy 20 ms more, then stale): the count starts again
        Assert.All(Fresh(h, 200), m => Assert.Equal(ControlMode.SafeStop, m));
        for (var i = 0; i < 25; i++) Assert.Equal(ControlMode.SafeStop, h.Step());
        Assert.Equal(ControlMode.SafeStop, h.Cycle.Modes.Mode);
        var modes = Fresh(h, 260);
        Assert.InRange(modes.IndexOf(ControlMode.Policy), 250, 251);   // healthy from the first fresh tick, engaged 250 ms later
        Assert.Equal(TransitionReason.ReengagedAfterStall, h.Log[^1].Reason);
        Assert.Equal(1, h.Cycle.Modes.StallReengagements);
        Assert.Equal([0.5f, -0.5f], h.LastAction());
    }

    [Fact]
    public void No_re_engagement_after_bad_data_after_the_operator_took_over_or_with_the_rule_off()
    {
        var bounds = Harness();   // a state bound is a fault of the data, not a stall
        bounds.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Policy, bounds.Run(3, Obs));
        Assert.Equal(ControlMode.SafeStop, bounds.Run(1, [1.5f, 0f, 0f]));
        Assert.All(Fresh(bounds, 1000), m => Assert.Equal(ControlMode.SafeStop, m));

        var stallThenNaN = Harness();   // bad data while stalled ends the wait for re-engagement
        stallThenNaN.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Stall(stallThenNaN);
        stallThenNaN.Run(1, [float.NaN, 0f, 0f]);
        Assert.All(Fresh(stallThenNaN, 1000), m => Assert.Equal(ControlMode.SafeStop, m));

        var teleop = Harness();   // the link is alive: the stall falls back to the operator, who keeps the robot
        teleop.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Policy, teleop.Run(1, Obs, heartbeat: true));
        for (var i = 0; i < 30; i++) { teleop.Heartbeat(); teleop.Step(); }
        Assert.Equal(ControlMode.Teleop, teleop.Cycle.Modes.Mode);
        Assert.All(Enumerable.Range(0, 1000).Select(_ => teleop.Run(1, Obs, heartbeat: true)), m => Assert.Equal(ControlMode.Teleop, m));

        var off = Harness(stallReengage: 0);
        off.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Stall(off);
        Assert.All(Fresh(off, 1000), m => Assert.Equal(ControlMode.SafeStop, m));
        off.Observe(Obs);
        Assert.Equal(ControlMode.Policy, off.Step(TeleopButtons.Resume));
    }

    [Fact]
    public void More_stalls_than_the_per_minute_budget_latch_the_policy_off_until_resume_and_the_budget_refills_after_a_minute()
    {
        var h = Harness(stallReengagesPerMinute: 2);
        h.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        for (var i = 0; i < 2; i++)
        {
            Stall(h);
            Assert.Contains(ControlMode.Policy, Fresh(h, 300));
        }
        Stall(h);   // the third within a minute
        Assert.All(Fresh(h, 2000), m => Assert.Equal(ControlMode.SafeStop, m));
        h.Observe(Obs);
        Assert.Equal(ControlMode.Policy, h.Step(TeleopButtons.Resume));
        Assert.Equal(TransitionReason.Resumed, h.Log[^1].Reason);

        for (var t = 0; t < 60; t++) Fresh(h, 1000);   // a minute of driving: the budget is back
        Stall(h);
        Assert.Contains(ControlMode.Policy, Fresh(h, 300));
        Assert.Equal(TransitionReason.ReengagedAfterStall, h.Log[^1].Reason);
        Assert.Equal(3, h.Cycle.Modes.StallReengagements);
    }

    [Fact]
    public void NaN_from_the_policy_hands_over_to_a_live_teleop_link_and_the_action_follows_the_axes_within_limits()
    {
        var h = Harness();
        h.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Policy, h.Run(3, Obs, heartbeat: true));
        h.Offer(new ConstantPolicy(3, [float.NaN, 0f]), version: 2);
        Assert.Equal(ControlMode.Teleop, h.Run(1, Obs, heartbeat: true, TeleopButtons.None, -0.5f, 1f));
        Assert.Equal(TransitionReason.PolicyNonFinite, h.Log[^1].Reason);
        Assert.Equal(2, h.Cycle.PolicyVersion);
        Assert.Equal(ControlMode.Teleop, h.Run(20, Obs, heartbeat: true, TeleopButtons.None, -0.5f, 1f));
        Assert.Equal([-0.5f, 1f], h.LastAction());   // axes −0.5 and +1 on bounds [−1, 1]
        Assert.True(h.Cycle.NonFiniteActions >= 21);
        Assert.Equal(0, h.Robot.Violations);
    }

    [Fact]
    public void Teleop_link_lost_while_needed_gives_a_safe_stop_and_its_return_gives_teleop_back()
    {
        var h = Harness();   // no policy at all: unhealthy (no weights)
        Assert.Equal(ControlMode.Teleop, h.Run(10, Obs, heartbeat: true, TeleopButtons.None, 0.2f, 0.2f));
        Assert.Equal(TransitionReason.Armed, h.Log[^1].Reason);
        Assert.Equal(ControlMode.Teleop, h.Run(50, Obs));    // heartbeat 50 ms old: still alive
        Assert.Equal(ControlMode.SafeStop, h.Run(1, Obs));
        Assert.Equal(TransitionReason.TeleopLinkLost, h.Log[^1].Reason);
        Assert.Equal(ControlMode.Teleop, h.Run(1, Obs, heartbeat: true));
        Assert.Equal(TransitionReason.TeleopLinkUp, h.Log[^1].Reason);
    }

    [Fact]
    public void Returning_from_teleop_to_the_policy_needs_resume_or_the_configured_hysteresis()
    {
        var h = Harness();
        Assert.Equal(ControlMode.Teleop, h.Run(5, Obs, heartbeat: true));        // weights not there yet
        h.Offer(new ConstantPolicy(3, [0f, 0f]));
        Assert.Equal(ControlMode.Teleop, h.Run(500, Obs, heartbeat: true));      // healthy, but nobody asked
        h.Observe(Obs);
        h.Heartbeat(TeleopButtons.Resume);
        Assert.Equal(ControlMode.Policy, h.Step());
        Assert.Equal(TransitionReason.Resumed, h.Log[^1].Reason);

        var auto = Harness(hysteresis: 0.1);
        Assert.Equal(ControlMode.Teleop, auto.Run(5, Obs, heartbeat: true));
        auto.Offer(new ConstantPolicy(3, [0f, 0f]));
        Assert.Equal(ControlMode.Teleop, auto.Run(100, Obs, heartbeat: true));   // healthy for < 0.1 s
        Assert.Equal(ControlMode.Policy, auto.Run(2, Obs, heartbeat: true));
        Assert.Equal(TransitionReason.ResumedByHysteresis, auto.Log[^1].Reason);
    }

    [Fact]
    public void Operator_override_takes_over_a_healthy_policy_and_gives_it_back_on_release()
    {
        var h = Harness();
        h.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Policy, h.Run(3, Obs, heartbeat: true));
        Assert.Equal(ControlMode.OperatorOverride, h.Run(30, Obs, heartbeat: true, TeleopButtons.Override, -1f, -1f));
        Assert.Equal([-1f, -1f], h.LastAction());
        Assert.Equal(ControlMode.Policy, h.Run(1, Obs, heartbeat: true));
        Assert.Equal(TransitionReason.OverrideReleased, h.Log[^1].Reason);
        Assert.Equal(1, h.Cycle.Modes.TransitionCount(ControlMode.Policy, ControlMode.OperatorOverride));
        Assert.Equal(1, h.Cycle.Modes.TransitionCount(ControlMode.OperatorOverride, ControlMode.Policy));
    }

    [Fact]
    public void EStop_latches_until_an_explicit_reset_with_the_button_released_and_then_waits_disarmed()
    {
        var h = Harness();
        h.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Policy, h.Run(3, Obs, heartbeat: true));
        Assert.Equal(ControlMode.EStop, h.Run(1, Obs, heartbeat: true, TeleopButtons.EStop));
        Assert.Equal(TransitionReason.EStopPressed, h.Log[^1].Reason);
        Assert.Equal(ControlMode.EStop, h.Run(100, Obs, heartbeat: true));                    // released: still latched
        Assert.Equal(ControlMode.EStop, h.Run(1, Obs, heartbeat: true, TeleopButtons.EStop | TeleopButtons.Reset)); // held: no reset
        Assert.Equal(ControlMode.EStop, h.Run(1, Obs, heartbeat: true, TeleopButtons.Override | TeleopButtons.Resume | TeleopButtons.Arm));
        Assert.Equal(ControlMode.Idle, h.Run(1, Obs, heartbeat: true, TeleopButtons.Reset));
        Assert.Equal(TransitionReason.EStopReset, h.Log[^1].Reason);
        Assert.Equal(ControlMode.Idle, h.Run(50, Obs, heartbeat: true));
        Assert.Equal([0f, 0f], h.LastAction());                                               // safe action, reached at the rate limit
        h.Observe(Obs);
        Assert.Equal(ControlMode.Policy, h.Step(TeleopButtons.Arm));

        h.Observe(Obs);
        Assert.Equal(ControlMode.EStop, h.Step(TeleopButtons.EStop));                         // the API e-stop latches too
        Assert.Equal(TransitionReason.EStopRequested, h.Log[^1].Reason);
        h.Observe(Obs);
        Assert.Equal(ControlMode.Idle, h.Step(TeleopButtons.Reset));
    }

    [Fact]
    public void State_bounds_and_deadline_miss_budget_make_the_policy_unhealthy()
    {
        var h = Harness();
        h.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Policy, h.Run(3, Obs));
        Assert.Equal(ControlMode.SafeStop, h.Run(1, [1.5f, 0f, 0f]));
        Assert.Equal(TransitionReason.StateOutOfBounds, h.Log[^1].Reason);

        var m = Harness();
        m.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Policy, m.Run(3, Obs));
        m.Observe(Obs);
        Assert.Equal(ControlMode.Policy, m.Step(misses: 4));
        m.Observe(Obs);
        Assert.Equal(ControlMode.SafeStop, m.Step(misses: 5));
        Assert.Equal(TransitionReason.DeadlineMissBudget, m.Log[^1].Reason);

        // Each safe stop is counted under its reason: the state bound a policy stop, the miss budget a stall.
        Assert.Equal((1L, 0L), (h.Cycle.Modes.SafeStopCount(TransitionReason.StateOutOfBounds), h.Cycle.Modes.SafeStopCount(TransitionReason.DeadlineMissBudget)));
        Assert.Equal((0L, 1L), (m.Cycle.Modes.SafeStopCount(TransitionReason.StateOutOfBounds), m.Cycle.Modes.SafeStopCount(TransitionReason.DeadlineMissBudget)));
        Assert.Equal(("state_out_of_bounds", "deadline_miss_budget"), (SafeStopReason.Name(TransitionReason.StateOutOfBounds), SafeStopReason.Name(TransitionReason.DeadlineMissBudget)));
        Assert.Equal(["observation_missing", "observation_stale", "deadline_miss_budget"],
            SafeStopReason.Causes.Select(SafeStopReason.Name).Where(SafeStopReason.IsStall));
    }

    [Fact]
    public void Not_armed_it_stays_idle_and_arming_without_weights_waits_in_safe_stop_then_engages_when_they_arrive()
    {
        var h = Harness(armOnStart: false);
        h.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Idle, h.Run(10, Obs));
        Assert.Equal([0f, 0f], h.LastAction());

        var w = Harness();
        Assert.Equal(ControlMode.SafeStop, w.Run(10, Obs));
        w.Offer(new ConstantPolicy(3, [0.5f, 0.5f]));
        Assert.Equal(ControlMode.Policy, w.Run(1, Obs));
        Assert.Equal(TransitionReason.PolicyEngaged, w.Log[^1].Reason);
    }
}
