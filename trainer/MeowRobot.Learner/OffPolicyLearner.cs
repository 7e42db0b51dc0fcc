using MeowRobot.Bridge.Sim;
using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>A deterministic evaluation: returns of <see cref="Episodes"/> episodes with the algorithm's deterministic action.</summary>
public sealed record Evaluation(long EnvSteps, int Episodes, double MeanReturn, double StdReturn, double MeanLength);

/// <summary>One finished episode of <see cref="OffPolicyLearner.Rollouts"/>.</summary>
/// <param name="Params">The randomised parameters' values it was played with (the env's <see cref="IVectorEnv.Randomisation"/>
/// order), empty when nothing is randomised.</param>
public sealed record Episode(double Return, int Length, bool Terminated, float[] FinalObs, double[] Params);

/// <summary>What the learner reports while it runs.</summary>
public abstract record LearnerEvent(long EnvSteps);
/// <param name="Params">The randomised parameters' values of the episode (training env's <see cref="IVectorEnv.Randomisation"/> order).</param>
public sealed record EpisodeEnded(long EnvSteps, double Return, int Length, double[] Params) : LearnerEvent(EnvSteps);
public sealed record Evaluated(Evaluation Result) : LearnerEvent(Result.EnvSteps);
public sealed record Updated(long EnvSteps, long Updates, UpdateStats Stats) : LearnerEvent(EnvSteps);

/// <summary>
/// The off-policy loop every algorithm shares (MEow's Algorithm 1, SAC's and S2AC's outer loops are the same), against
/// any <see cref="IVectorEnv"/> (in-process tasks or sim workers over the bridge). Each <see cref="Step"/> is one vector step:
/// <list type="number">
/// <item>act: uniform random actions for <see cref="LearnerOptions.RandomActionSteps"/> env steps, then a ~ π(· | s)
/// (<see cref="IOffPolicyAlgorithm.SampleActions"/>);</item>
/// <item>step every env; actions are in [−1, 1] (the tanh box) and rescaled to the task's [low, high];</item>
/// <item>store (s, a, r, s′, terminated) per env, s′ the final observation where an episode ended; a time-limit truncation
/// is not termination, so it still bootstraps;</item>
/// <item>once learning has started: for each transition collected, <see cref="LearnerOptions.UpdatesPerTransition"/>
/// times (one, as the official code): sample a batch uniformly and do an update of the algorithm
/// (<see cref="IOffPolicyAlgorithm.Update"/>);</item>
/// <item>every <see cref="LearnerOptions.EvalEvery"/> env steps: deterministic evaluation over
/// <see cref="LearnerOptions.EvalEpisodes"/> episodes on the evaluation env.</item>
/// </list>
/// One seed fixes the network's initialisation, the random actions, the sampling noise, the replay indices, the
/// algorithm's own streams (dropout masks…) and the envs' episode seeds, so a run with in-process envs is reproducible
/// bit for bit.
/// </summary>
public sealed partial class OffPolicyLearner
{
    private readonly IVectorEnv _env;
    private readonly IVectorEnv? _evalEnv;
    private readonly Rng _actionRng, _replayRng;
    private readonly ReplayBatch _batch;
    private readonly VectorBatch _step, _evalStep;
    private readonly float[] _obs, _policyObs, _actions, _envActions, _evalActions, _evalObs;
    private readonly double[] _episodeReturn;
    private readonly int[] _episodeLength;
    private bool _started;
    private double _updatesOwed;

