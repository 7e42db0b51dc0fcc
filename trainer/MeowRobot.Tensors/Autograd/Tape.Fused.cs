using System.Numerics;
using System.Numerics.Tensors;

namespace MeowRobot.Tensors;

/// <summary>Fused layers: one pass forward, one pass backward, intermediate values kept in the arena.</summary>
public sealed partial class Tape
{
    /// <summary>Layer normalisation over each row (biased variance, as <c>torch.nn.LayerNorm</c>), then the optional
    /// affine weight and bias (vectors of the row length).</summary>
    public Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f)
    {
        Use(x);
        var c = x.Cols;
        if (weight is not null)
        {
            Use(weight);
            if (weight.Length != c) throw new ArgumentException($"LayerNorm: weight {weight.ShapeString} does not match rows of {x.ShapeString}");
        }
        if (bias is not null)
        {
            Use(bias);
            if (bias.Length != c) throw new ArgumentException($"LayerNorm: bias {bias.ShapeString} does not match rows of {x.ShapeString}");
        }
        var o = AllocLike(x);
        var xhat = AllocLike(x);
        var rstd = Alloc(x.Rows, 1);
        var xv = Val(x);
        var ov = Val(o);
        var hv = Val(xhat);
        var rv = Val(rstd);
        var wv = weight is null ? default : (ReadOnlySpan<float>)Val(weight);
        var bv = bias is null ? default : (ReadOnlySpan<float>)Val(bias);
        for (var i = 0; i < x.Rows; i++)
            rv[i] = LayerNormRow(xv.Slice(i * c, c), wv, bv, eps, hv.Slice(i * c, c), ov.Slice(i * c, c));
        if (Tracks(x, weight, bias))
        {
            ref var n = ref Record(Op.LayerNorm, o, x, weight, bias);
            n.Aux = xhat;
            n.Aux2 = rstd;
        }
        return o;
    }

    /// <summary>One row: h = (x - mean) rstd (biased variance), y = h w + b; returns rstd. Three fused passes.</summary>
    private static float LayerNormRow(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, float eps, Span<float> h, Span<float> y)
    {
        var c = x.Length;
        var lanes = Vector<float>.Count;
        var vs = Vector<float>.Zero;
        var j = 0;
        for (; j <= c - lanes; j += lanes) vs += new Vector<float>(x[j..]);
        var sum = Vector.Sum(vs);
        for (; j < c; j++) sum += x[j];
        var mean = sum / c;
        var vq = Vector<float>.Zero;
        j = 0;
        for (; j <= c - lanes; j += lanes)
        {
            var d = new Vector<float>(x[j..]) - new Vector<float>(mean);
            d.CopyTo(h[j..]);
            vq += d * d;
        }
        var sq = Vector.Sum(vq);
        for (; j < c; j++)
        {
            var d = x[j] - mean;
            h[j] = d;
            sq += d * d;
        }
        var rstd = 1f / MathF.Sqrt(sq / c + eps);
        j = 0;
        for (; j <= c - lanes; j += lanes)
        {
            var hj = new Vector<float>(h[j..]) * rstd;
            hj.CopyTo(h[j..]);
            if (!w.IsEmpty) hj *= new Vector<float>(w[j..]);
            if (!b.IsEmpty) hj += new Vector<float>(b[j..]);
            hj.CopyTo(y[j..]);
        }
        for (; j < c; j++)
        {
            var hj = h[j] * rstd;
            h[j] = hj;
            if (!w.IsEmpty) hj *= w[j];
            if (!b.IsEmpty) hj += b[j];
            y[j] = hj;
        }
        return rstd;
    }

    private void LayerNormBackward(ref Node n)
    {
        var x = n.A;
        var w = n.B;
        var b = n.C;
        var c = x.Cols;
        var g = OutGrad(ref n);
        var hv = Val(n.Aux!);
        var rv = Val(n.Aux2!);
        var gw = w is { requiresGrad: true } ? GradOf(w) : default;
        var gb = b is { requiresGrad: true } ? GradOf(b) : default;
        var gx = x.requiresGrad ? GradOf(x) : default;
        var wv = w is null ? default : (ReadOnlySpan<float>)Val(w);
        for (var i = 0; i < x.Rows; i++)
            LayerNormRowBackward(g.Slice(i * c, c), hv.Slice(i * c, c), wv, rv[i], gx.IsEmpty ? default : gx.Slice(i * c, c), gw, gb);
    }

    /// <summary>
    /// One row: dw += g h, db += g, and dx += rstd (dh - mean(dh) - h mean(dh h)) with dh = g w, in two fused passes
    /// (dh recomputed rather than stored).
    /// </summary>
    private static void LayerNormRowBackward(ReadOnlySpan<float> g, ReadOnlySpan<float> h, ReadOnlySpan<float> w, float rstd, Span<float> gx,
        Span<float> gw, Span<float> gb)
    {
        var c = g.Length;
        var lanes = Vector<float>.Count;
        var affine = !w.IsEmpty;
        Vector<float> vs = default, vsh = default;
        var j = 0;
        for (; j <= c - lanes; j += lanes)
        {
            var gj = new Vector<float>(g[j..]);
            var hj = new Vector<float>(h[j..]);
            if (!gw.IsEmpty) (new Vector<float>(gw[j..]) + gj * hj).CopyTo(gw[j..]);
            if (!gb.IsEmpty) (new Vector<float>(gb[j..]) + gj).CopyTo(gb[j..]);
            var dh = affine ? gj * new Vector<float>(w[j..]) : gj;
            vs += dh;
            vsh += dh * hj;
        }
        float sum = Vector.Sum(vs), sumH = Vector.Sum(vsh);
        for (; j < c; j++)
        {
            if (!gw.IsEmpty) gw[j] += g[j] * h[j];
            if (!gb.IsEmpty) gb[j] += g[j];
            var dh = affine ? g[j] * w[j] : g[j];
            sum += dh;
            sumH += dh * h[j];
        }
        if (gx.IsEmpty) return;
        var meanDh = sum / c;
        var meanDhH = sumH / c;
        j = 0;
        for (; j <= c - lanes; j += lanes)
        {
            var dh = new Vector<float>(g[j..]);
            if (affine) dh *= new Vector<float>(w[j..]);
            var d = (dh - new Vector<float>(meanDh) - new Vector<float>(h[j..]) * meanDhH) * rstd + new Vector<float>(gx[j..]);
            d.CopyTo(gx[j..]);
        }
        for (; j < c; j++)
        {
            var dh = affine ? g[j] * w[j] : g[j];
            gx[j] += (dh - meanDh - h[j] * meanDhH) * rstd;
        }
    }

    /// <summary>Swish with a learnable slope per column: x · sigmoid(β x), β a vector of the row length.</summary>
    public Tensor Swish(Tensor x, Tensor beta)
    {
        Use(x);
        Use(beta);
        var c = x.Cols;
        if (beta.Length != c) throw new ArgumentException($"Swish: beta {beta.ShapeString} does not match rows of {x.ShapeString}");
        var o = AllocLike(x);
        var s = AllocLike(x);
        var xv = Val(x);
        var sv = Val(s);
        var bv = Val(beta);
        for (var i = 0; i < x.Rows; i++) TensorPrimitives.Multiply(xv.Slice(i * c, c), bv, sv.Slice(i * c, c));
        TensorPrimitives.Sigmoid(sv, sv);
        TensorPrimitives.Multiply(xv, sv, Val(o));
        if (Tracks(x, beta)) Record(Op.Swish, o, x, beta).Aux = s;
        return o;
    }

    private void SwishBackward(ref Node n)
    {
        var x = n.A;
        var beta = n.B!;
        var c = x.Cols;
        var g = OutGrad(ref n);
        var xv = Val(x);
        var sv = Val(n.Aux!);
        var bv = Val(beta);
        var gx = x.requiresGrad ? GradOf(x) : default;
        var gbeta = beta.requiresGrad ? GradOf(beta) : default;
        for (var i = 0; i < x.Rows; i++)
        {
            var o = i * c;
            SwishRowBackward(g.Slice(o, c), xv.Slice(o, c), sv.Slice(o, c), bv,
                gx.IsEmpty ? default : gx.Slice(o, c), gbeta);
        }
    }

    /// <summary>With t = x s (1 - s): dx += g (s + β t), dβ += g x t; one fused pass.</summary>
    private static void SwishRowBackward(ReadOnlySpan<float> g, ReadOnlySpan<float> x, ReadOnlySpan<float> s, ReadOnlySpan<float> beta,
        Span<float> gx, Span<float> gbeta)
    {
        var lanes = Vector<float>.Count;
        var j = 0;
        for (; j <= g.Length - lanes; j += lanes)
        {
            var gj = new Vector<float>(g[j..]);
            var xj = new Vector<float>(x[j..]);
            var sj = new Vector<float>(s[j..]);
            var t = xj * sj * (Vector<float>.One - sj);
            if (!gx.IsEmpty) (new Vector<float>(gx[j..]) + gj * (sj + new Vector<float>(beta[j..]) * t)).CopyTo(gx[j..]);
            if (!gbeta.IsEmpty) (new Vector<float>(gbeta[j..]) + gj * xj * t).CopyTo(gbeta[j..]);
        }
        for (; j < g.Length; j++)
        {
            var t = x[j] * s[j] * (1f - s[j]);
            if (!gx.IsEmpty) gx[j] += g[j] * (s[j] + beta[j] * t);
            if (!gbeta.IsEmpty) gbeta[j] += g[j] * x[j] * t;
        }
    }

    /// <summary>Training-mode dropout: zeroes each element with probability <paramref name="p"/> (drawn from
    /// <paramref name="rng"/>) and scales the rest by 1/(1-p). p = 0 returns <paramref name="x"/> itself.</summary>
    public Tensor Dropout(Tensor x, float p, Rng rng)
    {
        Use(x);
        ArgumentNullException.ThrowIfNull(rng);
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), "dropout probability must be in [0, 1)");
        if (p == 0f) return x;
        var o = AllocLike(x);
        var mask = AllocLike(x);
        var mv = Val(mask);
        var keep = 1f / (1f - p);
        rng.FillDropoutMask(mv, p, keep);
        TensorPrimitives.Multiply(Val(x), mv, Val(o));
        if (Tracks(x)) Record(Op.Dropout, o, x).Aux = mask;
        return o;
    }

    private void DropoutBackward(ref Node n)
    {
        if (!n.A.requiresGrad) return;
        var gx = GradOf(n.A);
        TensorPrimitives.MultiplyAdd(OutGrad(ref n), Val(n.Aux!), gx, gx);
    }
}
