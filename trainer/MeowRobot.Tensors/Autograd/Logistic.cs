using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Tensors;

/// <summary>
/// The logistic function 1 / (1 + e^-x) in float arithmetic at any width, saturating cleanly: e = e^-|x| lies in [0, 1]
/// so nothing overflows; σ = 1/(1+e) for x ≥ 0 and e/(1+e) below, so small negative-side results keep their relative
/// accuracy. Within a few ulp of the exact value (see the accuracy test) for x ≥ -87.68; below that e^-|x| (under
/// 2^-126.5) is flushed to 0, so σ(x) is 0 for x &lt; -87.68 (for x ≥ 0 it is 1 where e^-x is under half an ulp
/// anyway) — an absolute error under 1e-38, which spares the two-factor 2ⁿ that gradual underflow needs. NaN stays NaN.
/// </summary>
internal static class Logistic
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Of<TVec, TL>(TVec x)
        where TVec : struct
        where TL : ILanes<TVec>
    {
        var one = TL.Splat(1f);
        var q = NonPositiveExp.Parts<TVec, TL>(TL.Subtract(TL.Splat(0f), TL.Abs(x)), out var scale);
        var e = TL.Multiply(TL.Add(q, one), scale);
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

/// <summary>
/// e^t for t ≤ 0 in float arithmetic at any width, as two parts: e^t = (q + 1) · 2ⁿ, so that both e^t and e^t − 1 =
/// q · 2ⁿ + (2ⁿ − 1) (one FMA, no cancellation near 0: ELU's negative side) come out within a few ulp, in float
/// arithmetic throughout (<c>Vector512.Exp</c> works in double precision). t below -88 is taken as -88, whose 2ⁿ
/// (n = -127) is +0: e^t flushes to 0, an absolute error under 1e-38.
/// </summary>
internal static class NonPositiveExp
{
    private const float Log2E = 1.44269504088896341f;
    // ln 2 split so that n·Ln2Hi is exact for |n| ≤ 150 (Cody–Waite); Cephes' expf constants.
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    // -88 rounds to n = -127, whose 2ⁿ built in the exponent field is +0: the flush to zero (and the clamp keeps n in range).
    private const float MinExponent = -88f;

    /// <summary>q with e^t = (q + 1) · <paramref name="scale"/>, <paramref name="scale"/> = 2ⁿ (n in [-127, 0]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Parts<TVec, TL>(TVec t, out TVec scale)
        where TVec : struct
        where TL : ILanes<TVec>
    {
        t = TL.Max(t, TL.Splat(MinExponent));
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
        // 2ⁿ for n in [-127, 0]: one factor, one rounding (into the subnormals for n = -126; 0 for n = -127).
        scale = TL.Pow2(n);
        return TL.FusedMultiplyAdd(p, TL.Multiply(r, r), r);
    }
}
