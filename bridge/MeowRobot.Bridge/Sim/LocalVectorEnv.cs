using MeowRobot.Bridge.Randomness;

namespace MeowRobot.Bridge.Sim;

/// <summary>
/// N task instances stepped in this process: the in-process <see cref="IVectorEnv"/>, and what a sim worker serves.
/// Ended episodes are reset inside the same step (their last observation goes to <see cref="VectorBatch.FinalObs"/>);
/// an episode reaching <see cref="TaskSpec.MaxEpisodeSteps"/> is truncated (flag set even if it also terminated, as
/// Gymnasium's TimeLimit does). Env i's first unseeded episode uses seed <c>baseSeed + i</c>; later unseeded resets
/// continue each env's own stream, so a run is reproducible from the base seed alone.
/// <para>Domain randomisation (<see cref="SetRandomisation"/>): at every episode start each env draws the randomised
/// parameters from a third stream of the episode's seed (stream 2; the state uses 0 and observation noise 1), so the
/// draw is as reproducible as the initial state, and sets them in its task before the task's reset.</para>
/// </summary>
public sealed class LocalVectorEnv : IVectorEnv
{
    private readonly ISimTask[] tasks;
    private readonly int[] episodeSteps;
    private readonly int baseSeed;
    private readonly Rng[] drawRng;
    private ParameterDistribution[] randomisation = [], pending = [];
    private bool[] integer = [];
    private string[] randomisedNames = [];
    private double[] drawn = [];
    private bool seeded;

    /// <param name="tasks">The instances (one per env, all of one task); owned and disposed by this env.</param>
    public LocalVectorEnv(IReadOnlyList<ISimTask> tasks, int baseSeed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfZero(tasks.Count);
        this.tasks = [.. tasks];
        var spec = this.tasks[0].Spec;
        if (this.tasks.Any(t => t.Spec.Name != spec.Name || t.Spec.ObsDim != spec.ObsDim || t.Spec.ActDim != spec.ActDim))
            throw new ArgumentException("all envs of a vector env must be the same task", nameof(tasks));
        Spec = spec;
        episodeSteps = new int[tasks.Count];
        this.baseSeed = baseSeed;
        drawRng = this.tasks.Select(_ => new Rng(0, DrawStream)).ToArray();
    }

    /// <summary>The <see cref="Rng"/> stream of an episode's seed that randomised parameters are drawn from.</summary>
    public const ulong DrawStream = 2;

    /// <summary>Makes <paramref name="numEnvs"/> instances with <paramref name="create"/>.</summary>
    public LocalVectorEnv(Func<ISimTask> create, int numEnvs, int baseSeed = 0)
        : this(Enumerable.Range(0, numEnvs).Select(_ => create()).ToArray(), baseSeed)
    {
    }

    public TaskSpec Spec { get; }
    public int NumEnvs => tasks.Length;

    /// <summary>False until the first <see cref="Reset"/>; stepping before it is an error.</summary>
    public bool IsReset { get; private set; }

    /// <summary>The randomisable parameters (all envs share one definition).</summary>
    public IReadOnlyList<TaskParameter> Parameters => tasks[0].Parameters;

    /// <summary>A parameter's current value (the same in every env: <see cref="SetParameters"/> sets them all).</summary>
    public double GetParameter(string name) => tasks[0].GetParameter(name);

    /// <summary>Null when every name is known and every value acceptable, else why not. Nothing is changed.</summary>
    public string? ValidateParameters(IReadOnlyDictionary<string, double> parameters)
    {
        foreach (var (name, value) in parameters)
        {
            var p = Parameters.FirstOrDefault(q => q.Name == name);
            if (p is null) return $"{Spec.Name} has no parameter '{name}' (it has: {string.Join(", ", Parameters.Select(q => q.Name))})";
            if (p.Validate(value) is { } why) return why;
        }
        return null;
    }

    /// <summary>Sets parameters in every env, all or nothing (<see cref="ArgumentException"/> when any is invalid).</summary>
    public void SetParameters(IReadOnlyDictionary<string, double> parameters)
    {
        if (ValidateParameters(parameters) is { } why) throw new ArgumentException(why, nameof(parameters));
        foreach (var task in tasks)
        {
            foreach (var (name, value) in parameters) task.SetParameter(name, value);
        }
    }

