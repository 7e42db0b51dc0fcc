using MeowRobot.Policy.Files;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Learner.Sac;

/// <summary>
/// SAC as CleanRL's <c>sac_continuous_action.py</c> runs it, as one algorithm of the shared <see cref="OffPolicyLearner"/>
/// (which does the env loop, replay and evaluation). One <see cref="Update"/> is one iteration of CleanRL's training block:
/// <list type="number">
/// <item>critic: a′, log π(a′|s′) from the actor; y = r + γ(1 − d)(min(Q1′, Q2′)(s′, a′) − α log π(a′|s′)) with the target
/// critics, no gradient through y; loss = mse(Q1(s, a), y) + mse(Q2(s, a), y); Adam over qf1 and qf2 (q_lr);</item>
/// <item>every <see cref="SacOptions.PolicyFrequency"/>-th update, that many actor steps on the same batch (TD3's delay,
/// compensated): loss = mean(α log π(ã|s) − min(Q1, Q2)(s, ã)), ã reparameterised; Adam over the actor (policy_lr); with
/// autotune, each followed by a fresh no-gradient sample and loss_α = mean(−α (log π + H̄)), H̄ = −|A|, Adam on log α (q_lr);</item>
/// <item>every <see cref="SacOptions.TargetNetworkFrequency"/>-th update: Polyak, target ← τ·online + (1 − τ)·target.</item>
/// </list>
/// The deterministic action is tanh(μ(s)). Every noise draw comes from the algorithm's own stream (checkpointed), so a
/// seeded run is reproducible. Allocation-free once warm.
/// </summary>
public sealed class SacAlgorithm : IOffPolicyAlgorithm
{
    private readonly SacOptions _o;
    private readonly SoftQNetwork _qf1Target, _qf2Target;
    // Arrays, not lists: a foreach over an interface would allocate an enumerator every update.
    private readonly Tensor[] _qParameters, _qTargetParameters, _actorParameters;
    private readonly Tensor _logAlpha = new(1, requiresGrad: true);
    private readonly float _targetEntropy;
    private readonly Rng _noise;
    private readonly Tape _tape = new(), _actTape = new();
    private float _alpha, _lastActorLoss = float.NaN;

    /// <param name="rng">The networks' initialisation, then (split from it) the update's sampling noise.</param>
    public SacAlgorithm(int obsDim, int actDim, SacOptions options, Rng rng)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(obsDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(actDim, 1);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(rng);
        options.Validate();
        _o = options;
        ObsDim = obsDim;
        ActDim = actDim;
        Networks = new SacNetworks(obsDim, actDim, options, rng);
        _qf1Target = new SoftQNetwork(obsDim, actDim, options.Hidden, rng);
        _qf2Target = new SoftQNetwork(obsDim, actDim, options.Hidden, rng);
        _qf1Target.CopyStateFrom(Networks.Qf1);
        _qf2Target.CopyStateFrom(Networks.Qf2);
        _noise = rng.Split();
        _qParameters = [.. Networks.Qf1.Parameters(), .. Networks.Qf2.Parameters()];
        _qTargetParameters = [.. _qf1Target.Parameters(), .. _qf2Target.Parameters()];
        _actorParameters = [.. Networks.Actor.Parameters()];
        QOptimizer = new Adam(_qParameters, options.QLearningRate);
        ActorOptimizer = new Adam(_actorParameters, options.PolicyLearningRate);
        // log α starts at 0 (α = 1) when tuned, as CleanRL; else α is fixed.
        _logAlpha.Values[0] = options.Autotune ? 0f : MathF.Log(options.Alpha);
        AlphaOptimizer = new Adam([_logAlpha], options.QLearningRate);
        _alpha = MathF.Exp(_logAlpha.Values[0]);
        _targetEntropy = -actDim;
    }

    /// <summary>The algorithm for <see cref="OffPolicyLearner"/>'s factory.</summary>
    public static Func<Rng, IOffPolicyAlgorithm> Factory(int obsDim, int actDim, SacOptions options) =>
        rng => new SacAlgorithm(obsDim, actDim, options, rng);

    public PolicyAlgorithm Algorithm => PolicyAlgorithm.Sac;
    public int ObsDim { get; }
    public int ActDim { get; }
    public long Updates { get; set; }
    public SacOptions Options => _o;
    /// <summary>actor, qf1, qf2 (what a policy file holds).</summary>
    public SacNetworks Networks { get; }
    public Adam QOptimizer { get; }
    public Adam ActorOptimizer { get; }
    public Adam AlphaOptimizer { get; }
    /// <summary>The entropy coefficient α in use.</summary>
    public float Alpha => _alpha;

