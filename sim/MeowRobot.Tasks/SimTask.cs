using MeowRobot.Bridge.Sim;

namespace MeowRobot.Tasks;

/// <summary>
/// What every built-in task shares: parameter storage and validation, action clipping, the action delay line, the
/// action-rate limit, actuator gain and observation noise. A task supplies its physical parameters, its state reset, one physics step and its
/// observation. Parameters take effect at the next step (a changed delay reads further back in the same history).
/// </summary>
public abstract class SimTask : ISimTask
{
    /// <summary>Most steps an action can be delayed by.</summary>
    public const int MaxActionDelay = 10;

    public const string ActuatorGainName = "actuator_gain";
    public const string ObsNoiseStdName = "obs_noise_std";
    public const string ActionDelayName = "action_delay";
    public const string ActionRateLimitName = "action_rate_limit";

    private readonly TaskParameter[] parameters;
    private readonly double[] values;
    private readonly int gainIndex, noiseIndex, delayIndex, rateIndex;
    private readonly float[] command; // the command the actuator received last step (the rate limit's reference)
    private readonly float[] history; // the last MaxActionDelay + 1 clipped actions, a ring of ActDim-wide rows
    private int head;
    private readonly Rng stateRng = new(0, 0);
    private readonly Rng noiseRng = new(0, 1);
    private bool everReset;

    /// <param name="parameters">The task's parameters as <see cref="WithShared"/> lists them.</param>
    protected SimTask(TaskSpec spec, TaskParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Spec = spec;
        this.parameters = [.. parameters.All];
        gainIndex = this.parameters.Length - 4;
        noiseIndex = this.parameters.Length - 3;
        delayIndex = this.parameters.Length - 2;
        rateIndex = this.parameters.Length - 1;
        values = this.parameters.Select(p => p.Default).ToArray();
        history = new float[(MaxActionDelay + 1) * spec.ActDim];
        command = new float[spec.ActDim];
    }

    /// <summary>A task's parameter list: its own <paramref name="physical"/> ones, then the shared ones (gain, noise, delay, rate limit).</summary>
    /// <param name="maxObsNoiseStd">Upper bound of obs_noise_std, in the observation's units.</param>
    public static TaskParameters WithShared(string task, IReadOnlyList<TaskParameter> physical, double maxObsNoiseStd) => new(task,
    [
        .. physical,
        new TaskParameter(ActuatorGainName, 1.0, 0.5, 1.5),
        new TaskParameter(ObsNoiseStdName, 0.0, 0.0, maxObsNoiseStd),
        new TaskParameter(ActionDelayName, 0.0, 0.0, MaxActionDelay, Integer: true),
        new TaskParameter(ActionRateLimitName, 1.0, 0.001, 1.0),
    ]);

    public TaskSpec Spec { get; }
    public IReadOnlyList<TaskParameter> Parameters => parameters;

    public double GetParameter(string name) => values[IndexOf(name)];

    public void SetParameter(string name, double value)
    {
        var i = IndexOf(name);
        if (parameters[i].Validate(value) is { } why)
            throw new ArgumentOutOfRangeException(nameof(value), value, why);
        values[i] = value;
    }

    /// <summary>Value of the task's own parameter number <paramref name="index"/> (its position in the list it passed in).</summary>
    protected double Parameter(int index) => values[index];

    /// <summary>Scales the command into the actuator (force, torque or displacement).</summary>
    protected double ActuatorGain => values[gainIndex];

    public void Reset(int? seed, Span<float> obs)
    {
        CheckLength(obs.Length, Spec.ObsDim, nameof(obs));
        if (seed is { } s)
        {
            stateRng.Reseed((ulong)(long)s, 0);
            noiseRng.Reseed((ulong)(long)s, 1);
        }
        else if (!everReset)
        {
            // An unseeded first episode is still reproducible: it is seed 0's.
            stateRng.Reseed(0, 0);
            noiseRng.Reseed(0, 1);
        }
        everReset = true;
        Array.Clear(history);
        for (var i = 0; i < command.Length; i++) command[i] = Math.Clamp(0f, Spec.ActLow[i], Spec.ActHigh[i]);
        ResetState(stateRng);
        Observe(obs);
        AddNoise(obs);
    }

    public (float Reward, bool Terminated) Step(ReadOnlySpan<float> action, Span<float> obs)
    {
        if (!everReset) throw new InvalidOperationException($"{Spec.Name}: Step before the first Reset");
        var dim = Spec.ActDim;
        CheckLength(action.Length, dim, nameof(action));
        CheckLength(obs.Length, Spec.ObsDim, nameof(obs));
        head = (head + 1) % (MaxActionDelay + 1);
        var row = history.AsSpan(head * dim, dim);
        for (var i = 0; i < dim; i++)
        {
            if (!float.IsFinite(action[i]))
                throw new ArgumentException($"{Spec.Name}: action[{i}] is {action[i]}; actions must be finite", nameof(action));
            row[i] = Math.Clamp(action[i], Spec.ActLow[i], Spec.ActHigh[i]);
        }
        var delay = (int)values[delayIndex];
        ReadOnlySpan<float> applied = history.AsSpan((head - delay + MaxActionDelay + 1) % (MaxActionDelay + 1) * dim, dim);
        var rate = values[rateIndex];
        if (rate < 1.0)
        {
            // The actuator moves at most rate × its full range per step toward the (delayed) action; at 1 (the default)
            // it follows at once, and the command is the action itself, bit for bit.
            for (var i = 0; i < dim; i++)
            {
                var step = (float)(rate * (Spec.ActHigh[i] - Spec.ActLow[i]));
                command[i] += Math.Clamp(applied[i] - command[i], -step, step);
            }
            applied = command;
        }
        else
        {
            applied.CopyTo(command);
        }
        var (reward, terminated) = Advance(applied);
        Observe(obs);
        AddNoise(obs);
        return ((float)reward, terminated);
    }

    /// <summary>Draws a new episode's initial state.</summary>
    protected abstract void ResetState(Rng rng);

    /// <summary>One physics step under command <paramref name="u"/> (clipped to the action box, already delayed);
    /// returns the reward and whether a terminal state was reached.</summary>
    protected abstract (double Reward, bool Terminated) Advance(ReadOnlySpan<float> u);

    /// <summary>Writes the noise-free observation of the current state.</summary>
    protected abstract void Observe(Span<float> obs);

    public virtual void Dispose() => GC.SuppressFinalize(this);

    private void AddNoise(Span<float> obs)
    {
        var std = values[noiseIndex];
        if (std == 0) return;
        for (var i = 0; i < obs.Length; i++)
            obs[i] += (float)(std * noiseRng.NextNormal());
    }

    private int IndexOf(string name)
    {
        for (var i = 0; i < parameters.Length; i++)
        {
            if (parameters[i].Name == name) return i;
        }
        throw new ArgumentException(
            $"{Spec.Name} has no parameter '{name}' (it has: {string.Join(", ", parameters.Select(p => p.Name))})", nameof(name));
    }

    private static void CheckLength(int got, int want, string what)
    {
        if (got != want) throw new ArgumentException($"{what} has length {got}, expected {want}", what);
    }
}
