using System.Runtime.Intrinsics;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Tensors.Kernels;

/// <summary>
/// ELU (α = 1) and its first two derivatives, one vectorised pass each: a critic's hidden layers of a thousand particles
/// are a megabyte apiece, so the passes over them, not the arithmetic, are what an ELU costs. From y = elu(x):
/// elu'(x) = 1 where y ≥ 0, y + 1 (= e^x) below; elu''(x) = y + 1 where x ≤ 0, else 0 (PyTorch's x ≤ 0 branch at 0), and
/// x ≤ 0 exactly where y ≤ 0 (ELU keeps the sign, ±0 included), so neither derivative reads x: one stream fewer.
/// </summary>
internal static class EluKernel
{
    /// <summary>y = x where x ≥ 0, e^x − 1 below (as an expm1: <see cref="NonPositiveExp"/>).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        var i = 0;
        if (Vector512.IsHardwareAccelerated) i = Forward<Vector512<float>, Lanes512>(x, y, 0);
        else if (Vector256.IsHardwareAccelerated) i = Forward<Vector256<float>, Lanes256>(x, y, 0);
        Forward<float, Lanes1>(x, y, i);
    }

    /// <summary>dst = g · elu'(x) (or dst += when <paramref name="accumulate"/>), from y = elu(x).</summary>
    public static void SlopeTimes(ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> dst, bool accumulate)
    {
        var i = 0;
        if (Vector512.IsHardwareAccelerated) i = SlopeTimes<Vector512<float>, Lanes512>(y, g, dst, accumulate);
        else if (Vector256.IsHardwareAccelerated) i = SlopeTimes<Vector256<float>, Lanes256>(y, g, dst, accumulate);
        for (; i < y.Length; i++)
        {
            var v = g[i] * (y[i] >= 0f ? 1f : y[i] + 1f);
            dst[i] = accumulate ? dst[i] + v : v;
        }
    }

    /// <summary>dst = go · g · elu''(x) (or dst += when <paramref name="accumulate"/>), from y = elu(x).</summary>
    public static void CurvatureTimes(ReadOnlySpan<float> y, ReadOnlySpan<float> g, ReadOnlySpan<float> go, Span<float> dst, bool accumulate)
    {
        var i = 0;
        if (Vector512.IsHardwareAccelerated) i = CurvatureTimes<Vector512<float>, Lanes512>(y, g, go, dst, accumulate);
        else if (Vector256.IsHardwareAccelerated) i = CurvatureTimes<Vector256<float>, Lanes256>(y, g, go, dst, accumulate);
        for (; i < y.Length; i++)
            dst[i] = (accumulate ? dst[i] : 0f) + go[i] * g[i] * (y[i] <= 0f ? y[i] + 1f : 0f);
    }

    private static int Forward<TV, TL>(ReadOnlySpan<float> x, Span<float> y, int i) where TV : struct where TL : ILanes<TV>
    {
        for (; i <= x.Length - TL.Count; i += TL.Count) TL.Store(NonPositiveExp.Elu<TV, TL>(TL.Load(x, i)), y, i);
        return i;
    }

    private static int SlopeTimes<TV, TL>(ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> dst, bool accumulate) where TV : struct where TL : ILanes<TV>
    {
        var one = TL.Splat(1f);
        var i = 0;
        for (; i <= y.Length - TL.Count; i += TL.Count)
        {
            var yv = TL.Load(y, i);
            var v = TL.Multiply(TL.Load(g, i), TL.SelectNonNegative(yv, one, TL.Add(yv, one)));
            TL.Store(accumulate ? TL.Add(TL.Load(dst, i), v) : v, dst, i);
        }
        return i;
    }

    private static int CurvatureTimes<TV, TL>(ReadOnlySpan<float> y, ReadOnlySpan<float> g, ReadOnlySpan<float> go, Span<float> dst, bool accumulate)
        where TV : struct where TL : ILanes<TV>
    {
        var one = TL.Splat(1f);
        var zero = TL.Splat(0f);
        var i = 0;
        for (; i <= y.Length - TL.Count; i += TL.Count)
        {
            var yv = TL.Load(y, i);
            var curvature = TL.SelectNonNegative(TL.Subtract(zero, yv), TL.Add(yv, one), zero);
            var product = TL.Multiply(TL.Load(go, i), TL.Load(g, i));
            // + 0 keeps the value the accumulating form gives into a cleared buffer (−0 products become +0).
            TL.Store(TL.FusedMultiplyAdd(product, curvature, accumulate ? TL.Load(dst, i) : zero), dst, i);
        }
        return i;
    }
}
