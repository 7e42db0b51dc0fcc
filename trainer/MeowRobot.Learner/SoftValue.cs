using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>The exact soft value: V_k(s) = α log ∫ exp(Q_k(s, a)/α) da, which the flow gives in closed form (no sampling).</summary>
public sealed partial class FlowPolicy
{
    /// <summary>V_k(s), [N, 1], for k ∈ {1, 2}: α·(Σ log σ(s) + ½ A log 2π + b_k(s)).</summary>
    public Tensor SoftValue(Tape tape, Tensor obs, int k) =>
        tape.Mul(tape.Add(LogNormalizer(tape, Prior.LogSigma(tape, obs)), Shift.Shift(tape, obs, k)), Shape.Alpha);

    /// <summary>V1 and V2 sharing one prior pass.</summary>
    public (Tensor V1, Tensor V2) SoftValue(Tape tape, Tensor obs)
    {
        var normalizer = LogNormalizer(tape, Prior.LogSigma(tape, obs));
        return (tape.Mul(tape.Add(normalizer, Shift.Shift(tape, obs, 1)), Shape.Alpha),
                tape.Mul(tape.Add(normalizer, Shift.Shift(tape, obs, 2)), Shape.Alpha));
    }
}
