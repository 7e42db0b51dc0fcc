using System.Numerics.Tensors;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors;

public sealed partial class Tape
{
    public Tensor Neg(Tensor x) => Unary(Op.Neg, x);
    public Tensor Exp(Tensor x) => Unary(Op.Exp, x);
    public Tensor Log(Tensor x) => Unary(Op.Log, x);
    public Tensor Tanh(Tensor x) => Unary(Op.Tanh, x);
    public Tensor Atanh(Tensor x) => Unary(Op.Atanh, x);
    public Tensor Sigmoid(Tensor x) => Unary(Op.Sigmoid, x);

    /// <summary>log(1 + e^x), and x itself above 20 (PyTorch's threshold).</summary>
    public Tensor Softplus(Tensor x) => Unary(Op.Softplus, x);

    public Tensor Square(Tensor x) => Unary(Op.Square, x);
    public Tensor Sqrt(Tensor x) => Unary(Op.Sqrt, x);
    public Tensor Relu(Tensor x) => Unary(Op.Relu, x);

    /// <summary>ELU with α = 1: x above 0, e^x − 1 otherwise (<c>torch.nn.ELU()</c>).</summary>
    public Tensor Elu(Tensor x) => Unary(Op.Elu, x);

    /// <summary>Clamps to [min, max]; the gradient is zero where the input lies outside (ends included pass it), as PyTorch.</summary>
    public Tensor Clamp(Tensor x, float min, float max)
    {
        if (!(min <= max)) throw new ArgumentException($"clamp needs min <= max, got [{min}, {max}]");
        return Unary(Op.Clamp, x, min, max);
    }

    public Tensor Add(Tensor x, float s) => Unary(Op.AddScalar, x, s);
    public Tensor Sub(Tensor x, float s) => Unary(Op.AddScalar, x, -s);
    public Tensor Mul(Tensor x, float s) => Unary(Op.MulScalar, x, s);
    public Tensor Div(Tensor x, float s) => Unary(Op.MulScalar, x, 1f / s);

    /// <summary>s - x.</summary>
    public Tensor Sub(float s, Tensor x) => Unary(Op.RSubScalar, x, s);

    private Tensor Unary(Op op, Tensor x, float s0 = 0, float s1 = 0)
    {
        Use(x);
        var o = AllocLike(x);
        UnaryForward(op, Val(x), Val(o), s0, s1);
        if (Tracks(x))
        {
            ref var n = ref Record(op, o, x);
            n.S0 = s0;
            n.S1 = s1;
        }
        return o;
    }

    private void UnaryForward(Op op, ReadOnlySpan<float> x, Span<float> y, float s0, float s1)
    {
        switch (op)
        {
            case Op.Neg: TensorPrimitives.Negate(x, y); break;
            case Op.Exp: TensorPrimitives.Exp(x, y); break;
            case Op.Log: TensorPrimitives.Log(x, y); break;
            case Op.Tanh: TensorPrimitives.Tanh(x, y); break;
            case Op.Atanh: TensorPrimitives.Atanh(x, y); break;
            case Op.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case Op.Softplus: Softplus(x, y); break;
            case Op.Square: TensorPrimitives.Multiply(x, x, y); break;
            case Op.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case Op.Relu: TensorPrimitives.Max(x, 0f, y); break;
            case Op.Elu: EluKernel.Forward(x, y); break;
            case Op.Clamp: TensorPrimitives.Min(x, s1, y); TensorPrimitives.Max(y, s0, y); break;
            case Op.AddScalar: TensorPrimitives.Add(x, s0, y); break;
            case Op.MulScalar: TensorPrimitives.Multiply(x, s0, y); break;
            case Op.RSubScalar: TensorPrimitives.Subtract(s0, x, y); break;
            default: throw new InvalidOperationException(op.ToString());
        }
    }

