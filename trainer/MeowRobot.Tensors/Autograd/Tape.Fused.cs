namespace MeowRobot.Tensors;

/// <summary>Fused layers: each is one stage of the activation op (Tape.Activation.cs), so the standalone layers and
/// the fused hidden block run the same row kernels.</summary>
public sealed partial class Tape
{
    /// <summary>Layer normalisation over each row (biased variance, as <c>torch.nn.LayerNorm</c>), then the optional
    /// affine weight and bias (vectors of the row length).</summary>
    public Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f) =>
        Activation(x, true, weight, bias, eps, null, 0f, null);

    /// <summary>Swish with a learnable slope per column: x · sigmoid(β x), β a vector of the row length.</summary>
    public Tensor Swish(Tensor x, Tensor beta)
    {
        ArgumentNullException.ThrowIfNull(beta);
        return Activation(x, false, null, null, 0f, beta, 0f, null);
    }

    /// <summary>Training-mode dropout: zeroes each element with probability <paramref name="p"/> (drawn from
    /// <paramref name="rng"/>) and scales the rest by 1/(1-p). p = 0 returns <paramref name="x"/> itself.</summary>
    public Tensor Dropout(Tensor x, float p, Rng rng)
    {
        Use(x);
        ArgumentNullException.ThrowIfNull(rng);
        CheckDropout(p);
        return p == 0f ? x : Activation(x, false, null, null, 0f, null, p, rng);
    }

    /// <summary>
    /// The element-wise part of a hidden block in one op: [LayerNorm(<paramref name="normWeight"/>,
    /// <paramref name="normBias"/>, <paramref name="eps"/>) when <paramref name="layerNorm"/>] → Swish(<paramref name="beta"/>)
    /// → [Dropout(<paramref name="dropout"/>) when it is above 0]. Same values and gradients as the three ops in a row
    /// (the dropout mask is drawn from <paramref name="rng"/> exactly as <see cref="Dropout"/> draws it), but one pass
    /// per row each way, three fewer arena tensors and no intermediate gradient buffers. Pass dropout 0 in evaluation
    /// mode: nothing is drawn.
    /// </summary>
    public Tensor HiddenActivation(Tensor x, bool layerNorm, Tensor? normWeight, Tensor? normBias, float eps, Tensor beta, float dropout, Rng? rng)
    {
        ArgumentNullException.ThrowIfNull(beta);
        CheckDropout(dropout);
        if (dropout > 0f) ArgumentNullException.ThrowIfNull(rng);
        return Activation(x, layerNorm, normWeight, normBias, eps, beta, dropout, rng);
    }

    private static void CheckDropout(float p)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), "dropout probability must be in [0, 1)");
    }
}
