using System.Numerics.Tensors;

namespace MeowRobot.Tensors;

/// <summary>
/// Elementwise binary operations with broadcasting: each dimension of each operand either matches the result or is 1
/// ([1, C] rows, [R, 1] columns and [1, 1] scalars broadcast; a vector [C] counts as a row [1, C]). Gradients of a
/// broadcast operand are summed over the dimensions it was broadcast along.
/// </summary>
public sealed partial class Tape
{
    public Tensor Add(Tensor a, Tensor b) => Binary(Op.Add, a, b);
    public Tensor Sub(Tensor a, Tensor b) => Binary(Op.Sub, a, b);
    public Tensor Mul(Tensor a, Tensor b) => Binary(Op.Mul, a, b);
    public Tensor Div(Tensor a, Tensor b) => Binary(Op.Div, a, b);

    /// <summary>Elementwise minimum; at ties each operand receives half the gradient (as PyTorch's minimum).</summary>
    public Tensor Minimum(Tensor a, Tensor b) => Binary(Op.Minimum, a, b);

    /// <summary>Elementwise maximum; at ties each operand receives half the gradient (as PyTorch's maximum).</summary>
    public Tensor Maximum(Tensor a, Tensor b) => Binary(Op.Maximum, a, b);

    private Tensor Binary(Op op, Tensor a, Tensor b)
    {
        Use(a);
        Use(b);
        var rows = BroadcastDim(a.Rows, b.Rows, a, b, op);
        var cols = BroadcastDim(a.Cols, b.Cols, a, b, op);
        var o = Alloc(rows, cols, a.Rank == 1 && b.Rank == 1 ? 1 : 2);
        var flat = RowsOf(o, a, b, out var r, out var c);
        var fa = flat ? default : ScratchA(c); // expansion rows for per-row scalars; unused when nothing broadcasts
        var fb = flat ? default : ScratchB(c);
        var ov = Val(o);
        for (var i = 0; i < r; i++)
        {
            var x = RowOf(a, i, c, fa, flat);
            var y = RowOf(b, i, c, fb, flat);
            var d = ov.Slice(i * c, c);
            switch (op)
            {
                case Op.Add: TensorPrimitives.Add(x, y, d); break;
                case Op.Sub: TensorPrimitives.Subtract(x, y, d); break;
                case Op.Mul: TensorPrimitives.Multiply(x, y, d); break;
                case Op.Div: TensorPrimitives.Divide(x, y, d); break;
                case Op.Minimum: TensorPrimitives.Min(x, y, d); break;
                case Op.Maximum: TensorPrimitives.Max(x, y, d); break;
                default: throw new InvalidOperationException(op.ToString());
            }
        }
        if (Tracks(a, b)) Record(op, o, a, b);
        return o;
    }

    private void BinaryBackward(ref Node n)
    {
        var a = n.A;
        var b = n.B!;
        var o = n.Out;
        var flat = RowsOf(o, a, b, out var r, out var c);
        var g = OutGrad(ref n);
        var ov = Val(o);
        var fa = flat ? default : ScratchA(c);
        var fb = flat ? default : ScratchB(c);
        var t = ScratchC(c);
        var ga = a.requiresGrad ? GradOf(a) : default;
        var gb = b.requiresGrad ? GradOf(b) : default;
        for (var i = 0; i < r; i++)
        {
            var gi = g.Slice(i * c, c);
            var x = RowOf(a, i, c, fa, flat);
            var y = RowOf(b, i, c, fb, flat);
            if (a.requiresGrad)
            {
                switch (n.Op)
                {
                    case Op.Add or Op.Sub: gi.CopyTo(t); break;
                    case Op.Mul: TensorPrimitives.Multiply(gi, y, t); break;
                    case Op.Div: TensorPrimitives.Divide(gi, y, t); break;
                    default: Selected(gi, x, y, t, n.Op == Op.Minimum ? -1 : 1); break;
                }
                Accumulate(a, ga, i, c, t, flat);
            }
            if (b.requiresGrad)
            {
                switch (n.Op)
                {
                    case Op.Add: gi.CopyTo(t); break;
                    case Op.Sub: TensorPrimitives.Negate(gi, t); break;
                    case Op.Mul: TensorPrimitives.Multiply(gi, x, t); break;
                    case Op.Div: // -g (a / b) / b
                        TensorPrimitives.Multiply(gi, ov.Slice(i * c, c), t);
                        TensorPrimitives.Divide(t, y, t);
                        TensorPrimitives.Negate(t, t);
                        break;
                    default: Selected(gi, y, x, t, n.Op == Op.Minimum ? -1 : 1); break;
                }
                Accumulate(b, gb, i, c, t, flat);
            }
        }
    }

    /// <summary>Gradient of min (sign -1) / max (sign +1) for the operand <paramref name="self"/>: all of it where self
    /// wins, half at ties, none where it loses.</summary>
    private static void Selected(ReadOnlySpan<float> g, ReadOnlySpan<float> self, ReadOnlySpan<float> other, Span<float> t, int sign)
    {
        for (var j = 0; j < t.Length; j++)
        {
            var d = (self[j] - other[j]) * sign;
            t[j] = d > 0 ? g[j] : d == 0 ? 0.5f * g[j] : 0f;
        }
    }

    /// <summary>Adds a row of contributions into the gradient of a possibly broadcast operand.</summary>
    private static void Accumulate(Tensor x, Span<float> gx, int row, int c, ReadOnlySpan<float> t, bool flat)
    {
        if (flat)
        {
            TensorPrimitives.Add(gx, t, gx);
            return;
        }
        var r = x.Rows == 1 ? 0 : row;
        if (x.Cols == c)
        {
            var dst = gx.Slice(r * x.Cols, c);
            TensorPrimitives.Add(dst, t, dst);
        }
        else gx[r] += TensorPrimitives.Sum(t);
    }

    /// <summary>How the result is walked: as one long row when neither operand broadcasts, else row by row.</summary>
    private static bool RowsOf(Tensor o, Tensor a, Tensor b, out int rows, out int cols)
    {
        var flat = a.Length == o.Length && b.Length == o.Length;
        rows = flat ? 1 : o.Rows;
        cols = flat ? o.Length : o.Cols;
        return flat;
    }

    /// <summary>Row <paramref name="i"/> of a broadcast operand, expanding a per-row scalar into <paramref name="fill"/>.</summary>
    private static ReadOnlySpan<float> RowOf(Tensor x, int i, int c, Span<float> fill, bool flat)
    {
        if (flat) return x.data.AsSpan(0, c);
        var r = x.Rows == 1 ? 0 : i;
        if (x.Cols == c) return x.data.AsSpan(r * c, c);
        fill.Fill(x.data[r]);
        return fill;
    }

    private static int BroadcastDim(int p, int q, Tensor a, Tensor b, Op op)
    {
        if (p == q || q == 1) return p;
        if (p == 1) return q;
        throw new ArgumentException($"{op}: shapes {a.ShapeString} and {b.ShapeString} do not broadcast");
    }
}
