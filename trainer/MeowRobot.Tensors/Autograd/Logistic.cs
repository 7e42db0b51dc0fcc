using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Tensors;

/// <summary>
/// The logistic function 1 / (1 + e^-x) in float arithmetic at any width, within a few ulp of the exact value (see the
/// accuracy test), saturating cleanly: e = e^-|x| lies in [0, 1] so nothing overflows; σ = 1/(1+e) for x ≥ 0 and
/// e/(1+e) below, so tiny negative-side results keep their relative accuracy down to gradual underflow. NaN stays NaN.
/// </summary>
internal static class Logistic
{
    private const float Log2E = 1.44269504088896341f;
    // ln 2 split so that n·Ln2Hi is exact for |n| ≤ 150 (Cody–Waite); Cephes' expf constants.
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    // Below e^-104 the result is under half the smallest subnormal: clamping there keeps 2ⁿ in range.
    private const float MinExponent = -104f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Of<TVec, TL>(TVec x)
        where TVec : struct
        where TL : ILanes<TVec>
    {
        var one = TL.Splat(1f);
        var t = TL.Max(TL.Subtract(TL.Splat(0f), TL.Abs(x)), TL.Splat(MinExponent));
        var n = TL.Round(TL.Multiply(t, TL.Splat(Log2E)));
        var r = TL.FusedMultiplyAdd(n, TL.Splat(-Ln2Hi), t);
        r = TL.FusedMultiplyAdd(n, TL.Splat(-Ln2Lo), r);
        // e^r on |r| ≤ ln2/2: Cephes expf's minimax polynomial (about 1 ulp).
        var p = TL.Splat(1.9875691500e-4f);
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(1.3981999507e-3f));
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(8.3334519073e-3f));
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(4.1665795894e-2f));
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(1.6666665459e-1f));
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(5.0000001201e-1f));
        var e = TL.Add(TL.FusedMultiplyAdd(p, TL.Multiply(r, r), r), one);
        // 2ⁿ (n ≥ -150) as two normal factors: the first product is exact, the second rounds once, into the subnormals
        // when it must.
        var n1 = TL.Round(TL.Multiply(n, TL.Splat(0.5f)));
        e = TL.Multiply(TL.Multiply(e, TL.Pow2(n1)), TL.Pow2(TL.Subtract(n, n1)));
        return TL.Divide(TL.SelectNonNegative(x, one, e), TL.Add(one, e));
    }

    /// <summary>y = σ(x) element-wise (the tests' entry point to the kernel).</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("destination too short", nameof(y));
        var j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j <= x.Length - 16; j += 16) Lanes512.Store(Of<Vector512<float>, Lanes512>(Lanes512.Load(x, j)), y, j);
        for (; j < x.Length; j++) y[j] = Of<float, Lanes1>(x[j]);
    }
}
