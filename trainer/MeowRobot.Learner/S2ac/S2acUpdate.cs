using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Learner.S2ac;

/// <summary>What one S2AC update measured (critic and actor losses, global gradient norms before any step).</summary>
public readonly record struct S2acStats(float CriticLoss, float CriticGradNorm, float ActorLoss, float ActorGradNorm, float MeanQ, float MeanTarget);

/// <summary>
/// One S2AC update, in the official order (MaxEntrRL.update):
/// <list type="number">
/// <item>critic: y = r + γ(1 − d)(mean over particles of min(Q1′, Q2′)(s′, a′) − α log π(a′|s′)), a′ and log π from the
/// online actor (SVGD on the online critics) on s′, Q′ the target critics, no gradient through y;
/// loss = mean (Q1(s, a) − y)² + mean (Q2(s, a) − y)²; Adam over q1 then q2;</item>
/// <item>actor: a, log π from the online actor on s with the critics as just updated (frozen);
/// loss = mean over states of (α log π − mean over particles of min(Q1, Q2)(s, a)); its gradient reaches μ, σ and
/// every SVGD step (the score differentiated again); Adam over pi (none with the fixed start: nothing to train);</item>
/// <item>amortized sampler (when on): particles f(s, ξ) pushed along the Stein direction at them (Algorithm 2);</item>
/// <item>Polyak over every parameter: target ← polyak·target + (1 − polyak)·online.</item>
/// </list>
/// Noise: ε of a′ and of a, drawn within ±3 by rejection (<see cref="InitialDistribution.DrawNoise"/>), and ξ.
/// With <see cref="S2acOptions.Threads"/> = 2 the batch's states are cut in two halves that run at once on the
/// <see cref="SecondCore"/> (the particles of a state never meet another state's), each on its own tape with its own
/// replica of the networks (same parameter storage, own gradients); the replicas' actor gradients are then added in.
/// </summary>
public sealed class S2acUpdate : ISharedWork
{
    private enum Phase { Target, Actor, Sampler }

    private readonly Shard[] _shards;
    private readonly Tape _tape;
    private readonly IReadOnlyList<Tensor> _onlineParameters, _targetParameters, _criticParameters, _actorParameters, _samplerParameters;
    private float[] _target = [], _epsNext = [], _epsPi = [], _xi = [];
    private ReplayBatch? _batch;
    private Phase _phase;
    private int _count;

    public S2acUpdate(S2acPolicy online, S2acPolicy? target = null)
    {
        ArgumentNullException.ThrowIfNull(online);
        Online = online;
        Options = online.Options;
        if (target is null)
        {
            target = new S2acPolicy(Options, new Rng(0));
            target.CopyStateFrom(online);
        }
        Target = target;
        _onlineParameters = online.Parameters();
        _targetParameters = target.Parameters();
        _criticParameters = [.. online.Q1.Parameters(), .. online.Q2.Parameters()];
        _actorParameters = online.Pi.P0?.Parameters() ?? [];
        _samplerParameters = online.Pi.Sampler?.Parameters() ?? [];
        _shards = new Shard[Options.Threads];
        _shards[0] = new Shard(online);
        for (var k = 1; k < _shards.Length; k++)
        {
            var replica = new S2acPolicy(Options, new Rng(0));
            replica.ShareStateWith(online);
            _shards[k] = new Shard(replica);
        }
        _tape = _shards[0].Tape;
        var o = Options;
        CriticAdam = new Adam(_criticParameters, o.CriticLearningRate, o.AdamBeta1, o.AdamBeta2, o.AdamEps);
        ActorAdam = new Adam(_actorParameters, o.ActorLearningRate, o.AdamBeta1, o.AdamBeta2, o.AdamEps);
        SamplerAdam = _samplerParameters.Count > 0 ? new Adam(_samplerParameters, o.ActorLearningRate, o.AdamBeta1, o.AdamBeta2, o.AdamEps) : null;
    }

    public S2acPolicy Online { get; }
    public S2acPolicy Target { get; }
    public S2acOptions Options { get; }
    public Adam CriticAdam { get; }
    public Adam ActorAdam { get; }
    public Adam? SamplerAdam { get; }

