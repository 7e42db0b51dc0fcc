using MeowRobot.Learner.Flow;
using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>The soft Q-function and the policy it defines: Q_k(s, a) = α·(log-density terms of a + b_k(s)), π ∝ exp(Q/α).</summary>
public sealed partial class FlowPolicy
{
    /// <summary>Q_k(s, a), [N, 1], for k ∈ {1, 2}: α·(−½ Σ (z/σ)² − Σ log(1 − a² + ε) + b_k(s)).</summary>
    public Tensor SoftQ(Tape tape, Tensor obs, Tensor act, int k) =>
        tape.Mul(tape.Add(UnnormalizedLogDensity(tape, obs, act, Prior.LogSigma(tape, obs)), Shift.Shift(tape, obs, k)), Shape.Alpha);

    /// <summary>Q1 and Q2 on one flow pass (both see the same dropout masks).</summary>
    public (Tensor Q1, Tensor Q2) SoftQ(Tape tape, Tensor obs, Tensor act)
    {
        var density = UnnormalizedLogDensity(tape, obs, act, Prior.LogSigma(tape, obs));
        return (tape.Mul(tape.Add(density, Shift.Shift(tape, obs, 1)), Shape.Alpha),
                tape.Mul(tape.Add(density, Shift.Shift(tape, obs, 2)), Shape.Alpha));
    }

    /// <summary>
    /// [Q1; Q2] as the official training step computes them, [2N, 1]: the flow runs on the doubled batch [a; a] so that in
    /// training mode Q1 (rows 0..N−1) and Q2 (rows N..2N−1) see independent dropout masks. What has no dropout runs once on
    /// the N states: the prior, the squash's inverse, the shifts and the couplings' state-dependent first-layer parts.
    /// </summary>
    public Tensor StackedSoftQ(Tape tape, Tensor obs, Tensor act)
    {
        var logSigma = Prior.LogSigma(tape, obs);
        var density = UnnormalizedLogDensity(tape, obs, act, logSigma, copies: 2);
        var shifts = tape.Concat(0, Shift.Shift(tape, obs, 1), Shift.Shift(tape, obs, 2));
        return tape.Mul(tape.Add(density, shifts), Shape.Alpha);
    }

    /// <summary>log π(a | s), [N, 1] (the shifts cancel).</summary>
    public Tensor LogProb(Tape tape, Tensor obs, Tensor act)
    {
        var logSigma = Prior.LogSigma(tape, obs);
        return tape.Sub(UnnormalizedLogDensity(tape, obs, act, logSigma), LogNormalizer(tape, logSigma));
    }

    /// <summary>The deterministic action f(E[z] | s): z = 0 pushed through the couplings, then tanh; [N, A].</summary>
    public Tensor DeterministicAction(Tape tape, Tensor obs) =>
        Squash.Forward(tape, PushForward(tape, tape.Zeros(obs.Rows, Shape.ActDim), obs));

    /// <summary>A stochastic action a ~ π(· | s) and its log π, [N, A] and [N, 1]; the noise comes from <paramref name="rng"/>.</summary>
    public (Tensor Action, Tensor LogProb) Sample(Tape tape, Tensor obs, Rng rng)
    {
        var logSigma = Prior.LogSigma(tape, obs);
        var eps = tape.Zeros(obs.Rows, Shape.ActDim);
        rng.FillNormal(eps.Values);
        var logPrior = tape.Sub(tape.Mul(tape.Sum(tape.Square(eps), 1), -0.5f), LogNormalizer(tape, logSigma));
        var action = Squash.Forward(tape, PushForward(tape, tape.Mul(eps, tape.Exp(logSigma)), obs));
        return (action, tape.Add(logPrior, Squash.LogDet(tape, action)));
    }
}