    public void SampleActions(ReadOnlySpan<float> obs, int rows, Span<float> actions, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        _actTape.Reset();
        using (_actTape.NoGrad())
        {
            var noise = _actTape.Zeros(rows, ActDim);
            rng.FillNormal(noise.Values);
            Networks.Actor.Sample(_actTape, _actTape.Input(obs[..(rows * ObsDim)], rows, ObsDim), noise).Action.Values.CopyTo(actions);
        }
    }

    public void DeterministicActions(ReadOnlySpan<float> obs, int rows, Span<float> actions)
    {
        _actTape.Reset();
        using (_actTape.NoGrad())
            Networks.Actor.DeterministicAction(_actTape, _actTape.Input(obs[..(rows * ObsDim)], rows, ObsDim)).Values.CopyTo(actions);
    }

    public UpdateStats Update(ReplayBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.ObsDim != ObsDim || batch.ActDim != ActDim)
            throw new ArgumentException($"batch is ({batch.ObsDim}, {batch.ActDim}), the networks ({ObsDim}, {ActDim})", nameof(batch));
        Updates++;
        var (qLoss, gradNorm, meanQ, meanTarget) = CriticStep(batch);

        if (Updates % _o.PolicyFrequency == 0)
        {
            for (var k = 0; k < _o.PolicyFrequency; k++)
            {
                _lastActorLoss = ActorStep(batch);
                if (_o.Autotune) AlphaStep(batch);
            }
        }

