using MeowRobot.Tensors;

namespace MeowRobot.Learner.Flow;

/// <summary>The final tanh that maps the flow's output into the action box [−1, 1]^A.</summary>
public static class Squash
{
    /// <summary>Where the inverse clamps actions before atanh, so that ±1 stays finite.</summary>
    public const float Bound = 1f - 1e-5f;

    /// <summary>float32 machine epsilon (torch.finfo(torch.float32).eps), inside the log-det's logarithm.</summary>
    public const float Eps = 1.1920929e-7f;

    /// <summary>a = clamp(tanh u, −1, 1).</summary>
    public static Tensor Forward(Tape tape, Tensor u) => tape.Clamp(tape.Tanh(u), -1f, 1f);

    /// <summary>u = atanh(clamp(a, ±(1 − 1e−5))) and the log-det −Σ log(1 − a² + ε) over each row ([N, 1]) that the squash
    /// contributes to the action's log-density.</summary>
    public static (Tensor U, Tensor LogDet) Inverse(Tape tape, Tensor act)
    {
        var a = tape.Clamp(act, -Bound, Bound);
        return (tape.Atanh(a), LogDet(tape, a));
    }

    /// <summary>−Σ log(1 − a² + ε) over each row of <paramref name="a"/>, [N, 1].</summary>
    public static Tensor LogDet(Tape tape, Tensor a) =>
        tape.Neg(tape.Sum(tape.Log(tape.Add(tape.Sub(1f, tape.Square(a)), Eps)), 1));
}
