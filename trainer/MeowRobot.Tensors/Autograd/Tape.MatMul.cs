using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors;

public sealed partial class Tape
{
    /// <summary>op(a) · op(b), where op transposes when asked: a [M, K] (or [K, M] with transposeA), b [K, N] (or [N, K]
    /// with transposeB); result [M, N].</summary>
    public Tensor MatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        Use(a);
        Use(b);
        var (m, ka) = transposeA ? (a.Cols, a.Rows) : (a.Rows, a.Cols);
        var (kb, nn) = transposeB ? (b.Cols, b.Rows) : (b.Rows, b.Cols);
        if (ka != kb) throw new ArgumentException($"MatMul: {a.ShapeString}{(transposeA ? "^T" : "")} · {b.ShapeString}{(transposeB ? "^T" : "")} do not match");
        var o = Alloc(m, nn);
        Gemm.Multiply(m, nn, ka, Val(a), a.Cols, transposeA, Val(b), b.Cols, transposeB, Val(o), nn, accumulate: false);
        if (Tracks(a, b))
        {
            ref var n = ref Record(Op.MatMul, o, a, b);
            n.I0 = transposeA ? 1 : 0;
            n.I1 = transposeB ? 1 : 0;
        }
        return o;
    }

    /// <summary>PyTorch's linear: x Wᵀ + b with x [B, in], W [out, in], b [out] (optional); result [B, out].</summary>
    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        Use(x);
        Use(weight);
        if (x.Cols != weight.Cols) throw new ArgumentException($"Linear: input {x.ShapeString} does not match weight {weight.ShapeString} (expects [*, {weight.Cols}])");
        return LinearColumns(x, weight, 0, bias);
    }

    /// <summary>
    /// A linear layer over a block of the weight's input columns: x · W[:, first..first+in)ᵀ + b, x [B, in], W [out, ≥ first+in];
    /// result [B, out]. A layer whose input is a concatenation [u, v] equals LinearColumns(u, W, 0, b) +
    /// LinearColumns(v, W, u.Cols): each part may then run on its own number of rows, and no concatenation is built.
    /// </summary>
    public Tensor LinearColumns(Tensor x, Tensor weight, int firstColumn, Tensor? bias = null) => LinearColumns(x, weight, firstColumn, bias, null);

    /// <summary>
    /// <see cref="LinearColumns(Tensor, Tensor, int, Tensor?)"/> plus <paramref name="addend"/> [N, out] on every row, its
    /// rows repeated when x has k·N rows (row i of x gets addend row i mod N): the other block of a split layer, computed
    /// once per state, added to a block that runs on k copies of the batch. The addend seeds the product's accumulators,
    /// so neither the repeated rows nor the sum are separate tensors.
    /// </summary>
    public Tensor LinearColumns(Tensor x, Tensor weight, int firstColumn, Tensor? bias, Tensor? addend)
    {
        Use(x);
        Use(weight);
        if (firstColumn < 0 || firstColumn + x.Cols > weight.Cols)
            throw new ArgumentException($"Linear: input {x.ShapeString} from weight column {firstColumn} does not fit weight {weight.ShapeString}");
        var outF = weight.Rows;
        if (bias is not null)
        {
            Use(bias);
            if (bias.Length != outF) throw new ArgumentException($"Linear: bias {bias.ShapeString} does not match weight {weight.ShapeString}");
        }
        var o = Alloc(x.Rows, outF);
        var repeated = false;
        if (addend is not null)
        {
            Use(addend);
            if (addend.Cols != outF || x.Rows % addend.Rows != 0)
                throw new ArgumentException($"Linear: addend {addend.ShapeString} does not repeat to [{x.Rows}, {outF}]", nameof(addend));
            // One copy seeds the tiles in place; repeated copies are laid out first.
            repeated = addend.Rows != x.Rows;
            if (repeated) Repeat(Val(addend), Val(o));
        }
        Gemm.Multiply(x.Rows, outF, x.Cols, Val(x), x.Cols, false, Val(weight)[firstColumn..], weight.Cols, true, Val(o), outF,
            accumulate: repeated, rowBias: bias is null ? default : Val(bias), seed: addend is null || repeated ? default : Val(addend));
        if (Tracks(x, weight, bias) || (addend is not null && Tracks(addend)))
        {
            ref var n = ref Record(Op.Linear, o, x, weight, bias);
            n.D = addend;
            n.I0 = firstColumn;
        }
        return o;
    }

    private void MatMulBackward(ref Node n)
    {
        var a = n.A;
        var b = n.B!;
        var ta = n.I0 == 1;
        var tb = n.I1 == 1;
        var g = OutGrad(ref n);
        int m = n.Out.Rows, nn = n.Out.Cols, k = ta ? a.Rows : a.Cols;
        if (a.requiresGrad)
        {
            // Rows of a whose gradient is not needed get none: zeroed rows of g, which the product then skips.
            if (!ta)
            {
                if (a.zeroRowsNeedNoGradient) ClearRowsWhereZero(g, m, nn, Val(a), k);
                Gemm.Multiply(m, k, nn, g, nn, false, Val(b), b.Cols, !tb, GradOf(a), k, accumulate: true);
            }
            else Gemm.Multiply(k, m, nn, Val(b), b.Cols, tb, g, nn, true, GradOf(a), m, accumulate: true);
        }
        if (b.requiresGrad)
        {
            if (!tb) Gemm.Multiply(k, nn, m, Val(a), a.Cols, !ta, g, nn, false, GradOf(b), nn, accumulate: true);
            else Gemm.Multiply(nn, k, m, g, nn, true, Val(a), a.Cols, ta, GradOf(b), k, accumulate: true);
        }
    }

    /// <summary>Clears the rows of <paramref name="g"/> [rows, width] where <paramref name="x"/> [rows, cols] is all ±0, in
    /// place: g is this step's working storage (given back after it), and b's gradient aᵀg does not see those rows (a's
    /// are zero there).</summary>
    private static void ClearRowsWhereZero(Span<float> g, int rows, int width, ReadOnlySpan<float> x, int cols)
    {
        for (var r = 0; r < rows; r++)
            if (System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(x.Slice(r * cols, cols)) == 0f) g.Slice(r * width, width).Clear();
    }

    private void LinearBackward(ref Node n)
    {
        var x = n.A;
        var w = n.B!;
        var bias = n.C;
        var g = OutGrad(ref n);
        int rows = x.Rows, inF = x.Cols, outF = w.Rows, first = n.I0;
        if (x.requiresGrad)
        {
            var gx = GradOf(x, out var overwrite);
            Gemm.Multiply(rows, inF, outF, g, outF, false, Val(w)[first..], w.Cols, false, gx, inF, accumulate: !overwrite);
        }
        if (w.requiresGrad) Gemm.Multiply(outF, inF, rows, g, outF, true, Val(x), inF, false, GradOf(w)[first..], w.Cols, accumulate: true);
        if (bias is not null && bias.requiresGrad) ColumnSums.AddTo(g, GradOf(bias));
        if (n.D is { requiresGrad: true } addend)
        {
            var ga = GradOf(addend, out var overwrite);
            SumCopies(g, ga, overwrite);
        }
    }
}