        if (Updates % _o.TargetNetworkFrequency == 0) Polyak.Update(_qTargetParameters, _qParameters, _o.Tau);
        return new UpdateStats(qLoss, gradNorm, meanQ, meanTarget, _lastActorLoss, _alpha);
    }

    /// <summary>Soft Bellman loss of both critics against the target critics and the current actor; one Adam step.</summary>
    private (float Loss, float GradNorm, float MeanQ, float MeanTarget) CriticStep(ReplayBatch batch)
    {
        _tape.Reset();
        var (loss, q1, q2, y) = CriticLoss(_tape, batch, Noise(_tape, batch.Size));
        QOptimizer.ZeroGrad();
        _tape.Backward(loss);
        var sumOfSquares = 0.0;
        foreach (var p in _qParameters) sumOfSquares += GradientClipping.SumOfSquares(p);
        QOptimizer.Step();
        var n = batch.Size;
        return (loss.Item() / 2, GradientClipping.Norm(sumOfSquares), (Sum(q1.Values) + Sum(q2.Values)) / (2 * n), Sum(y.Values) / n);
    }

    /// <summary>mse(Q1(s, a), y) + mse(Q2(s, a), y), y = r + γ(1 − d)(min(Q1′, Q2′)(s′, a′) − α log π(a′|s′)) with
    /// a′ = tanh(μ(s′) + σ(s′)·<paramref name="nextNoise"/>) and no gradient through y.</summary>
    internal (Tensor Loss, Tensor Q1, Tensor Q2, Tensor Y) CriticLoss(Tape tape, ReplayBatch batch, Tensor nextNoise)
    {
        var n = batch.Size;
        var obs = tape.Input(batch.Obs, n, ObsDim);
        var act = tape.Input(batch.Act, n, ActDim);
        Tensor y;
        using (tape.NoGrad())
        {
            var nextObs = tape.Input(batch.NextObs, n, ObsDim);
            var (nextAct, nextLogPi) = Networks.Actor.Sample(tape, nextObs, nextNoise);
            var minQ = tape.Minimum(_qf1Target.Forward(tape, nextObs, nextAct), _qf2Target.Forward(tape, nextObs, nextAct));
            var soft = tape.Sub(minQ, tape.Mul(nextLogPi, _alpha));
            y = tape.Zeros(n, 1);
            var ys = y.Values;
            ReadOnlySpan<float> v = soft.Values, reward = batch.Reward, done = batch.Done;
            for (var i = 0; i < n; i++) ys[i] = reward[i] + (1f - done[i]) * _o.Gamma * v[i];
        }
        var q1 = Networks.Qf1.Forward(tape, obs, act);
        var q2 = Networks.Qf2.Forward(tape, obs, act);
        return (tape.Add(tape.Mean(tape.Square(tape.Sub(q1, y))), tape.Mean(tape.Square(tape.Sub(q2, y)))), q1, q2, y);
    }

    /// <summary>One Adam step of the actor on <see cref="ActorLoss"/>. The critics' parameters are frozen meanwhile: their
    /// gradient from this loss is discarded anyway, so it is not computed.</summary>
    private float ActorStep(ReplayBatch batch)
    {
        _tape.Reset();
        Freeze(_qParameters, true);
        try
        {
            var loss = ActorLoss(_tape, _tape.Input(batch.Obs, batch.Size, ObsDim), Noise(_tape, batch.Size));
            ActorOptimizer.ZeroGrad();
            _tape.Backward(loss);
            ActorOptimizer.Step();
            return loss.Item();
        }
        finally
        {
            Freeze(_qParameters, false);
        }
    }

    /// <summary>mean(α log π(ã|s) − min(Q1, Q2)(s, ã)), ã = tanh(μ(s) + σ(s)·<paramref name="noise"/>) reparameterised.</summary>
    internal Tensor ActorLoss(Tape tape, Tensor obs, Tensor noise)
    {
        var (pi, logPi) = Networks.Actor.Sample(tape, obs, noise);
        var minQ = tape.Minimum(Networks.Qf1.Forward(tape, obs, pi), Networks.Qf2.Forward(tape, obs, pi));
        return tape.Mean(tape.Sub(tape.Mul(logPi, _alpha), minQ));
    }

    /// <summary>loss_α = mean(−exp(log α)(log π + H̄)) on a fresh no-gradient sample; one Adam step of log α.</summary>
    private void AlphaStep(ReplayBatch batch)
    {
        var tape = _tape;
        var n = batch.Size;
        tape.Reset();
        Tensor logPi;
        using (tape.NoGrad())
            logPi = Networks.Actor.Sample(tape, tape.Input(batch.Obs, n, ObsDim), Noise(tape, n)).LogProb;
        var loss = AlphaLoss(tape, logPi);
        AlphaOptimizer.ZeroGrad();
        tape.Backward(loss);
        AlphaOptimizer.Step();
        _alpha = MathF.Exp(_logAlpha.Values[0]);
    }

    /// <summary>mean(−exp(log α)(log π + H̄)) for log π values that carry no gradient.</summary>
    internal Tensor AlphaLoss(Tape tape, Tensor logPi) => tape.Mean(tape.Mul(tape.Neg(tape.Exp(_logAlpha)), tape.Add(logPi, _targetEntropy)));

    /// <summary>log α (a parameter of <see cref="AlphaOptimizer"/>).</summary>
    internal Tensor LogAlpha => _logAlpha;

    internal SoftQNetwork Qf1Target => _qf1Target;
    internal SoftQNetwork Qf2Target => _qf2Target;

    private Tensor Noise(Tape tape, int rows)
    {
        var eps = tape.Zeros(rows, ActDim);
        _noise.FillNormal(eps.Values);
        return eps;
    }

    private static void Freeze(Tensor[] parameters, bool frozen)
    {
        foreach (var p in parameters) p.RequiresGrad = !frozen;
    }

    private static float Sum(ReadOnlySpan<float> v)
    {
        var s = 0.0;
        foreach (var x in v) s += x;
        return (float)s;
    }

    /// <summary>actor, qf1, qf2 under their official names; actor.action_scale/action_bias from the metadata's action box
    /// (the tanh box when it has none), as CleanRL's actor holds them.</summary>
    public PolicyFile ExportPolicy(Func<PolicyMetadata, PolicyMetadata> common)
    {
        ArgumentNullException.ThrowIfNull(common);
        var m = common(new PolicyMetadata
        {
            Algorithm = PolicyAlgorithm.Sac,
            ObsDim = ObsDim,
            ActDim = ActDim,
            Sac = new SacArchitecture
            {
                Hidden = _o.Hidden,
                LogStdMin = PolicyMetadata.FromSingle(_o.LogStdMin),
                LogStdMax = PolicyMetadata.FromSingle(_o.LogStdMax),
                Alpha = PolicyMetadata.FromSingle(_alpha),
            },
        });
        var (scale, bias) = SacLayout.ActionBuffers(m);
        return new PolicyFile(m, Networks.StateEntries().Select(e => new PolicyTensor(e.Name, e.Tensor.Shape, e.Name switch
        {
            SacLayout.ActionScale => scale,
            SacLayout.ActionBias => bias,
            _ => e.Tensor.ToArray(),
        })));
    }

    /// <summary>The update's noise stream, α's state, then the networks, target critics and the three optimisers.</summary>
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteRng(_noise);
        writer.Write(_logAlpha.Values[0]);
        writer.Write(_lastActorLoss);
        writer.WriteModule(Networks);
        writer.WriteModule(_qf1Target);
        writer.WriteModule(_qf2Target);
        writer.WriteAdam(QOptimizer);
        writer.WriteAdam(ActorOptimizer);
        writer.WriteAdam(AlphaOptimizer);
    }

    public void LoadState(BinaryReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _noise.State = reader.ReadRng();
        var logAlpha = reader.ReadSingle();
        if (!float.IsFinite(logAlpha)) throw new InvalidDataException("checkpoint holds a non-finite log α");
        _logAlpha.Values[0] = logAlpha;
        _alpha = MathF.Exp(logAlpha);
        _lastActorLoss = reader.ReadSingle();
        reader.ReadModule(Networks);
        reader.ReadModule(_qf1Target);
        reader.ReadModule(_qf2Target);
        reader.ReadAdam(QOptimizer);
        reader.ReadAdam(ActorOptimizer);
        reader.ReadAdam(AlphaOptimizer);
    }
}
