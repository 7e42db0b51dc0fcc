using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Learner.S2ac;

/// <summary>
/// S2AC (Stein Soft Actor-Critic, ICLR 2024) in the shared off-policy loop: the official update (<see cref="S2acUpdate"/>)
/// and two ways to act.
/// <list type="bullet">
/// <item>Exploring (<see cref="SampleActions"/>): the SVGD actor's particles for the state, one of them at random (the
/// official <c>train_action_selection = random</c>).</item>
/// <item>Deterministic (<see cref="DeterministicActions"/>, what evaluation and a robot run): with the amortized sampling
/// network, tanh(f(s, E[ξ] = 0)) — one forward pass of a small MLP, which the controller's allocation-free runtime runs;
/// without it, the official "max" selection: the particle with the highest min(Q1, Q2), from fixed noise so that the
/// action is a function of the state. "max" needs the critics and their input gradients at every step, so it stays in the
/// trainer; policy files of the SVGD actor are refused by the controller for that reason.</item>
/// </list>
/// </summary>
public sealed class S2acAlgorithm : IOffPolicyAlgorithm
{
    private readonly Rng _noise;
    private readonly Tape _actTape = new();
    private float[] _eps = [], _fixedEps = [];

    public S2acAlgorithm(S2acOptions options, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(rng);
        options.Validate();
        Options = options;
        Policy = new S2acPolicy(options, rng);
        _noise = rng.Split();
        UpdateRule = new S2acUpdate(Policy);
    }

    public static Func<Rng, IOffPolicyAlgorithm> Factory(S2acOptions options) => rng => new S2acAlgorithm(options, rng);

    /// <summary>The networks of an S2AC policy file (critics, and the amortized network or p0 as its <c>s2ac.actor</c>
    /// says; the part a file does not hold keeps its initialisation and is never used), acting as the trainer acts.</summary>
    public static S2acAlgorithm FromFile(PolicyFile file, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(file);
        var m = file.Metadata;
        if (m.Algorithm != PolicyAlgorithm.S2ac) throw new ArgumentException($"policy file is of algorithm {m.Algorithm.Name()}, not S2AC", nameof(file));
        var amortized = m.S2ac.Actor == S2acActor.Amortized;
        var options = S2acOptions.FromMetadata(m.ToEntries().ToDictionary(e => e.Key, e => e.Value), new S2acOptions { ObsDim = 1, ActDim = 1, Amortized = amortized });
        var algorithm = new S2acAlgorithm(options, rng);
        var policy = algorithm.Policy;
        var values = file.Tensors.ToDictionary(t => t.Name, t => t.Values, StringComparer.Ordinal);
        policy.Q1.LoadStateDict(Under(values, "q1."));
        policy.Q2.LoadStateDict(Under(values, "q2."));
        if (policy.Pi.Sampler is { } f) f.LoadStateDict(Under(values, "pi.f."));
        else policy.Pi.P0?.LoadStateDict(Under(values, "pi.p0."));
        return algorithm;

        static Dictionary<string, float[]> Under(Dictionary<string, float[]> all, string prefix) =>
            all.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(e => e.Key[prefix.Length..], e => e.Value, StringComparer.Ordinal);
    }

    public PolicyAlgorithm Algorithm => PolicyAlgorithm.S2ac;
    public int ObsDim => Options.ObsDim;
    public int ActDim => Options.ActDim;
    public S2acOptions Options { get; }
    public S2acPolicy Policy { get; }
    /// <summary>The update in the official order (its optimisers, target networks and counters).</summary>
    public S2acUpdate UpdateRule { get; }

    public long Updates
    {
        get => UpdateRule.Count;
        set => UpdateRule.Count = value;
    }

    /// <summary>One of the state's SVGD particles, at random.</summary>
    public void SampleActions(ReadOnlySpan<float> obs, int rows, Span<float> actions, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var eps = Noise(ref _eps, rows);
        Policy.Pi.DrawNoise(rng, eps);
        var particles = Particles(obs, rows, eps, out _);
        for (var b = 0; b < rows; b++)
            particles.Slice((b * Options.Particles + (int)(rng.NextUInt64() % (ulong)Options.Particles)) * ActDim, ActDim).CopyTo(actions.Slice(b * ActDim, ActDim));
    }

    /// <summary>act_limit · tanh(f(s, ξ)), ξ ~ N(0, I): the amortized network's own samples (what
    /// <c>policy eval --stochastic</c> runs of an amortized file; exploring in training uses the SVGD particles).</summary>
    public void SampleAmortizedActions(ReadOnlySpan<float> obs, int rows, Span<float> actions, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        _actTape.Reset();
        var xi = _actTape.Zeros(rows, ActDim);
        rng.FillNormal(xi.Values);
        Amortized(obs, rows, xi, actions);
    }

    /// <summary>tanh(f(s, 0)) with the amortized network, else the highest-Q particle from fixed noise.</summary>
    public void DeterministicActions(ReadOnlySpan<float> obs, int rows, Span<float> actions)
    {
        if (Policy.Pi.Sampler is not null)
        {
            _actTape.Reset();
            Amortized(obs, rows, _actTape.Zeros(rows, ActDim), actions);
            return;
        }
        if (_fixedEps.Length < rows * Options.Particles * ActDim)
        {
            _fixedEps = new float[rows * Options.Particles * ActDim];
            Policy.Pi.DrawNoise(new Rng(0), _fixedEps);
        }
        var particles = Particles(obs, rows, _fixedEps.AsSpan(0, rows * Options.Particles * ActDim), out var q);
        for (var b = 0; b < rows; b++)
        {
            var best = 0;
            for (var p = 1; p < Options.Particles; p++)
                if (q[b * Options.Particles + p] > q[b * Options.Particles + best]) best = p;
            particles.Slice((b * Options.Particles + best) * ActDim, ActDim).CopyTo(actions.Slice(b * ActDim, ActDim));
        }
    }

