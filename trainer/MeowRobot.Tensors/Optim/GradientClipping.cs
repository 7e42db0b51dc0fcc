using System.Numerics.Tensors;

namespace MeowRobot.Tensors.Optim;

/// <summary>As <c>torch.nn.utils.clip_grad_norm_</c> (L2).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales every gradient by max_norm / (norm + 1e-6) when the global L2 norm of all gradients exceeds
    /// <paramref name="maxNorm"/>; returns the norm before clipping. Parameters without a gradient are ignored. A
    /// non-finite norm is returned as is and leaves the gradients untouched (PyTorch would scale them to NaN): check it.
    /// </summary>
    public static float ClipGradNorm(IReadOnlyList<Tensor> parameters, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        double sumSq = 0;
        for (var k = 0; k < parameters.Count; k++) // indexing, not foreach: an interface enumerator would allocate
            sumSq += SumOfSquares(parameters[k]);
        var norm = Norm(sumSq);
        var coef = Coefficient(norm, maxNorm);
        for (var k = 0; k < parameters.Count; k++) Scale(parameters[k], coef);
        return norm;
    }

    // The pieces of ClipGradNorm, for callers that split the parameters between threads: the per-tensor sums added in
    // tensor order give the same norm, and the scaling is per element.

    /// <summary>One gradient's sum of squares (a vectorised float sum, as torch.norm per gradient).</summary>
    public static double SumOfSquares(Tensor parameter) => TensorPrimitives.SumOfSquares((ReadOnlySpan<float>)parameter.Grad);

    /// <summary>The global norm from the gradients' sums of squares added (in double, in parameter order).</summary>
    public static float Norm(double sumOfSquares) => (float)Math.Sqrt(sumOfSquares);

    /// <summary>The factor every gradient is scaled by: below 1 when the norm exceeds <paramref name="maxNorm"/>, else 1
    /// (also for a non-finite norm: the gradients are left alone).</summary>
    public static float Coefficient(float norm, float maxNorm)
    {
        var coef = maxNorm / (norm + 1e-6f);
        return float.IsFinite(norm) && coef < 1f ? coef : 1f;
    }

    public static void Scale(Tensor parameter, float coefficient)
    {
        if (coefficient == 1f) return;
        var g = parameter.Grad;
        TensorPrimitives.Multiply(g, coefficient, g);
    }
}
