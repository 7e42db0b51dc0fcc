using System.Numerics;
using System.Numerics.Tensors;

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
        var ov = Val(o);
        EluSlope(Val(y), ov);
        TensorPrimitives.Multiply(ov, Val(g), ov);
        if (Tracks(g, x))
        {
            ref var n = ref Record(Op.EluGrad, o, g, x);
            n.Aux = y;
        }
        return o;
    }

    private void EluGradBackward(ref Node n)
    {
        Tensor g = n.A, x = n.B!, y = n.Aux!;
        var go = OutGrad(ref n);
        var t = ScratchA(go.Length);
        var yv = Val(y);
        if (g.requiresGrad)
        {
            var gg = GradOf(g);
            EluSlope(yv, t);
            TensorPrimitives.MultiplyAdd(go, t, gg, gg);
        }
        if (x.requiresGrad)
        {
            var gx = GradOf(x);
            EluCurvature(Val(x), yv, t);
            TensorPrimitives.Multiply(t, Val(g), t);
            TensorPrimitives.MultiplyAdd(go, t, gx, gx);
        }
    }

    /// <summary>elu'(x) from y = elu(x): min(y + 1, 1).</summary>
    private static void EluSlope(ReadOnlySpan<float> y, Span<float> slope)
    {
        TensorPrimitives.Add(y, 1f, slope);
        TensorPrimitives.Min(slope, 1f, slope);
    }

    /// <summary>elu''(x) from x and y = elu(x): y + 1 (= e^x) where x ≤ 0, else 0.</summary>
    private static void EluCurvature(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> curvature)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var w = Vector<float>.Count;
            var one = Vector<float>.One;
            for (; i <= x.Length - w; i += w)
            {
                var xv = new Vector<float>(x.Slice(i, w));
                var yv = new Vector<float>(y.Slice(i, w));
                Vector.ConditionalSelect(Vector.LessThanOrEqual(xv, Vector<float>.Zero), yv + one, Vector<float>.Zero).CopyTo(curvature.Slice(i, w));
            }
        }
        for (; i < x.Length; i++) curvature[i] = x[i] <= 0f ? y[i] + 1f : 0f;
    }
}