    /// <summary>act_limit · tanh(f(s, ξ)) on the acting tape, reset by the caller (<paramref name="xi"/> one of its
    /// tensors, [rows, A]).</summary>
    private void Amortized(ReadOnlySpan<float> obs, int rows, Tensor xi, Span<float> actions)
    {
        var tape = _actTape;
        var f = Policy.Pi.Sampler ?? throw new InvalidOperationException("this S2AC actor has no amortized sampling network");
        using (tape.NoGrad())
            tape.Mul(tape.Tanh(f.Forward(tape, tape.Input(obs[..(rows * ObsDim)], rows, ObsDim), xi)), Options.ActLimit).Values.CopyTo(actions);
    }

    /// <summary>The actions of the SVGD particles [rows·P·A] and min Q at them before the last step [rows·P] (valid until the
    /// acting tape's next use).</summary>
    private ReadOnlySpan<float> Particles(ReadOnlySpan<float> obs, int rows, ReadOnlySpan<float> eps, out ReadOnlySpan<float> q)
    {
        var tape = _actTape;
        tape.Reset();
        var sample = Policy.Pi.Sample(tape, Policy.Q1, Policy.Q2, tape.Input(obs[..(rows * ObsDim)], rows, ObsDim), eps, differentiable: false, withLogProb: false);
        if (sample.LastQ is { } last) q = last.Values;
        else
            using (tape.NoGrad())
                q = Policy.MinQ(tape, tape.RepeatEachRow(tape.Input(obs[..(rows * ObsDim)], rows, ObsDim), Options.Particles), sample.Action).Values;
        return sample.Action.Values;
    }

    private Span<float> Noise(ref float[] buffer, int rows)
    {
        var n = rows * Options.Particles * ActDim;
        if (buffer.Length < n) buffer = new float[n];
        return buffer.AsSpan(0, n);
    }

    public UpdateStats Update(ReplayBatch batch)
    {
        var s = UpdateRule.Step(batch, _noise);
        return new UpdateStats(s.CriticLoss, s.CriticGradNorm, s.MeanQ, s.MeanTarget, s.ActorLoss);
    }

    /// <summary>
    /// The official names and <c>s2ac.*</c> metadata. With the amortized network the file is the amortized actor
    /// (<c>s2ac.actor = amortized</c>: critics and <c>pi.f</c>, what a robot runs); without it, the SVGD actor (critics
    /// and <c>pi.p0</c>), as the golden files.
    /// </summary>
    public PolicyFile ExportPolicy(Func<PolicyMetadata, PolicyMetadata> common)
    {
        ArgumentNullException.ThrowIfNull(common);
        var o = Options;
        var amortized = Policy.Pi.Sampler is not null;
        var m = common(new PolicyMetadata
        {
            Algorithm = PolicyAlgorithm.S2ac,
            ObsDim = o.ObsDim,
            ActDim = o.ActDim,
            S2ac = new S2acArchitecture
            {
                Particles = o.Particles,
                SvgdSteps = o.SvgdSteps,
                SvgdLr = PolicyMetadata.FromSingle(o.SvgdLearningRate),
                Hidden = o.Hidden,
                CriticLayers = o.CriticLayers,
                ActorLayers = o.ActorLayers,
                SamplerLayers = amortized ? o.SamplerLayers : null,
                Alpha = PolicyMetadata.FromSingle(o.Alpha),
                ActLimit = PolicyMetadata.FromSingle(o.ActLimit),
                SigmaClampMin = PolicyMetadata.FromSingle(InitialDistribution.SigmaMin),
                SigmaClampMax = PolicyMetadata.FromSingle(InitialDistribution.SigmaMax),
                InitialSigma = o.InitialDistribution == S2acInitial.Fixed ? PolicyMetadata.FromSingle(o.InitialSigma) : null,
                Actor = amortized ? S2acActor.Amortized : S2acActor.Svgd,
            },
        });
        var dropped = amortized ? "pi.p0." : "pi.f.";
        return new PolicyFile(m, Policy.StateEntries().Where(e => !e.Name.StartsWith(dropped, StringComparison.Ordinal))
            .Select(e => new PolicyTensor(e.Name, e.Tensor.Shape, e.Tensor.ToArray())));
    }

    /// <summary>The update's noise stream, the networks, the target networks and the three optimisers.</summary>
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteRng(_noise);
        writer.WriteModule(Policy);
        writer.WriteModule(UpdateRule.Target);
        writer.WriteAdam(UpdateRule.CriticAdam);
        writer.WriteAdam(UpdateRule.ActorAdam);
        writer.Write(UpdateRule.SamplerAdam is not null);
        if (UpdateRule.SamplerAdam is { } s) writer.WriteAdam(s);
    }

    public void LoadState(BinaryReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _noise.State = reader.ReadRng();
        reader.ReadModule(Policy);
        reader.ReadModule(UpdateRule.Target);
        reader.ReadAdam(UpdateRule.CriticAdam);
        reader.ReadAdam(UpdateRule.ActorAdam);
        if (reader.ReadBoolean() != UpdateRule.SamplerAdam is not null)
            throw new InvalidDataException("the checkpoint's S2AC actor and this one differ in having an amortized sampling network");
        if (UpdateRule.SamplerAdam is { } s) reader.ReadAdam(s);
    }
}
