using MeowRobot.Tensors;
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
/// every SVGD step (the score differentiated again); Adam over pi;</item>
/// <item>amortized sampler (when on): particles f(s, ξ) pushed along the Stein direction at them (Algorithm 2);</item>
/// <item>Polyak over every parameter: target ← polyak·target + (1 − polyak)·online.</item>
/// </list>
/// Noise: ε of a′ and of a, drawn within ±3 by rejection (<see cref="InitialDistribution.DrawNoise"/>), and ξ.
/// </summary>
public sealed class S2acUpdate
{
    private readonly Tape _tape = new();
    private readonly IReadOnlyList<Tensor> _onlineParameters, _targetParameters, _criticParameters, _actorParameters, _samplerParameters;
    private float[] _target = [], _epsNext = [], _epsPi = [], _xi = [];

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
        _actorParameters = online.Pi.P0.Parameters();
        _samplerParameters = online.Pi.Sampler?.Parameters() ?? [];
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
        var n = batch.Size * Options.Particles * Options.ActDim;
        if (_epsNext.Length != n)
        {
            _epsNext = new float[n];
            _epsPi = new float[n];
            _xi = new float[n];
        }
        InitialDistribution.DrawNoise(noise, _epsNext, Options.ActDim);
        InitialDistribution.DrawNoise(noise, _epsPi, Options.ActDim);
        if (SamplerAdam is not null) noise.FillNormal(_xi);
        return Step(batch, _epsNext, _epsPi, _xi);
    }

    /// <summary>One update with given noise: ε of a′ (<paramref name="epsNext"/>) and of a (<paramref name="epsPi"/>),
    /// [B·P·A] each, and ξ of the amortized sampler (ignored when it is off).</summary>
    public S2acStats Step(ReplayBatch batch, ReadOnlySpan<float> epsNext, ReadOnlySpan<float> epsPi, ReadOnlySpan<float> xi)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var o = Options;
        if (batch.ObsDim != o.ObsDim || batch.ActDim != o.ActDim)
            throw new ArgumentException($"batch is ({batch.ObsDim}, {batch.ActDim}), the networks ({o.ObsDim}, {o.ActDim})", nameof(batch));
        var particles = batch.Size * o.Particles * o.ActDim;
        if (epsNext.Length != particles || epsPi.Length != particles)
            throw new ArgumentException($"expected {particles} noise values per draw (batch × particles × action dims)");
        if (_target.Length != batch.Size) _target = new float[batch.Size];

        var (criticLoss, meanQ) = CriticStep(batch, epsNext);
        var criticNorm = GlobalNorm(_criticParameters);
        CriticAdam.Step();

        Freeze(_criticParameters, true);
        float actorLoss, actorNorm;
        try
        {
            actorLoss = ActorStep(batch, epsPi);
            actorNorm = GlobalNorm(_actorParameters);
            ActorAdam.Step();
            if (SamplerAdam is not null) SamplerStep(batch, xi);
        }
        finally
        {
            Freeze(_criticParameters, false);
        }

        Polyak.Update(_targetParameters, _onlineParameters, 1f - o.Polyak);
        Count++;
        var meanTarget = 0.0;
        foreach (var y in _target) meanTarget += y;
        return new S2acStats(criticLoss, criticNorm, actorLoss, actorNorm, meanQ, (float)(meanTarget / _target.Length));
    }

    /// <summary>Step 1: soft TD target from the online actor's particles and the target critics; Bellman loss; backward.</summary>
    private (float Loss, float MeanQ) CriticStep(ReplayBatch batch, ReadOnlySpan<float> epsNext)
    {
        var o = Options;
        int b = batch.Size, s = o.ObsDim, p = o.Particles;
        var tape = _tape;
        tape.Reset();
        var nextObs = tape.Input(batch.NextObs, b, s);
        var next = Online.Pi.Sample(tape, Online.Q1, Online.Q2, nextObs, epsNext, differentiable: false, withLogProb: true);
        using (tape.NoGrad())
        {
            var qNext = tape.Mean(tape.Reshape(Target.MinQ(tape, tape.RepeatEachRow(nextObs, p), next.Action), b, p), 1);
            ReadOnlySpan<float> qv = qNext.Values, logp = next.LogProb!.Values;
            for (var i = 0; i < b; i++)
                _target[i] = batch.Reward[i] + o.Gamma * (1f - batch.Done[i]) * (qv[i] - o.Alpha * logp[i]);
        }
        var obs = tape.Input(batch.Obs, b, s);
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

    /// <summary>Step 2: the actor loss through the SVGD steps (second order); backward into pi.</summary>
    private float ActorStep(ReplayBatch batch, ReadOnlySpan<float> epsPi)
    {
        var tape = _tape;
        tape.Reset();
        var loss = ActorLoss(tape, Online, tape.Input(batch.Obs, batch.Size, Options.ObsDim), epsPi, out _, out _);
        ActorAdam.ZeroGrad();
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

    /// <summary>Step 3 (amortized S2AC): a_i = f(s, ξ_i); f's parameters move along Σ_i ∂a_i/∂θ · φ(a_i), φ the Stein
    /// direction at those particles (a vector-Jacobian product with −φ / B as the seed of a loss to minimise).</summary>
    private void SamplerStep(ReplayBatch batch, ReadOnlySpan<float> xi)
    {
        var o = Options;
        int b = batch.Size, p = o.Particles;
        var tape = _tape;
        tape.Reset();
        var obs = tape.RepeatEachRow(tape.Input(batch.Obs, b, o.ObsDim), p);
        var a = Online.Pi.Amortized(tape, obs, tape.Input(xi, b * p, o.ActDim));
        var phi = Online.Pi.Stein.Direction(tape, Online.Q1, Online.Q2, obs, a);
        var seed = phi.Values;
        var scale = -1f / b;
        for (var i = 0; i < seed.Length; i++) seed[i] *= scale;
        SamplerAdam!.ZeroGrad();
        tape.Backward(a, seed);
        SamplerAdam.Step();
    }

    private static float GlobalNorm(IReadOnlyList<Tensor> parameters)
    {
        var sum = 0.0;
        foreach (var t in parameters) sum += GradientClipping.SumOfSquares(t);
        return GradientClipping.Norm(sum);
    }

    private static void Freeze(IReadOnlyList<Tensor> parameters, bool frozen)
    {
        foreach (var t in parameters) t.RequiresGrad = !frozen;
    }
}
