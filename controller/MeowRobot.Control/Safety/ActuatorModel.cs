using MeowRobot.Bridge.Sim;
using MeowRobot.Control.Loop;
using MeowRobot.Control.RobotIo;
using MeowRobot.Hosting.Configuration;
using Microsoft.Extensions.Configuration;

namespace MeowRobot.Control.Safety;

/// <summary>
/// The robot's actuator as a policy experiences it, in one place for the controller and the trainer: the safety
/// envelope's shaping (bounds, rate limit, low-pass) applied at the loop's rate for the ticks of one plant step. On the
/// robot the loop computes the policy's action once per new observation and the envelope then moves the emitted action
/// toward it tick by tick; the plant takes whatever has been emitted when it steps. So a plant step sees the envelope's
/// state after <see cref="TicksPerStep"/> ticks toward a constant target, which is what <see cref="Actuator.Apply"/>
/// computes, with the very <see cref="SafetyEnvelope"/> the loop runs. The trainer wraps its envs in
/// <see cref="ActuatedVectorEnv"/> with this model, so a policy learns under the limits it will be rehearsed and run with.
/// </summary>
public sealed class ActuatorModel
{
    /// <param name="envelope">The controller's envelope options (Controller:Envelope); empty action bounds mean the task's.</param>
    /// <param name="loopRateHz">The control loop's rate (Controller:Loop:RateHz).</param>
    /// <param name="stepRateHz">The plant's steps per second (Controller:SimRobot:StepRateHz; on hardware the rate the
    /// policy's observations arrive at).</param>
    public ActuatorModel(SafetyEnvelopeOptions envelope, double loopRateHz, double stepRateHz)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        if (!(loopRateHz >= ControlLoopOptions.MinRateHz && loopRateHz <= ControlLoopOptions.MaxRateHz))
            throw new InvalidControlOptionsException([$"Loop:RateHz must be in [{ControlLoopOptions.MinRateHz}, {ControlLoopOptions.MaxRateHz}] (is {loopRateHz})"]);
        if (!(stepRateHz > 0 && stepRateHz <= loopRateHz))
            throw new InvalidControlOptionsException([$"SimRobot:StepRateHz must be in (0, Loop:RateHz = {loopRateHz}] (is {stepRateHz})"]);
        Envelope = envelope;
        LoopRateHz = loopRateHz;
        StepRateHz = stepRateHz;
    }

    public SafetyEnvelopeOptions Envelope { get; }
    public double LoopRateHz { get; }
    public double StepRateHz { get; }

    /// <summary>Loop ticks per plant step.</summary>
    public int TicksPerStep => Math.Max(1, (int)Math.Round(LoopRateHz / StepRateHz));

    /// <summary>The envelope a loop at <paramref name="loopRateHz"/> needs to pass a policy's actions through unchanged
    /// within one tick (the rate limit is the full range per tick, no low-pass): the actuator of a training env without an
    /// actuator model, for rehearsing a policy trained that way.</summary>
    public static SafetyEnvelopeOptions UnshapedEnvelope(TaskSpec spec, double loopRateHz)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var rates = new float[spec.ActDim];
        for (var i = 0; i < rates.Length; i++) rates[i] = (float)((spec.ActHigh[i] - spec.ActLow[i]) * loopRateHz);
        return new SafetyEnvelopeOptions { ActionLow = [.. spec.ActLow], ActionHigh = [.. spec.ActHigh], MaxRatePerSecond = rates };
    }

    /// <summary>The envelope options for <paramref name="spec"/>: the task's bounds where none are configured (as the
    /// controller does for a simulated robot), checked against its sizes.</summary>
    /// <exception cref="InvalidControlOptionsException">The options do not fit the task.</exception>
    public SafetyEnvelopeOptions EnvelopeFor(TaskSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var e = Envelope;
        if (e.ActionLow.Length == 0 && e.ActionHigh.Length == 0)
        {
            e = Clone(e);
            e.ActionLow = [.. spec.ActLow];
            e.ActionHigh = [.. spec.ActHigh];
        }
        e.Validate(spec.ActDim, spec.ObsDim);
        return e;
    }

    /// <summary>One actuator's state (one env's, or the robot's).</summary>
    public Actuator CreateActuator(TaskSpec spec) => new(new SafetyEnvelope(EnvelopeFor(spec), spec.ObsDim, 1.0 / LoopRateHz), TicksPerStep);

    /// <summary>Reads the actuator model from a controller configuration file (JSON): Controller:Envelope,
    /// Controller:Loop:RateHz and Controller:SimRobot:StepRateHz, with the controller's own defaults for what is unset;
    /// unknown keys in those sections are errors, as they are for <c>controller serve</c>.</summary>
    /// <exception cref="InvalidControlOptionsException">Every problem found, with its key.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static ActuatorModel Load(string controllerConfigPath)
    {
        ArgumentNullException.ThrowIfNull(controllerConfigPath);
        var full = Path.GetFullPath(controllerConfigPath);
        if (!File.Exists(full)) throw new FileNotFoundException($"controller configuration {full} does not exist", full);
        IConfigurationRoot config;
        try
        {
            config = new ConfigurationBuilder().AddJsonFile(full, optional: false, reloadOnChange: false).Build();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidControlOptionsException([$"{full}: {e.Message}"]);
        }
        var envelope = new SafetyEnvelopeOptions();
        var loop = new ControlLoopOptions();
        var sim = new SimRobotOptions();
        var problems = new List<string>();
        problems.AddRange(OptionsBinding.Bind(config, "Controller:Envelope", envelope));
        problems.AddRange(OptionsBinding.Bind(config, "Controller:Loop", loop));
        problems.AddRange(OptionsBinding.Bind(config, "Controller:SimRobot", sim));
        if (problems.Count > 0) throw new InvalidControlOptionsException(problems);
        return new ActuatorModel(envelope, loop.RateHz, sim.StepRateHz);
    }

    /// <summary>One line for logs: rate limit, low-pass, ticks per step.</summary>
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"rate limit {(Envelope.MaxRatePerSecond is { } r ? "[" + string.Join(", ", r) + "]/s" : $"full range in {SafetyEnvelopeOptions.DefaultFullSwingSeconds} s")}, low-pass {(Envelope.LowPassCutoffHz is { } fc ? $"{fc} Hz" : "off")}, {TicksPerStep} loop ticks of {1000 / LoopRateHz:0.###} ms per plant step");

    private static SafetyEnvelopeOptions Clone(SafetyEnvelopeOptions o) => new()
    {
        ActionLow = o.ActionLow,
        ActionHigh = o.ActionHigh,
        MaxRatePerSecond = o.MaxRatePerSecond,
        LowPassCutoffHz = o.LowPassCutoffHz,
        SafeAction = o.SafeAction,
        DampingTimeConstantSeconds = o.DampingTimeConstantSeconds,
        ObservationTimeoutSeconds = o.ObservationTimeoutSeconds,
        StateBounds = o.StateBounds,
        DeadlineMissBudget = o.DeadlineMissBudget,
    };
}

/// <summary>One actuator: the envelope the loop runs, stepped <see cref="TicksPerStep"/> times per plant step.</summary>
public sealed class Actuator
{
    private readonly SafetyEnvelope _envelope;

    internal Actuator(SafetyEnvelope envelope, int ticksPerStep)
    {
        _envelope = envelope;
        TicksPerStep = ticksPerStep;
    }

    public int TicksPerStep { get; }

    /// <summary>The action the plant applies this step when the policy asks for <paramref name="target"/>: the envelope
    /// after <see cref="TicksPerStep"/> ticks toward it, from where the last step left it (the actuator knows no episodes).</summary>
    public void Apply(ReadOnlySpan<float> target, Span<float> applied)
    {
        for (var t = 0; t < TicksPerStep; t++) _envelope.Emit(target, applied);
    }
}
