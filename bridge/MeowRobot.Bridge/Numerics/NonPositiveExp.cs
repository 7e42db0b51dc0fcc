using System.Runtime.CompilerServices;

namespace MeowRobot.Bridge.Numerics;

/// <summary>
/// e^t for t ≤ 0 in float arithmetic at any width: the logistic function's e^-|x| and ELU's e^min(x, 0) - 1. .NET's
/// vector Exp widens to double for every lane; this stays in float: Cody–Waite reduction t = n·ln2 + r, |r| ≤ ln2/2,
/// Cephes expf's minimax polynomial for e^r (about 1 ulp), and 2ⁿ built in the exponent field. Below -88 the result is
/// flushed to +0 (an absolute error under 1e-38, which spares the two-factor 2ⁿ that gradual underflow needs); NaN stays
/// NaN. A positive t is not its domain.
/// </summary>
public static class NonPositiveExp
{
    private const float Log2E = 1.44269504088896341f;
    // ln 2 split so that n·Ln2Hi is exact for |n| ≤ 150 (Cody–Waite); Cephes' expf constants.
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    // -88 rounds to n = -127, whose 2ⁿ built in the exponent field is +0: the flush to zero (and the clamp keeps n in range).
    private const float MinExponent = -88f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Of<TVec, TL>(TVec t)
        where TVec : struct
        where TL : ILanes<TVec>
    {
        t = TL.Max(t, TL.Splat(MinExponent));
        var n = TL.Round(TL.Multiply(t, TL.Splat(Log2E)));
        var r = TL.FusedMultiplyAdd(n, TL.Splat(-Ln2Hi), t);
        r = TL.FusedMultiplyAdd(n, TL.Splat(-Ln2Lo), r);
        var p = TL.Splat(1.9875691500e-4f);
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(1.3981999507e-3f));
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(8.3334519073e-3f));
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(4.1665795894e-2f));
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(1.6666665459e-1f));
        p = TL.FusedMultiplyAdd(p, r, TL.Splat(5.0000001201e-1f));
        // 2ⁿ for n in [-127, 0]: one factor, one rounding (into the subnormals for n = -126; 0 for n = -127).
        return TL.Multiply(TL.Add(TL.FusedMultiplyAdd(p, TL.Multiply(r, r), r), TL.Splat(1f)), TL.Pow2(n));
    }
}