    /// <summary>
    /// softplus(x) = max(x, 0) + log1p(exp(-|x|)), vectorised; log1p(e) as log(u)·e/(u-1) with u = 1 + e (exact
    /// where 1 + e rounds, e itself where u = 1). Above 20 this is x to the last bit, PyTorch's threshold rule.
    /// </summary>
    private void Softplus(ReadOnlySpan<float> x, Span<float> y)
    {
        var e = ScratchB(x.Length);
        var u = ScratchC(x.Length);
        TensorPrimitives.Abs(x, e);
        TensorPrimitives.Negate(e, e);
        TensorPrimitives.Exp(e, e);     // e = exp(-|x|) in (0, 1]
        TensorPrimitives.Add(e, 1f, u); // u = 1 + e
        TensorPrimitives.Log(u, y);
        for (var i = 0; i < y.Length; i++)
        {
            var d = u[i] - 1f;
            y[i] = (d == 0f ? e[i] : y[i] * (e[i] / d)) + MathF.Max(x[i], 0f);
        }
    }

    private void UnaryBackward(ref Node n)
    {
        var x = n.A;
        if (!x.requiresGrad) return;
        ReadOnlySpan<float> g = OutGrad(ref n);
        var y = (ReadOnlySpan<float>)Val(n.Out);
        var xv = (ReadOnlySpan<float>)Val(x);
        var gx = GradOf(x);
        var t = ScratchA(g.Length);
        switch (n.Op)
        {
            case Op.Neg: TensorPrimitives.Subtract(gx, g, gx); return;
            case Op.Exp: TensorPrimitives.MultiplyAdd(g, y, gx, gx); return;
            case Op.Log: TensorPrimitives.Divide(g, xv, t); break;
            case Op.Tanh: // g (1 - y^2)
                TensorPrimitives.Multiply(y, y, t);
                TensorPrimitives.Subtract(1f, t, t);
                TensorPrimitives.MultiplyAdd(g, t, gx, gx);
                return;
            case Op.Atanh: // g / (1 - x^2)
                TensorPrimitives.Multiply(xv, xv, t);
                TensorPrimitives.Subtract(1f, t, t);
                TensorPrimitives.Divide(g, t, t);
                break;
            case Op.Sigmoid: // g y (1 - y)
                TensorPrimitives.Subtract(1f, y, t);
                TensorPrimitives.Multiply(t, y, t);
                TensorPrimitives.MultiplyAdd(g, t, gx, gx);
                return;
            case Op.Softplus: // g sigmoid(x); sigmoid rounds to exactly 1 above PyTorch's threshold of 20
                TensorPrimitives.Sigmoid(xv, t);
                TensorPrimitives.MultiplyAdd(g, t, gx, gx);
                return;
            case Op.Square: // 2 x g
                TensorPrimitives.Multiply(xv, 2f, t);
                TensorPrimitives.MultiplyAdd(g, t, gx, gx);
                return;
            case Op.Sqrt: // g / (2 y)
                TensorPrimitives.Multiply(y, 2f, t);
                TensorPrimitives.Divide(g, t, t);
                break;
            case Op.Relu:
                for (var i = 0; i < t.Length; i++) t[i] = xv[i] > 0f ? g[i] : 0f;
                break;
            case Op.Elu: EluKernel.SlopeTimes(y, g, gx, accumulate: true); return;
            case Op.Clamp:
                for (var i = 0; i < t.Length; i++) t[i] = xv[i] >= n.S0 && xv[i] <= n.S1 ? g[i] : 0f;
                break;
            case Op.AddScalar: TensorPrimitives.Add(gx, g, gx); return;
            case Op.MulScalar: TensorPrimitives.MultiplyAdd(g, n.S0, gx, gx); return;
            case Op.RSubScalar: TensorPrimitives.Subtract(gx, g, gx); return;
            default: throw new InvalidOperationException(n.Op.ToString());
        }
        TensorPrimitives.Add(gx, t, gx);
    }
}
