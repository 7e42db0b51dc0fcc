using System.Diagnostics;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Safety;

namespace MeowRobot.Control.Tests;

/// <summary>Runs <see cref="ControlCycle"/> tick by tick on synthetic time (1 ms per tick), so mode and envelope behaviour is
/// tested without a clock.</summary>
internal sealed class CycleHarness
{
    public const double Period = 0.001;
    public static readonly long TicksPerMs = Stopwatch.Frequency / 1000;

    public CycleHarness(SafetyEnvelopeOptions envelope, ModeOptions modes, int observationSize)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var env = new SafetyEnvelope(envelope, observationSize, Period);
        Robot = new FakeRobot(observationSize, envelope.ActionLow, envelope.ActionHigh, env.RatePerTick.ToArray());
        Cycle = new ControlCycle(Robot, env, new ModeMachine(modes),
            (long)(envelope.ObservationTimeoutSeconds * Stopwatch.Frequency), (long)(modes.TeleopTimeoutSeconds * Stopwatch.Frequency));
        Now = Stopwatch.Frequency;  // an arbitrary origin
    }

    public FakeRobot Robot { get; }
    public ControlCycle Cycle { get; }
    public long Now { get; private set; }
    public long Tick { get; private set; }
    public List<ModeTransition> Log { get; } = [];

    public void Observe(params float[] obs) => Robot.Publish(obs, Now);

    public void Heartbeat(TeleopButtons buttons = TeleopButtons.None, params float[] axes)
    {
        var input = new TeleopInput { HeartbeatTimestamp = Now, Buttons = buttons, AxisCount = axes.Length };
        for (var i = 0; i < axes.Length; i++) input.Axes[i] = axes[i];
        Cycle.Teleop.Publish(input);
    }

    public ControlMode Step(TeleopButtons commands = TeleopButtons.None, int misses = 0, bool stopping = false)
    {
        var mode = Cycle.Run(Tick, Now, misses, commands, stopping);
        while (Cycle.Modes.Transitions.TryDequeue(out var t)) Log.Add(t);
        Tick++;
        Now += TicksPerMs;
        return mode;
    }

    /// <summary>Steps <paramref name="n"/> ticks, publishing a fresh observation before each.</summary>
    public ControlMode Run(int n, float[] obs, bool heartbeat = false, TeleopButtons buttons = TeleopButtons.None, params float[] axes)
    {
        var mode = Cycle.Modes.Mode;
        for (var i = 0; i < n; i++)
        {
            Observe(obs);
            if (heartbeat) Heartbeat(buttons, axes);
            mode = Step();
        }
        return mode;
    }

    public void Offer(IActionPolicy policy, long version = 1) => Cycle.Policies.Offer(new ActivePolicy(policy, version, "test"));

    public float[] LastAction() => Cycle.LastAction.ToArray();
}