    public IReadOnlyList<ParameterDistribution> Randomisation => pending;

    public void SetRandomisation(IReadOnlyList<ParameterDistribution> distributions)
    {
        ArgumentNullException.ThrowIfNull(distributions);
        if (ParameterDistribution.CheckAll(distributions, Parameters, Spec.Name) is { } why) throw new ArgumentException(why);
        pending = [.. distributions];
    }

    public void Reset(VectorBatch into, IReadOnlyList<int>? seeds = null, IReadOnlyDictionary<string, double>? parameters = null)
    {
        VectorEnvArguments.CheckBatch(this, into);
        if (seeds is not null && seeds.Count != NumEnvs)
            throw new ArgumentException($"{seeds.Count} seeds for {NumEnvs} envs", nameof(seeds));
        if (parameters is not null) SetParameters(parameters);
        if (!ReferenceEquals(randomisation, pending))
        {
            randomisation = pending;
            randomisedNames = randomisation.Select(d => d.Name).ToArray();
            integer = randomisation.Select(d => Parameters.First(p => p.Name == d.Name).Integer).ToArray();
            drawn = new double[NumEnvs * randomisation.Length];
        }
        into.ShapeEpisodeParams(randomisedNames);
        for (var i = 0; i < tasks.Length; i++)
        {
            int? seed = seeds is not null ? seeds[i] : seeded ? null : unchecked(baseSeed + i);
            StartEpisode(i, seed, into.ObsRow(i));
        }
        drawn.CopyTo(into.EpisodeParams, 0);
        seeded = true;
        IsReset = true;
        into.Reward.AsSpan().Clear();
        into.Terminated.AsSpan().Clear();
        into.Truncated.AsSpan().Clear();
        into.Lost.AsSpan().Clear();
    }

    public void Step(ReadOnlySpan<float> actions, VectorBatch into)
    {
        VectorEnvArguments.CheckBatch(this, into);
        if (!IsReset) throw new InvalidOperationException("Step before the first Reset");
        VectorEnvArguments.CheckActions(this, actions);
        var actDim = Spec.ActDim;
        into.Lost.AsSpan().Clear(); // nothing is lost in-process
        for (var i = 0; i < tasks.Length; i++)
        {
            var obs = into.ObsRow(i);
            var (reward, terminated) = tasks[i].Step(actions.Slice(i * actDim, actDim), obs);
            var truncated = ++episodeSteps[i] >= Spec.MaxEpisodeSteps;
            into.Reward[i] = reward;
            into.Terminated[i] = terminated ? (byte)1 : (byte)0;
            into.Truncated[i] = truncated ? (byte)1 : (byte)0;
            if (terminated || truncated)
            {
                obs.CopyTo(into.FinalObsRow(i));
                DrawnRow(i).CopyTo(into.FinalEpisodeParamsRow(i));
                StartEpisode(i, null, obs);
            }
        }
        drawn.CopyTo(into.EpisodeParams, 0);
    }

    /// <summary>The values env <paramref name="env"/>'s current episode was drawn with (<see cref="Randomisation"/> order).</summary>
    public ReadOnlySpan<double> EpisodeParamsOf(int env) => DrawnRow(env);

    private Span<double> DrawnRow(int env) => drawn.AsSpan(env * randomisation.Length, randomisation.Length);

    /// <summary>Draws env i's randomised parameters from the episode's seed (or its continuing stream), sets them, resets the task.</summary>
    private void StartEpisode(int i, int? seed, Span<float> obs)
    {
        if (randomisation.Length > 0)
        {
            var rng = drawRng[i];
            if (seed is { } s) rng.Reseed((ulong)(long)s, DrawStream);
            var row = DrawnRow(i);
            for (var k = 0; k < randomisation.Length; k++)
            {
                row[k] = randomisation[k].Sample(rng, integer[k]);
                tasks[i].SetParameter(randomisation[k].Name, row[k]);
            }
        }
        tasks[i].Reset(seed, obs);
        episodeSteps[i] = 0;
    }

    public void Dispose()
    {
        foreach (var task in tasks) task.Dispose();
    }
}
