namespace MeowRobot.Bridge.Sim;

/// <summary>
/// Buffers for one batched step of <see cref="IVectorEnv"/>, preallocated once and reused (row-major, NumEnvs rows).
/// An env whose episode ended is reset inside the same step: its row of <see cref="Obs"/> is the new episode's first
/// observation and its row of <see cref="FinalObs"/> the last observation of the ended one.
/// </summary>
public sealed class VectorBatch
{
    public VectorBatch(int numEnvs, int obsDim)
    {
        NumEnvs = numEnvs;
        ObsDim = obsDim;
        Obs = new float[numEnvs * obsDim];
        FinalObs = new float[numEnvs * obsDim];
        Reward = new float[numEnvs];
        Terminated = new byte[numEnvs];
        Truncated = new byte[numEnvs];
        Lost = new byte[numEnvs];
    }

    public int NumEnvs { get; }
    public int ObsDim { get; }
    public float[] Obs { get; }
    public float[] FinalObs { get; }
    public float[] Reward { get; }
    /// <summary>1 where the episode reached a terminal state this step.</summary>
    public byte[] Terminated { get; }
    /// <summary>1 where the episode hit the time limit this step (truncation is not termination).</summary>
    public byte[] Truncated { get; }
    /// <summary>1 where this step's result was lost to a sim worker failure (remote envs only; docs/protocol.md): the env
    /// is also flagged truncated with reward 0, <see cref="FinalObs"/> is the observation the action was computed from and
    /// <see cref="Obs"/> a fresh episode's. Do not store that transition.</summary>
    public byte[] Lost { get; }

    public Span<float> ObsRow(int env) => Obs.AsSpan(env * ObsDim, ObsDim);
    public Span<float> FinalObsRow(int env) => FinalObs.AsSpan(env * ObsDim, ObsDim);

    /// <summary>The randomised parameters (<see cref="IVectorEnv.Randomisation"/>'s names, in order) whose per-episode
    /// values <see cref="EpisodeParams"/> holds; empty when nothing is randomised.</summary>
    public IReadOnlyList<string> EpisodeParamNames { get; private set; } = [];

    /// <summary>Each env's current episode's sampled values (NumEnvs × EpisodeParamNames.Count, row-major): after an
    /// automatic reset, the new episode's, like <see cref="Obs"/>.</summary>
    public double[] EpisodeParams { get; private set; } = [];

    /// <summary>Where an episode ended this step, the values it was played with (like <see cref="FinalObs"/>).</summary>
    public double[] FinalEpisodeParams { get; private set; } = [];

    public Span<double> EpisodeParamsRow(int env) => EpisodeParams.AsSpan(env * EpisodeParamNames.Count, EpisodeParamNames.Count);
    public Span<double> FinalEpisodeParamsRow(int env) => FinalEpisodeParams.AsSpan(env * EpisodeParamNames.Count, EpisodeParamNames.Count);

    /// <summary>Sizes the episode parameter rows for <paramref name="names"/> (the env does this at each reset; it
    /// allocates only when the names change).</summary>
    public void ShapeEpisodeParams(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.SequenceEqual(EpisodeParamNames, StringComparer.Ordinal)) return;
        EpisodeParamNames = [.. names];
        EpisodeParams = new double[NumEnvs * names.Count];
        FinalEpisodeParams = new double[NumEnvs * names.Count];
    }
}

/// <summary>N environments stepped together, in-process or through sim workers over the bridge.</summary>
public interface IVectorEnv : IDisposable
{
    TaskSpec Spec { get; }
    int NumEnvs { get; }

    /// <summary>Resets every env (optionally one seed per env, and parameter values) and writes first observations into <paramref name="into"/>.Obs.
    /// Without seeds each env continues its own random stream (a new env's first episode uses its base seed + its index).
    /// Parameters are set in every env, all or nothing (<see cref="ArgumentException"/> for an unknown name or a value out of range),
    /// and stay set.</summary>
    void Reset(VectorBatch into, IReadOnlyList<int>? seeds = null, IReadOnlyDictionary<string, double>? parameters = null);

    /// <summary>The per-episode domain randomisation in force (empty: none; docs/tasks.md, "Domain randomisation").</summary>
    IReadOnlyList<ParameterDistribution> Randomisation { get; }

    /// <summary>Replaces the domain randomisation (empty: none), checked at once against the task's parameters
    /// (<see cref="ArgumentException"/> for an unknown name or bounds out of range; nothing changes then). It takes effect
    /// at the next <see cref="Reset"/>: from then on every episode's start (explicit or automatic) draws each parameter
    /// from the episode's seed, and the batch reports the values (<see cref="VectorBatch.EpisodeParams"/>).</summary>
    void SetRandomisation(IReadOnlyList<ParameterDistribution> distributions);

    /// <summary>Steps every env with <paramref name="actions"/> (NumEnvs × ActDim, row-major; clipped to the action box by the
    /// task; non-finite values are an <see cref="ArgumentException"/> and nothing is stepped). Ended episodes are reset in
    /// the same step (see <see cref="VectorBatch"/>).</summary>
    void Step(ReadOnlySpan<float> actions, VectorBatch into);
}

/// <summary>The argument checks every <see cref="IVectorEnv"/> makes, in one place.</summary>
public static class VectorEnvArguments
{
    /// <summary>The batch must have the env's shape.</summary>
    public static void CheckBatch(IVectorEnv env, VectorBatch batch)
    {
        if (batch.NumEnvs != env.NumEnvs || batch.ObsDim != env.Spec.ObsDim)
            throw new ArgumentException($"batch is {batch.NumEnvs} × {batch.ObsDim}, env is {env.NumEnvs} × {env.Spec.ObsDim}", nameof(batch));
    }

    /// <summary>Actions must be NumEnvs × ActDim and finite; checked before any env moves, so a bad batch changes nothing.</summary>
    public static void CheckActions(IVectorEnv env, ReadOnlySpan<float> actions)
    {
        var actDim = env.Spec.ActDim;
        if (actions.Length != env.NumEnvs * actDim)
            throw new ArgumentException($"actions has length {actions.Length}, expected {env.NumEnvs} × {actDim}", nameof(actions));
        for (var i = 0; i < actions.Length; i++)
        {
            if (!float.IsFinite(actions[i]))
                throw new ArgumentException($"actions[{i}] is {actions[i]}: actions must be finite", nameof(actions));
        }
    }
}
