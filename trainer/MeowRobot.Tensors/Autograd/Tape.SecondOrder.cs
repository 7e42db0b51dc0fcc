using System.Numerics.Tensors;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors;

/// <summary>The operations a create-graph backward pass records besides the ordinary ones: ELU's backward step and the
/// broadcast that undoes a sum.</summary>
public sealed partial class Tape
{
    /// <summary>
    /// x broadcast to [rows, cols] (x is [1, cols], [rows, 1] or [1, 1]), as <c>x.expand(rows, cols)</c>; the gradient
    /// sums over the broadcast dimensions.
    /// </summary>
    public Tensor Expand(Tensor x, int rows, int cols)
    {
        Use(x);
        if ((x.Rows != rows && x.Rows != 1) || (x.Cols != cols && x.Cols != 1))
            throw new ArgumentException($"Expand: {x.ShapeString} does not broadcast to [{rows}, {cols}]");
        var o = Alloc(rows, cols);
        var xv = Val(x);
        var ov = Val(o);
        for (var i = 0; i < rows; i++)
        {
            var row = ov.Slice(i * cols, cols);
            if (x.Cols == cols) xv.Slice(x.Rows == 1 ? 0 : i * cols, cols).CopyTo(row);
            else row.Fill(xv[x.Rows == 1 ? 0 : i]);
        }
        if (Tracks(x)) Record(Op.Expand, o, x);
        return o;
    }

    private void ExpandBackward(ref Node n)
    {
        var x = n.A;
        if (!x.requiresGrad) return;
        var g = OutGrad(ref n);
        var gx = GradOf(x);
        int rows = n.Out.Rows, cols = n.Out.Cols;
        for (var i = 0; i < rows; i++)
        {
            var row = g.Slice(i * cols, cols);
            if (x.Cols == cols)
            {
                var d = gx.Slice(x.Rows == 1 ? 0 : i * cols, cols);
                TensorPrimitives.Add(d, row, d);
            }
            else gx[x.Rows == 1 ? 0 : i] += TensorPrimitives.Sum(row);
        }
    }

    /// <summary>
    /// ELU's backward step g · elu'(x) as a differentiable op (<paramref name="y"/> = elu(x), saved by the forward pass):
    /// elu'(x) = min(y + 1, 1), and its own derivative in x is elu''(x) = e^x = y + 1 below 0, 0 above. Recorded by a
    /// create-graph backward pass in one elementwise pass instead of four; its own backward is first order only.
    /// </summary>
    internal Tensor EluGrad(Tensor g, Tensor x, Tensor y)
    {
        var o = AllocLike(x);
        EluKernel.SlopeTimes(Val(y), Val(g), Val(o), accumulate: false);
        if (Tracks(g, x))
        {
            ref var n = ref Record(Op.EluGrad, o, g, x);
            n.Aux = y;
            // ∂/∂x = go · g · elu''(x): where g's row is zero, and so o's, go's row is not needed (min(Q1, Q2)'s losing critic).
            o.zeroRowsNeedNoGradient = !g.requiresGrad;
        }
        return o;
    }

    private void EluGradBackward(ref Node n)
    {
        Tensor g = n.A, x = n.B!, y = n.Aux!;
        var go = OutGrad(ref n);
        // Fresh gradient buffers are written outright: no clearing pass over them first.
        if (g.requiresGrad)
        {
            var gg = GradOf(g, out var overwrite);
            EluKernel.SlopeTimes(Val(y), go, gg, accumulate: !overwrite);
        }
        if (x.requiresGrad)
        {
            var gx = GradOf(x, out var overwrite);
            EluKernel.CurvatureTimes(Val(y), Val(g), go, gx, accumulate: !overwrite);
        }
    }
}
