using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Tests;

/// <summary>
/// For any observation stream, operator input, command sequence and policy (random, NaN-producing, huge, throwing), every
/// emitted action lies within the bounds and the rate limit (checked by the fake robot, not by the envelope), and every
/// mode transition is one of the documented ones.
/// </summary>
public class EnvelopePropertyTests
{
    /// <summary>What happens in one tick of a generated scenario.</summary>
    public readonly record struct TickPlan(int Observation, bool Heartbeat, TeleopButtons Buttons, TeleopButtons Commands, int PolicyEvent, int Misses, float Axis);

    public readonly record struct Scenario(int ActionSize, int Seed, SafeActionKind Safe, bool LowPass, TickPlan[] Ticks);

    private static readonly Gen<TeleopButtons> RareButtons = Gen.Frequency(
        (12, Gen.Constant(TeleopButtons.None)),
        (1, Gen.Choose(0, 63).Select(b => (TeleopButtons)b)));

    private static readonly Gen<TickPlan> Tick =
        from obs in Gen.Frequency((10, Gen.Constant(0)), (1, Gen.Choose(1, 4)))   // 0 fresh, 1 none (ages), 2 NaN, 3 out of bounds, 4 stale stamp
        from heartbeat in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
        from buttons in RareButtons
        from commands in RareButtons
        from policy in Gen.Frequency((40, Gen.Constant(0)), (1, Gen.Choose(1, 5)))
        from misses in Gen.Frequency((20, Gen.Constant(0)), (1, Gen.Choose(0, 30)))
        from axis in Gen.Choose(-3000, 3000).Select(i => i / 1000f)
        select new TickPlan(obs, heartbeat, buttons, commands, policy, misses, axis);

    private static readonly Gen<Scenario> Scenarios =
        from n in Gen.Choose(1, 4)
        from seed in Gen.Choose(0, int.MaxValue)
        from safe in Gen.Elements(SafeActionKind.Zero, SafeActionKind.Hold, SafeActionKind.Damped)
        from lowPass in Gen.Elements(true, false)
        from ticks in Gen.ArrayOf(Tick, 400)
        select new Scenario(n, seed, safe, lowPass, ticks);