    /// <param name="algorithm">Makes the algorithm from the stream its networks start from (called first, so that the
    /// loop's own streams come after it).</param>
    public OffPolicyLearner(Func<Rng, IOffPolicyAlgorithm> algorithm, LearnerOptions options, IVectorEnv env, IVectorEnv? evalEnv = null)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(env);
        options.Validate();
        var spec = env.Spec;
        if (evalEnv is not null && (evalEnv.Spec.ObsDim != spec.ObsDim || evalEnv.Spec.ActDim != spec.ActDim))
            throw new ArgumentException("the evaluation env's dimensions differ from the training env's", nameof(evalEnv));
        Options = options;
        _env = env;
        _evalEnv = evalEnv;
        var root = new Rng((ulong)options.Seed);
        Algorithm = algorithm(root.Split());
        if (spec.ObsDim != Algorithm.ObsDim || spec.ActDim != Algorithm.ActDim)
            throw new ArgumentException($"env '{spec.Name}' is ({spec.ObsDim}, {spec.ActDim}), the networks ({Algorithm.ObsDim}, {Algorithm.ActDim})", nameof(env));
        _actionRng = root.Split();
        _replayRng = root.Split();
        Buffer = new ReplayBuffer(options.BufferCapacity, spec.ObsDim, spec.ActDim);
        _batch = new ReplayBatch(options.BatchSize, spec.ObsDim, spec.ActDim);
        var n = env.NumEnvs;
        _step = new VectorBatch(n, spec.ObsDim);
        _obs = new float[n * spec.ObsDim];
        _policyObs = new float[n * spec.ObsDim];
        if (options.NormalizeObservations) ObsNormalizer = new ObservationNormalizer(spec.ObsDim);
        _actions = new float[n * spec.ActDim];
        _envActions = new float[n * spec.ActDim];
        _episodeReturn = new double[n];
        _episodeLength = new int[n];
        _evalStep = new VectorBatch(evalEnv?.NumEnvs ?? 1, spec.ObsDim);
        _evalActions = new float[(evalEnv?.NumEnvs ?? 1) * spec.ActDim];
        _evalObs = new float[(evalEnv?.NumEnvs ?? 1) * spec.ObsDim];
    }

    public LearnerOptions Options { get; }
    public IOffPolicyAlgorithm Algorithm { get; }
    public ReplayBuffer Buffer { get; }
    public TaskSpec Spec => _env.Spec;
    /// <summary>Gradient updates done.</summary>
    public long Updates => Algorithm.Updates;
    /// <summary>The running observation statistics when <see cref="LearnerOptions.NormalizeObservations"/> is on; the
    /// policy then sees normalised observations (and the replay buffer keeps raw ones).</summary>
    public ObservationNormalizer? ObsNormalizer { get; }

    /// <summary>The current policy as a policy file: the algorithm's official names and metadata, the task, its action
    /// box and the observation statistics, plus whatever <paramref name="extra"/> adds.</summary>
    public PolicyFile ExportPolicy(Func<PolicyMetadata, PolicyMetadata>? extra = null) => Algorithm.ExportPolicy(m =>
    {
        m = m with
        {
            Task = Spec.Name,
            ActionScale = new ActionScaling([.. Spec.ActLow], [.. Spec.ActHigh]),
            ObsNorm = ObsNormalizer?.ToMetadata(),
            // What the policy was trained on: the training envs' per-episode randomisation (docs/tasks.md).
            Extra = _env.Randomisation.Count > 0 ? [.. m.Extra, new(RandomisationKey, ParameterDistribution.FormatList(_env.Randomisation))] : m.Extra,
        };
        return extra is null ? m : extra(m);
    });

    /// <summary>Policy file metadata key holding the training randomisation (<see cref="ParameterDistribution.FormatList"/>).</summary>
    public const string RandomisationKey = "meow.randomisation";

    /// <summary>Transitions collected so far (summed over envs).</summary>
    public long EnvSteps { get; private set; }

    /// <summary>Called for finished training episodes, updates and evaluations (on the learner's thread).</summary>
    public event Action<LearnerEvent>? Reported;

    /// <summary>Runs until <paramref name="totalEnvSteps"/> transitions have been collected or cancellation; returns the
    /// evaluations made on the way (one at the end too, when an evaluation env is given).</summary>
    public IReadOnlyList<Evaluation> Run(long totalEnvSteps, CancellationToken cancellation = default)
    {
        var evaluations = new List<Evaluation>();
        var nextEval = Options.EvalEvery > 0 ? (EnvSteps / Options.EvalEvery + 1) * Options.EvalEvery : long.MaxValue;
        while (EnvSteps < totalEnvSteps && !cancellation.IsCancellationRequested)
        {
            Step();
            if (_evalEnv is not null && EnvSteps >= nextEval)
            {
                evaluations.Add(Evaluate());
                nextEval += Options.EvalEvery;
            }
        }
        if (_evalEnv is not null && !cancellation.IsCancellationRequested && (evaluations.Count == 0 || evaluations[^1].EnvSteps != EnvSteps))
            evaluations.Add(Evaluate());
        return evaluations;
    }

    /// <summary>One vector-env step, its transitions stored, then the updates it earns.</summary>
    public void Step()
    {
        var spec = _env.Spec;
        int n = _env.NumEnvs, obsDim = spec.ObsDim, actDim = spec.ActDim;
        if (!_started)
        {
            _env.Reset(_step, EpisodeSeeds(unchecked(Options.Seed + (int)EnvSteps), n));
            _step.Obs.CopyTo(_obs, 0);
            ObserveAll(_obs, n);
            _started = true;
        }

        // Act: uniform random in the tanh box for the first steps, then sample from the policy.
        if (EnvSteps < Options.RandomActionSteps) _actionRng.FillUniform(_actions, -1f, 1f);
        else Algorithm.SampleActions(PolicyView(_obs, _policyObs), n, _actions, _actionRng);
        Rescale(spec, _actions, _envActions);
        _env.Step(_envActions, _step);

        // Store: s′ of an ended episode is its final observation; only termination stops bootstrapping.
        for (var i = 0; i < n; i++)
        {
            if (_step.Lost[i] != 0)
            {
                // A sim worker died mid-step: that env's step never happened, so there is no transition to learn from;
                // it restarts with a new episode.
                _episodeReturn[i] = 0;
                _episodeLength[i] = 0;
                continue;
            }
            var ended = _step.Terminated[i] != 0 || _step.Truncated[i] != 0;
            var next = ended ? _step.FinalObsRow(i) : _step.ObsRow(i);
            Buffer.Add(_obs.AsSpan(i * obsDim, obsDim), _actions.AsSpan(i * actDim, actDim), _step.Reward[i], next, _step.Terminated[i] != 0);
            _episodeReturn[i] += _step.Reward[i];
            _episodeLength[i]++;
            if (ended)
            {
                Reported?.Invoke(new EpisodeEnded(EnvSteps + i + 1, _episodeReturn[i], _episodeLength[i], _step.FinalEpisodeParamsRow(i).ToArray()));
                _episodeReturn[i] = 0;
                _episodeLength[i] = 0;
            }
        }
        _step.Obs.CopyTo(_obs, 0);
        ObserveAll(_obs, n);
        EnvSteps += n;

        // Learn: the update-to-data ratio is per transition, so N envs earn N times the updates of one.
        if (EnvSteps < Options.LearningStarts) return;
        _updatesOwed += n * Options.UpdatesPerTransition;
        for (; _updatesOwed >= 1; _updatesOwed--)
        {
            Buffer.Sample(_replayRng, _batch);
            if (ObsNormalizer is { } norm)
            {
                norm.Normalize(_batch.Obs, _batch.Obs);
                norm.Normalize(_batch.NextObs, _batch.NextObs);
            }
            var stats = Algorithm.Update(_batch);
            Reported?.Invoke(new Updated(EnvSteps, Algorithm.Updates, stats));
        }
    }

    /// <summary>Deterministic evaluation over <see cref="LearnerOptions.EvalEpisodes"/> episodes of the
    /// evaluation env (the same episode seeds every time, so evaluations compare like with like).</summary>
    public Evaluation Evaluate()
    {
        var episodes = Rollouts(Options.EvalEpisodes, stochastic: false);
        var mean = episodes.Average(e => e.Return);
        var std = Math.Sqrt(episodes.Sum(e => (e.Return - mean) * (e.Return - mean)) / episodes.Count);
        var result = new Evaluation(EnvSteps, episodes.Count, mean, std, episodes.Average(e => e.Length));
        Reported?.Invoke(new Evaluated(result));
        return result;
    }

    /// <summary>Runs <paramref name="count"/> episodes on the evaluation env with deterministic actions or, with
    /// <paramref name="stochastic"/>, actions sampled from π (noise from its own generator, so training is unaffected).</summary>
    public IReadOnlyList<Episode> Rollouts(int count, bool stochastic)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var env = _evalEnv ?? throw new InvalidOperationException("this learner has no evaluation env");
        var spec = env.Spec;
        var n = env.NumEnvs;
        var episodes = new List<Episode>(count);
        var running = new double[n];
        var length = new int[n];
        var noise = new Rng(unchecked((ulong)Options.Seed * 31 + 7));
        env.Reset(_evalStep, EpisodeSeeds(Options.Seed + 1_000_003, n));
        while (episodes.Count < count)
        {
            var obs = PolicyView(_evalStep.Obs, _evalObs);
            if (stochastic) Algorithm.SampleActions(obs, n, _evalActions, noise);
            else Algorithm.DeterministicActions(obs, n, _evalActions);
            Rescale(spec, _evalActions, _evalActions);
            env.Step(_evalActions, _evalStep);
            for (var i = 0; i < n && episodes.Count < count; i++)
            {
                running[i] += _evalStep.Reward[i];
                length[i]++;
                var terminated = _evalStep.Terminated[i] != 0;
                if (terminated || _evalStep.Truncated[i] != 0)
                {
                    episodes.Add(new Episode(running[i], length[i], terminated, _evalStep.FinalObsRow(i).ToArray(), _evalStep.FinalEpisodeParamsRow(i).ToArray()));
                    running[i] = 0;
                    length[i] = 0;
                }
            }
        }
        return episodes;
    }

    private void ObserveAll(float[] obs, int n)
    {
        if (ObsNormalizer is not { } norm) return;
        for (var i = 0; i < n; i++) norm.Observe(obs.AsSpan(i * norm.ObsDim, norm.ObsDim));
    }

    /// <summary>What the policy sees of raw observations: themselves, or normalised into <paramref name="scratch"/>.</summary>
    private float[] PolicyView(float[] raw, float[] scratch)
    {
        if (ObsNormalizer is not { } norm) return raw;
        norm.Normalize(raw.AsSpan(0, scratch.Length), scratch);
        return scratch;
    }

    /// <summary>[−1, 1] → [low, high] per action dimension.</summary>
    internal static void Rescale(TaskSpec spec, ReadOnlySpan<float> unit, Span<float> into)
    {
        var a = spec.ActDim;
        for (var i = 0; i < unit.Length; i++)
        {
            float lo = spec.ActLow[i % a], hi = spec.ActHigh[i % a];
            into[i] = lo + 0.5f * (unit[i] + 1f) * (hi - lo);
        }
    }

    private static int[] EpisodeSeeds(int seed, int n)
    {
        var seeds = new int[n];
        for (var i = 0; i < n; i++) seeds[i] = unchecked(seed * 7919 + i);
        return seeds;
    }
}
