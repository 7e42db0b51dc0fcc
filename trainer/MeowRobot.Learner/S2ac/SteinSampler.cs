using MeowRobot.Tensors;

namespace MeowRobot.Learner.S2ac;

/// <summary>The particles after the SVGD steps and what the steps tell about them.</summary>
/// <param name="Particles">a_L [B·P, A], pre-tanh, state-major (row b·P + p is particle p of state b).</param>
/// <param name="LogDensityChange">Σ over the steps of −lr (t1 + t2) per particle [B·P, 1] (null when not asked).</param>
/// <param name="LastQ">min(Q1, Q2) at the particles before the last step [B·P, 1] (the official "max" action selection
/// picks the particle with the highest); null when there are no steps.</param>
public readonly record struct SteinParticles(Tensor Particles, Tensor? LogDensityChange, Tensor? LastQ);

/// <summary>
/// Stein variational gradient descent on the soft Q landscape, the S2AC actor: P particles per state move L times
/// along φ(x_j) = (1/P) Σ_i [k(x_i, x_j) ∇ₓ min(Q1, Q2)(s, x_i) + ∇ₓᵢ k(x_i, x_j)] with an RBF kernel whose bandwidth
/// follows the particles (h = mean squared distance / 2 / (2 ln(P + 1)), no gradient), and the closed-form change of
/// log-density of each step, −lr (t1 + t2) with t1_i = Σ_j ∇ₓ k_ij · score_j / (P − 1) and
/// t2_j = −2γ Σ_i (2γ d_ij k_ij − A (k_ij − [i = j])) / (P − 1). Differentiable through every step when asked (the
/// score is then itself a gradient with a graph: the actor loss differentiates the critics' input gradient).
/// </summary>
public sealed class SteinSampler(int particles, int steps, float learningRate, int actDim)
{
    private float[] _gamma = [];

    public int ParticleCount { get; } = particles;
    public int Steps { get; } = steps;
    public float LearningRate { get; } = learningRate;

    /// <summary>
    /// Runs the steps from <paramref name="x0"/> for states <paramref name="obs"/> (both [B·P, ·], state-major). With
    /// <paramref name="differentiable"/> the result carries the history of x0 and of every step (the actor loss); without
    /// it each step's score is a plain first-order gradient and the particles carry no history (the TD target). The
    /// critics' parameters are not differentiated here: freeze them (RequiresGrad = false) when the caller back-propagates
    /// a loss that must not reach them.
    /// </summary>
    public SteinParticles Run(Tape tape, Critic q1, Critic q2, Tensor obs, Tensor x0, bool differentiable, bool withLogProb)
    {
        int n = x0.Rows, p = ParticleCount;
        if (n % p != 0) throw new ArgumentException($"{n} particles do not split into groups of {p}", nameof(x0));
        if (Steps == 0) return new SteinParticles(x0, null, null);
        var x = x0;
        Tensor? logp = null, lastQ = null;
        // The states do not move: each critic's observation block serves every step.
        ObservationBlock s1 = q1.ObservationPart(tape, obs), s2 = q2.ObservationPart(tape, obs);
        if (differentiable)
        {
            for (var t = 0; t < Steps; t++)
            {
                lastQ = tape.Minimum(q1.Forward(tape, s1, x), q2.Forward(tape, s2, x));
                x = Step(tape, x, tape.Grad(tape.Sum(lastQ), x, createGraph: true), withLogProb, ref logp);
            }
            return new SteinParticles(x, logp, lastQ);
        }
        // Without history each step is a fresh gradient root whose graph is dead once the particles, Q and the
        // log-density change are copied out, to two particle buffers taken in turn: every step then runs in the same arena
        // storage (a scratch scope), still in cache, instead of a new megabyte per hidden layer.
        Tensor even = tape.Zeros(n, x.Cols), odd = tape.Zeros(n, x.Cols);
        lastQ = tape.Zeros(n, 1);
        if (withLogProb) logp = tape.Zeros(n, 1);
        for (var t = 0; t < Steps; t++)
        {
            var next = t % 2 == 0 ? even : odd;
            using (tape.Scratch())
            {
                var root = tape.Input(x, requiresGrad: true);
                var q = tape.Minimum(q1.Forward(tape, s1, root), q2.Forward(tape, s2, root));
                var score = tape.Grad(tape.Sum(q), root);
                Tensor? change = null;
                using (tape.NoGrad()) Step(tape, root, score, withLogProb, ref change).Values.CopyTo(next.Values);
                q.Values.CopyTo(lastQ.Values);
                if (change is not null) System.Numerics.Tensors.TensorPrimitives.Add(logp!.Values, change.Values, logp.Values);
            }
            x = next;
        }
        return new SteinParticles(x, logp, lastQ);
    }