    [Fact]
    public void Every_emitted_action_is_within_bounds_and_rate_limits_and_every_transition_is_documented()
    {
        var property = Prop.ForAll(Scenarios.ToArbitrary(), Check);
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), property);
    }

    private static bool Check(Scenario s)
    {
        var rng = new Random(s.Seed);
        var n = s.ActionSize;
        var low = new float[n];
        var high = new float[n];
        var rate = new float[n];
        for (var i = 0; i < n; i++)
        {
            low[i] = (float)(rng.NextDouble() * 10 - 7);
            high[i] = low[i] + (float)(0.01 + rng.NextDouble() * 12);
            rate[i] = (float)(0.5 + rng.NextDouble() * 200);
        }
        const int obsSize = 3;
        var h = new CycleHarness(new SafetyEnvelopeOptions
        {
            ActionLow = low, ActionHigh = high, MaxRatePerSecond = rate, SafeAction = s.Safe,
            LowPassCutoffHz = s.LowPass ? 5 + rng.NextDouble() * 100 : null,
            ObservationTimeoutSeconds = 0.01, DeadlineMissBudget = 10, StateBounds = [new StateBound(2, -5f, 5f)],
        }, new ModeOptions { ArmOnStart = rng.Next(2) == 0, TeleopTimeoutSeconds = 0.02 }, obsSize);

        var obs = new float[obsSize];
        long version = 0;
        var needsResume = false;
        var resumedDuringOverride = false;
        var logged = 0;
        foreach (var t in s.Ticks)
        {
            switch (t.Observation)
            {
                case 0: obs[0] = (float)rng.NextDouble(); obs[2] = 0; h.Observe(obs); break;
                case 2: h.Observe(float.NaN, 0, 0); break;
                case 3: h.Observe(0, 0, 9f); break;
                case 4: h.Robot.Publish(obs, h.Now - CycleHarness.TicksPerMs * 50); break;
            }
            if (t.Heartbeat)
            {
                var axes = new float[n];
                for (var i = 0; i < n; i++) axes[i] = i == 0 ? t.Axis : -t.Axis;
                h.Heartbeat(t.Buttons, axes);
            }
            if (t.PolicyEvent != 0)
            {
                IActionPolicy p = t.PolicyEvent switch
                {
                    1 => new ConstantPolicy(obsSize, Enumerable.Range(0, n).Select(i => (float)(rng.NextDouble() * 4 - 2)).ToArray()),
                    2 => new ChaoticPolicy(obsSize, n, (ulong)rng.NextInt64(), scale: 1e6f, badRate: 0),
                    3 => new ChaoticPolicy(obsSize, n, (ulong)rng.NextInt64(), scale: 3f, badRate: 0.05),
                    4 => new ConstantPolicy(obsSize, Enumerable.Repeat(float.NaN, n).ToArray()),
                    _ => new ThrowingPolicy(obsSize, n),
                };
                h.Offer(p, ++version);
            }
            var resumeAsked = ((t.Commands | (t.Heartbeat ? t.Buttons : TeleopButtons.None)) & TeleopButtons.Resume) != 0;
            var mode = h.Step(t.Commands, t.Misses);

            if (mode == ControlMode.Policy && h.Cycle.PolicyFault != TransitionReason.None)
                return Fail("policy drives while unhealthy: " + h.Cycle.PolicyFault);
            for (; logged < h.Log.Count; logged++)
            {
                var tr = h.Log[logged];
                if (!Documented(tr))
                    return Fail($"undocumented transition {tr}");
                // An explicit resume: asked in this very tick (also when the override is released in the same tick, which the
                // machine then reports as OverrideReleased), or during the override being left.
                var resumed = resumeAsked || (tr.From == ControlMode.OperatorOverride && resumedDuringOverride);
                if (tr.To == ControlMode.Policy && needsResume && tr.From != ControlMode.Idle && !resumed)
                    return Fail($"returned to the policy without resume: {tr} (resume asked this tick: {resumeAsked}); transitions before it: {string.Join(" | ", h.Log.Skip(Math.Max(0, logged - 6)).Take(Math.Min(logged, 6)))}");
                if ((tr.From == ControlMode.Policy && tr.To is ControlMode.SafeStop or ControlMode.Teleop) || tr.To == ControlMode.Teleop)
                    needsResume = true;
                if (tr.To == ControlMode.Policy || tr.To == ControlMode.Idle)
                    needsResume = false;
            }
            resumedDuringOverride = mode == ControlMode.OperatorOverride && (resumedDuringOverride || resumeAsked);
        }
        return h.Robot.Violations == 0 || Fail($"{h.Robot.Violations} actions outside bounds or rate");
    }

    private static bool Fail(string why) => throw new Xunit.Sdk.XunitException(why);

    /// <summary>The transitions docs/protocol.md and the ModeMachine documentation allow, written out independently.</summary>
    private static bool Documented(ModeTransition t) => (t.From, t.To) switch
    {
        (_, ControlMode.EStop) => t.From != ControlMode.EStop && t.Reason is TransitionReason.EStopPressed or TransitionReason.EStopRequested,
        (ControlMode.EStop, _) => t.To == ControlMode.Idle && t.Reason == TransitionReason.EStopReset,
        (_, ControlMode.Idle) => t.Reason is TransitionReason.Disarmed or TransitionReason.Stopping,
        (ControlMode.Idle, _) => t.Reason == TransitionReason.Armed,
        (_, ControlMode.OperatorOverride) => t.Reason == TransitionReason.OverridePressed,
        (ControlMode.OperatorOverride, _) => t.Reason is TransitionReason.OverrideReleased or TransitionReason.TeleopLinkLost,
        (_, ControlMode.Policy) => t.Reason is TransitionReason.Resumed or TransitionReason.ResumedByHysteresis or TransitionReason.PolicyEngaged,
        (ControlMode.Policy, _) => t.Reason is TransitionReason.NoPolicy or TransitionReason.PolicyNonFinite or TransitionReason.ObservationMissing
            or TransitionReason.ObservationStale or TransitionReason.ObservationNonFinite or TransitionReason.StateOutOfBounds
            or TransitionReason.DeadlineMissBudget or TransitionReason.Stopping,
        (ControlMode.SafeStop, ControlMode.Teleop) => t.Reason == TransitionReason.TeleopLinkUp,
        (ControlMode.Teleop, ControlMode.SafeStop) => t.Reason is TransitionReason.TeleopLinkLost or TransitionReason.Stopping,
        _ => false,
    };

    private sealed class ThrowingPolicy(int obs, int act) : IActionPolicy
    {
        public int ObservationSize => obs;
        public int ActionSize => act;
        public void Compute(ReadOnlySpan<float> observation, Span<float> action) => throw new InvalidOperationException("broken policy");
    }
}
