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
        // Per tensor a vectorised float sum of squares (as torch.norm per gradient), across tensors in double.
        for (var k = 0; k < parameters.Count; k++) // indexing, not foreach: an interface enumerator would allocate
            sumSq += TensorPrimitives.SumOfSquares((ReadOnlySpan<float>)parameters[k].Grad);
        var norm = (float)Math.Sqrt(sumSq);
        var coef = maxNorm / (norm + 1e-6f);
        if (float.IsFinite(norm) && coef < 1f)
            for (var k = 0; k < parameters.Count; k++)
            {
                var g = parameters[k].Grad;
                TensorPrimitives.Multiply(g, coef, g);
            }
        return norm;
    }
}