    /// <summary>
    /// The Stein direction φ at the amortized network's pre-tanh particles <paramref name="u"/> [B·P, A], with no history
    /// (what that network is trained to follow, Algorithm 2). Unlike the SVGD actor's steps (the official reading, critics
    /// at the pre-tanh particles), the score here is that of the action density the robot runs, exp(min Q(s, a)) with
    /// a = act_limit · tanh(u), written in u: ∇ᵤ min Q(s, act_limit · tanh(u)) + ∇ᵤ log |det da/du| = … − 2 tanh(u).
    /// The network is trained on its own outputs for the whole run, so read at its pre-tanh output the critics'
    /// extrapolation beyond the action box (never fitted, roughly linear) pushes it outward without end, until
    /// tanh(f(s, 0)) is ±act_limit everywhere (Hopper: a policy that tips over at once); through tanh the push fades at
    /// the box's edge and the Jacobian term brings the particles back.
    /// </summary>
    public Tensor Direction(Tape tape, Critic q1, Critic q2, Tensor obs, Tensor u, float actLimit)
    {
        u = tape.Input(u, requiresGrad: true);
        var squashed = tape.Tanh(u);
        var action = tape.Mul(squashed, actLimit);
        var score = tape.Grad(tape.Sum(tape.Minimum(q1.Forward(tape, obs, action), q2.Forward(tape, obs, action))), u);
        using (tape.NoGrad()) return Phi(tape, u, tape.Sub(score, tape.Mul(squashed, 2f)), out _, out _, out _);
    }

    /// <summary>φ(x_j) = (Σ_i k_ij score_i + Σ_i ∇ₓᵢ k_ij) / P, with the kernel's pieces for the log-density terms.</summary>
    private Tensor Phi(Tape tape, Tensor x, Tensor score, out Tensor d, out Tensor k, out Tensor twoGamma)
    {
        var p = ParticleCount;
        d = tape.PairwiseSquaredDistances(x, p);
        (var negGamma, twoGamma) = Bandwidth(tape, d);
        k = tape.Exp(tape.Mul(d, negGamma));
        // Σ_i ∇ₓᵢ k(x_i, x_j) = 2γ Σ_i k_ji (x_j − x_i) (k is symmetric).
        var kernelGradient = tape.Mul(tape.WeightedPairwiseDifferences(k, x, null, p), twoGamma);
        return tape.Div(tape.Add(tape.GroupMatMul(k, score, p), kernelGradient), p);
    }

    /// <summary>One SVGD step x + lr φ(x), and its change of log-density added to <paramref name="logp"/>.</summary>
    private Tensor Step(Tape tape, Tensor x, Tensor score, bool withLogProb, ref Tensor? logp)
    {
        var phi = Phi(tape, x, score, out var d, out var k, out var twoGamma);
        if (withLogProb)
        {
            var change = tape.Mul(Trace(tape, x, score, d, k, twoGamma), -LearningRate);
            logp = logp is null ? change : tape.Add(logp, change);
        }
        return tape.Add(x, tape.Mul(phi, LearningRate));
    }

    /// <summary>t1 + t2 of one step, [B·P, 1].</summary>
    private Tensor Trace(Tape tape, Tensor x, Tensor score, Tensor d, Tensor k, Tensor twoGamma)
    {
        var p = ParticleCount;
        var scale = 1f / (p - 1);
        // t1_i = Σ_j −2γ k_ij (x_i − x_j) · score_j / (P − 1)
        var t1 = tape.Mul(tape.Sum(tape.WeightedPairwiseDifferences(k, x, score, p), 1), tape.Mul(twoGamma, -scale));
        // t2_j = −2γ Σ_i (2γ d_ij k_ij − A (k_ij − [i = j])) / (P − 1)
        var kernelSum = tape.Sum(k, 1);
        var inner = tape.Sub(tape.Mul(tape.Sum(tape.Mul(d, k), 1), twoGamma), tape.Mul(tape.Sub(kernelSum, 1f), actDim));
        var t2 = tape.Mul(inner, tape.Mul(twoGamma, -scale));
        return tape.Add(t1, t2);
    }

    /// <summary>
    /// The kernel's γ per state from the squared distances (no gradient), as constants per particle row: −γ and 2γ.
    /// The official adaptive bandwidth: h = mean_ij(d) / 2 / (2 ln(P + 1)), σ = √h, γ = 1 / (1e-8 + 2σ²).
    /// </summary>
    private (Tensor NegGamma, Tensor TwoGamma) Bandwidth(Tape tape, Tensor d)
    {
        int n = d.Rows, p = ParticleCount;
        if (_gamma.Length < n) _gamma = new float[n];
        var dv = d.Values;
        var denominator = (float)(2 * Math.Log(p + 1.0));
        for (var s = 0; s < n / p; s++)
        {
            var sum = 0f;
            foreach (var v in dv.Slice(s * p * p, p * p)) sum += v;
            var h = sum / (p * p) / 2f / denominator;
            var sigma = MathF.Sqrt(h);
            var gamma = 1f / (1e-8f + 2f * (sigma * sigma));
            _gamma.AsSpan(s * p, p).Fill(gamma);
        }
        var negGamma = tape.Zeros(n, 1);
        var twoGamma = tape.Zeros(n, 1);
        var ng = negGamma.Values;
        var tg = twoGamma.Values;
        for (var i = 0; i < n; i++)
        {
            ng[i] = -_gamma[i];
            tg[i] = 2f * _gamma[i];
        }
        return (negGamma, twoGamma);
    }
}
