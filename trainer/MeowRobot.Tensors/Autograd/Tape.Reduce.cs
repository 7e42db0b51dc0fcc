using System.Numerics.Tensors;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors;

/// <summary>Sums and means. Results keep two dimensions (PyTorch's keepdim=True): over dim 0 (the rows) gives [1, C],
/// over dim 1 (the columns) gives [R, 1], over everything gives [1, 1]. A vector counts as one row.</summary>
public sealed partial class Tape
{
    public Tensor Sum(Tensor x) => Reduce(x, -1, 1f);
    public Tensor Sum(Tensor x, int dim) => Reduce(x, CheckDim(dim), 1f);
    public Tensor Mean(Tensor x) => Reduce(x, -1, 1f / x.Length);
    public Tensor Mean(Tensor x, int dim) => Reduce(x, CheckDim(dim), 1f / (dim == 0 ? x.Rows : x.Cols));

    private Tensor Reduce(Tensor x, int dim, float scale)
    {
        Use(x);
        var o = dim switch { 0 => Alloc(1, x.Cols), 1 => Alloc(x.Rows, 1), _ => Alloc(1, 1) };
        var xv = Val(x);
        var ov = Val(o);
        switch (dim)
        {
            case 0:
                ov.Clear();
                ColumnSums.AddTo(xv, ov);
                if (scale != 1f) TensorPrimitives.Multiply(ov, scale, ov);
                break;
            case 1:
                for (var i = 0; i < x.Rows; i++) ov[i] = TensorPrimitives.Sum(xv.Slice(i * x.Cols, x.Cols)) * scale;
                break;
            default:
                ov[0] = TensorPrimitives.Sum(xv) * scale;
                break;
        }
        if (Tracks(x))
        {
            ref var n = ref Record(Op.Sum, o, x);
            n.I0 = dim;
            n.S0 = scale;
        }
        return o;
    }

    private void ReduceBackward(ref Node n)
    {
        var x = n.A;
        if (!x.requiresGrad) return;
        var g = OutGrad(ref n);
        var gx = GradOf(x);
        var c = x.Cols;
        switch (n.I0)
        {
            case 0:
                var row = ScratchA(c);
                TensorPrimitives.Multiply(g, n.S0, row);
                for (var i = 0; i < x.Rows; i++)
                {
                    var d = gx.Slice(i * c, c);
                    TensorPrimitives.Add(d, row, d);
                }
                break;
            case 1:
                for (var i = 0; i < x.Rows; i++)
                {
                    var d = gx.Slice(i * c, c);
                    TensorPrimitives.Add(d, g[i] * n.S0, d);
                }
                break;
            default:
                TensorPrimitives.Add(gx, g[0] * n.S0, gx);
                break;
        }
    }

    private static int CheckDim(int dim) =>
        dim is 0 or 1 ? dim : throw new ArgumentOutOfRangeException(nameof(dim), "dim is 0 (rows) or 1 (columns)");
}
