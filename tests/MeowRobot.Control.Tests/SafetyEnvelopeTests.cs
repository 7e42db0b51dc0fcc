using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Tests;

public class SafetyEnvelopeTests
{
    private static SafetyEnvelope Envelope(SafeActionKind safe = SafeActionKind.Zero, double? cutoff = null, float rate = 10f) =>
        new(new SafetyEnvelopeOptions
        {
            ActionLow = [-1f, 0.5f],
            ActionHigh = [1f, 2f],
            MaxRatePerSecond = [rate, rate],
            LowPassCutoffHz = cutoff,
            SafeAction = safe,
        }, observationSize: 2, periodSeconds: 0.001);

    [Fact]
    public void Actions_are_clamped_to_bounds_and_move_at_most_the_rate_per_tick()
    {
        var env = Envelope(rate: 100f);   // 0.1 per tick at 1 kHz
        var a = new float[2];
        env.Emit([5f, 5f], a);
        Assert.Equal(0.1f, a[0], 6);            // from 0 toward 1: one rate step
        Assert.Equal(0.6f, a[1], 6);            // initial is 0 clamped into [0.5, 2] = 0.5, then +0.1
        for (var i = 0; i < 30; i++) env.Emit([5f, 5f], a);
        Assert.Equal([1f, 2f], a);              // held at the upper bounds
    }

    [Fact]
    public void A_non_finite_target_gives_the_safe_action_and_the_transition_to_it_is_rate_limited()
    {
        var env = Envelope(SafeActionKind.Zero, rate: 100f);
        var a = new float[2];
        for (var i = 0; i < 30; i++) env.Emit([1f, 2f], a);
        Assert.False(env.Emit([float.NaN, 1f], a));
        Assert.Equal(0.9f, a[0], 5);            // one rate step toward zero, not a jump
        Assert.Equal(1.9f, a[1], 5);            // toward 0 clamped into the bounds (0.5)
        var ticks = 1;
        while (!env.AtRest) { env.EmitSafe(a); ticks++; }
        Assert.Equal(15, ticks);                // |2 − 0.5| / 0.1 per tick
        Assert.Equal([0f, 0.5f], a);
    }

    [Fact]
    public void Hold_keeps_the_last_action_and_damped_decays_toward_zero()
    {
        var hold = Envelope(SafeActionKind.Hold);
        var a = new float[2];
        for (var i = 0; i < 200; i++) hold.Emit([0.7f, 1.2f], a);
        hold.EmitSafe(a);
        Assert.Equal([0.7f, 1.2f], a);

        var damped = Envelope(SafeActionKind.Damped);
        for (var i = 0; i < 200; i++) damped.Emit([0.7f, 1.2f], a);
        damped.EmitSafe(a);
        Assert.Equal(0.7 * Math.Exp(-0.001 / 0.2), a[0], 5);   // one step of e^(−dt/τ), τ = 0.2 s default
    }

    [Fact]
    public void Low_pass_moves_a_fraction_alpha_of_the_error_each_tick()
    {
        var env = Envelope(cutoff: 10, rate: 1e6f);
        var a = new float[2];
        env.Emit([1f, 0.5f], a);
        var rc = 1 / (2 * Math.PI * 10);
        var alpha = 0.001 / (rc + 0.001);
        Assert.Equal(alpha, a[0], 5);
        env.Emit([1f, 0.5f], a);
        Assert.Equal(alpha + alpha * (1 - alpha), a[0], 5);
    }

    [Fact]
    public void Observations_are_checked_for_non_finite_values_and_state_bounds()
    {
        var env = new SafetyEnvelope(new SafetyEnvelopeOptions
        {
            ActionLow = [-1f], ActionHigh = [1f], StateBounds = [new StateBound(1, -2f, 2f)],
        }, observationSize: 3, periodSeconds: 0.001);
        Assert.Equal(ObservationFault.None, env.CheckObservation([100f, 1.5f, -7f]));
        Assert.Equal(ObservationFault.OutOfBounds, env.CheckObservation([0f, 2.5f, 0f]));
        Assert.Equal(ObservationFault.NonFinite, env.CheckObservation([0f, 0f, float.PositiveInfinity]));
    }

    [Fact]
    public void Invalid_options_are_rejected_with_every_problem_named()
    {
        var bad = new SafetyEnvelopeOptions
        {
            ActionLow = [1f, 0f], ActionHigh = [0f, float.NaN], MaxRatePerSecond = [1f, -1f], LowPassCutoffHz = 0,
            ObservationTimeoutSeconds = 0, DeadlineMissBudget = 0, StateBounds = [new StateBound(7, 0, 1)],
        };
        var e = Assert.Throws<InvalidControlOptionsException>(() => bad.Validate(actionSize: 2, observationSize: 3));
        Assert.Equal(7, e.Problems.Count);
        Assert.Throws<InvalidControlOptionsException>(() => new SafetyEnvelopeOptions { ActionLow = [0f], ActionHigh = [1f] }.Validate(2, 1));
    }
}