    /// <summary>Updates done.</summary>
    public long Count { get; set; }

    /// <summary>The TD targets y of the latest update.</summary>
    public ReadOnlySpan<float> LastTarget => _target;

    /// <summary>One update on <paramref name="batch"/>, its noise drawn from <paramref name="noise"/>.</summary>
    public S2acStats Step(ReplayBatch batch, Rng noise)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(noise);
        EnsureNoiseBuffers(batch.Size);
        Online.Pi.DrawNoise(noise, _epsNext);
        Online.Pi.DrawNoise(noise, _epsPi);
        if (SamplerAdam is not null) noise.FillNormal(_xi);
        return Run(batch);
    }

    /// <summary>One update with given noise: ε of a′ (<paramref name="epsNext"/>) and of a (<paramref name="epsPi"/>),
    /// [B·P·A] each, and ξ of the amortized sampler (ignored when it is off).</summary>
    public S2acStats Step(ReplayBatch batch, ReadOnlySpan<float> epsNext, ReadOnlySpan<float> epsPi, ReadOnlySpan<float> xi)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var particles = batch.Size * Options.Particles * Options.ActDim;
        if (epsNext.Length != particles || epsPi.Length != particles || (SamplerAdam is not null && xi.Length != particles))
            throw new ArgumentException($"expected {particles} noise values per draw (batch × particles × action dims)");
        EnsureNoiseBuffers(batch.Size);
        epsNext.CopyTo(_epsNext);
        epsPi.CopyTo(_epsPi);
        if (SamplerAdam is not null) xi.CopyTo(_xi);
        return Run(batch);
    }

    private S2acStats Run(ReplayBatch batch)
    {
        var o = Options;
        if (batch.ObsDim != o.ObsDim || batch.ActDim != o.ActDim)
            throw new ArgumentException($"batch is ({batch.ObsDim}, {batch.ActDim}), the networks ({o.ObsDim}, {o.ActDim})", nameof(batch));
        if (_target.Length != batch.Size) _target = new float[batch.Size];
        _batch = batch;
        _count = Math.Min(_shards.Length, batch.Size);
        try
        {
            // 1. Critic: TD targets from the online actor (one half of the states per thread), then the Bellman loss.
            RunPhase(Phase.Target);
            var (criticLoss, meanQ) = CriticBackward(batch);
            var criticNorm = GlobalNorm(_criticParameters);
            CriticAdam.Step();

            // 2. Actor (and 3. the amortized sampler) through the SVGD steps, on the critics just updated, frozen.
            for (var k = 0; k < _count; k++) Freeze(_shards[k].CriticParameters, true);
            float actorLoss = float.NaN, actorNorm = float.NaN;
            try
            {
                if (_actorParameters.Count > 0)
                {
                    ActorAdam.ZeroGrad();
                    RunPhase(Phase.Actor);
                    actorLoss = 0f;
                    for (var k = 0; k < _count; k++) actorLoss += _shards[k].Loss;
                    AddReplicaGradients(s => s.ActorParameters);
                    actorNorm = GlobalNorm(_actorParameters);
                    ActorAdam.Step();
                }
                if (SamplerAdam is not null)
                {
                    SamplerAdam.ZeroGrad();
                    RunPhase(Phase.Sampler);
                    AddReplicaGradients(s => s.SamplerParameters);
                    SamplerAdam.Step();
                }
            }
            finally
            {
                for (var k = 0; k < _count; k++) Freeze(_shards[k].CriticParameters, false);
            }

            // 4. Polyak over every parameter.
            Polyak.Update(_targetParameters, _onlineParameters, 1f - o.Polyak);
            Count++;
            var meanTarget = 0.0;
            foreach (var y in _target) meanTarget += y;
            return new S2acStats(criticLoss, criticNorm, actorLoss, actorNorm, meanQ, (float)(meanTarget / _target.Length));
        }
        finally
        {
            _batch = null;
        }
    }

    private void RunPhase(Phase phase)
    {
        _phase = phase;
        SecondCore.Shared.Share(this, _count);
    }

    void ISharedWork.Run(int item)
    {
        var shard = _shards[item];
        var batch = _batch!;
        int start = batch.Size * item / _count, rows = batch.Size * (item + 1) / _count - start;
        var perState = Options.Particles * Options.ActDim;
        switch (_phase)
        {
            case Phase.Target: SoftTargets(shard.Tape, shard.Policy, batch, start, rows, _epsNext.AsSpan(start * perState, rows * perState)); break;
            case Phase.Actor:
                if (item > 0) ZeroGrad(shard.ActorParameters); // the primary's are the caller's to clear
                shard.Loss = ActorBackward(shard.Tape, shard.Policy, batch, start, rows, _epsPi.AsSpan(start * perState, rows * perState));
                break;
            case Phase.Sampler:
                if (item > 0) ZeroGrad(shard.SamplerParameters);
                SamplerBackward(shard.Tape, shard.Policy, batch, start, rows, _xi.AsSpan(start * perState, rows * perState));
                break;
        }
    }

    /// <summary>Step 1's target on states [start, start + rows): y = r + γ(1 − d)(mean over particles of min Q′(s′, a′) −
    /// α log π(a′|s′)), a′ from the online actor with the online critics inside its SVGD steps, Q′ the target critics.</summary>
    private void SoftTargets(Tape tape, S2acPolicy online, ReplayBatch batch, int start, int rows, ReadOnlySpan<float> epsNext)
    {
        var o = Options;
        int s = o.ObsDim, p = o.Particles;
        tape.Reset();
        var nextObs = tape.Input(batch.NextObs.AsSpan(start * s, rows * s), rows, s);
        var next = online.Pi.Sample(tape, online.Q1, online.Q2, nextObs, epsNext, differentiable: false, withLogProb: true);
        using (tape.NoGrad())
        {
            var qNext = tape.Mean(tape.Reshape(Target.MinQ(tape, tape.RepeatEachRow(nextObs, p), next.Action), rows, p), 1);
            ReadOnlySpan<float> qv = qNext.Values, logp = next.LogProb!.Values;
            for (var i = 0; i < rows; i++)
            {
                var r = start + i;
                _target[r] = batch.Reward[r] + o.Gamma * (1f - batch.Done[r]) * (qv[i] - o.Alpha * logp[i]);
            }
        }
    }

    /// <summary>Step 1's loss: mean (Q1(s, a) − y)² + mean (Q2(s, a) − y)², back-propagated into the online critics.</summary>
    private (float Loss, float MeanQ) CriticBackward(ReplayBatch batch)
    {
        var o = Options;
        var b = batch.Size;
        var tape = _tape;
        tape.Reset();
        var obs = tape.Input(batch.Obs, b, o.ObsDim);
        var act = tape.Input(batch.Act, b, o.ActDim);
        var y = tape.Input(_target, b, 1);
        var q1 = Online.Q1.Forward(tape, obs, act);
        var q2 = Online.Q2.Forward(tape, obs, act);
        var loss = tape.Add(tape.Mean(tape.Square(tape.Sub(q1, y))), tape.Mean(tape.Square(tape.Sub(q2, y))));
        CriticAdam.ZeroGrad();
        tape.Backward(loss);
        var sumQ = 0.0;
        foreach (var v in q1.Values) sumQ += v;
        foreach (var v in q2.Values) sumQ += v;
        return (loss.Item(), (float)(sumQ / (2 * b)));
    }

    /// <summary>Step 2 on states [start, start + rows): this share of the actor loss, back-propagated through the SVGD
    /// steps into the actor's gradients (the shares add up to the whole batch's mean).</summary>
    private float ActorBackward(Tape tape, S2acPolicy policy, ReplayBatch batch, int start, int rows, ReadOnlySpan<float> epsPi)
    {
        var s = Options.ObsDim;
        tape.Reset();
        var loss = ActorLoss(tape, policy, tape.Input(batch.Obs.AsSpan(start * s, rows * s), rows, s), epsPi, out _, out _);
        if (rows != batch.Size) loss = tape.Mul(loss, (float)rows / batch.Size);
        tape.Backward(loss);
        return loss.Item();
    }

    /// <summary>loss_π = mean over states of (α log π(a|s) − mean over particles of min(Q1, Q2)(s, a)).</summary>
    public static Tensor ActorLoss(Tape tape, S2acPolicy policy, Tensor obs, ReadOnlySpan<float> eps, out ActorSample sample, out Tensor qPi)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(policy);
        var o = policy.Options;
        int b = obs.Rows, p = o.Particles;
        sample = policy.Pi.Sample(tape, policy.Q1, policy.Q2, obs, eps, differentiable: true, withLogProb: true);
        qPi = tape.Mean(tape.Reshape(policy.MinQ(tape, tape.RepeatEachRow(obs, p), sample.Action), b, p), 1);
        return tape.Mean(tape.Sub(tape.Mul(sample.LogProb!, o.Alpha), qPi));
    }

    /// <summary>Step 3 (amortized S2AC) on states [start, start + rows): u_i = f(s, ξ_i) (pre-tanh); f's parameters move
    /// along Σ_i ∂u_i/∂θ · φ(u_i), φ the Stein direction of the squashed action's density at those particles
    /// (<see cref="SteinSampler.Direction"/>; a vector-Jacobian product with −φ / B as the seed of a loss to
    /// minimise).</summary>
    private void SamplerBackward(Tape tape, S2acPolicy policy, ReplayBatch batch, int start, int rows, ReadOnlySpan<float> xi)
    {
        var o = Options;
        int s = o.ObsDim, p = o.Particles;
        tape.Reset();
        var obs = tape.RepeatEachRow(tape.Input(batch.Obs.AsSpan(start * s, rows * s), rows, s), p);
        var a = policy.Pi.Amortized(tape, obs, tape.Input(xi, rows * p, o.ActDim));
        var phi = policy.Pi.Stein.Direction(tape, policy.Q1, policy.Q2, obs, a, o.ActLimit);
        var seed = phi.Values;
        var scale = -1f / batch.Size;
        for (var i = 0; i < seed.Length; i++) seed[i] *= scale;
        tape.Backward(a, seed);
    }

    private void AddReplicaGradients(Func<Shard, IReadOnlyList<Tensor>> parameters)
    {
        var primary = parameters(_shards[0]);
        for (var k = 1; k < _count; k++)
        {
            var replica = parameters(_shards[k]);
            for (var i = 0; i < primary.Count; i++)
                System.Numerics.Tensors.TensorPrimitives.Add(primary[i].Grad, replica[i].Grad, primary[i].Grad);
        }
    }

    private void EnsureNoiseBuffers(int batchSize)
    {
        var n = batchSize * Options.Particles * Options.ActDim;
        if (_epsNext.Length == n) return;
        _epsNext = new float[n];
        _epsPi = new float[n];
        _xi = new float[n];
    }

    private static float GlobalNorm(IReadOnlyList<Tensor> parameters)
    {
        var sum = 0.0;
        for (var i = 0; i < parameters.Count; i++) sum += GradientClipping.SumOfSquares(parameters[i]); // no enumerator: 0 B per update
        return GradientClipping.Norm(sum);
    }

    private static void ZeroGrad(IReadOnlyList<Tensor> parameters)
    {
        for (var i = 0; i < parameters.Count; i++) parameters[i].ZeroGrad();
    }

    private static void Freeze(IReadOnlyList<Tensor> parameters, bool frozen)
    {
        for (var i = 0; i < parameters.Count; i++) parameters[i].RequiresGrad = !frozen;
    }

    /// <summary>One thread's share: its tape and its networks (the primary ones for shard 0, else a replica).</summary>
    private sealed class Shard(S2acPolicy policy)
    {
        public Tape Tape { get; } = new();
        public S2acPolicy Policy { get; } = policy;
        public IReadOnlyList<Tensor> CriticParameters { get; } = [.. policy.Q1.Parameters(), .. policy.Q2.Parameters()];
        public IReadOnlyList<Tensor> ActorParameters { get; } = policy.Pi.P0?.Parameters() ?? [];
        public IReadOnlyList<Tensor> SamplerParameters { get; } = policy.Pi.Sampler?.Parameters() ?? [];
        public float Loss { get; set; }
    }
}
