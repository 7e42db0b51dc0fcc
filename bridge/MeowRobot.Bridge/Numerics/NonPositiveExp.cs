using System.Runtime.CompilerServices;

namespace MeowRobot.Bridge.Numerics;

/// <summary>
/// e^t for t ≤ 0 in float arithmetic at any width (.NET's vector Exp widens every lane to double), as two parts:
/// e^t = (q + 1) · 2ⁿ, so that both e^t and e^t − 1 = q · 2ⁿ + (2ⁿ − 1) (one FMA, no cancellation near 0: ELU's
/// negative side) come out within a few ulp. Cody–Waite reduction t = n·ln2 + r, |r| ≤ ln2/2, Cephes expf's minimax
/// polynomial for e^r, 2ⁿ built in the exponent field. t below -88 is taken as -88, whose 2ⁿ (n = -127) is +0: e^t
/// flushes to 0, an absolute error under 1e-38 (which spares the two-factor 2ⁿ that gradual underflow needs). NaN stays
/// NaN. A positive t is not its domain. The trainer's logistic function and ELU and the controller's MLP-actor runtime
/// all take their exponential from here, so the robot's actions are computed as the trainer computes them.
/// </summary>
public static class NonPositiveExp
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

    /// <summary>ELU (α = 1): x where x ≥ 0, e^x − 1 below (as an expm1 of min(x, 0), so a positive x never overflows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Elu<TVec, TL>(TVec x)
        where TVec : struct
        where TL : ILanes<TVec>
    {
        var zero = TL.Splat(0f);
        var q = Parts<TVec, TL>(TL.Subtract(zero, TL.Max(TL.Subtract(zero, x), zero)), out var scale);
        return TL.SelectNonNegative(x, x, TL.FusedMultiplyAdd(q, scale, TL.Subtract(scale, TL.Splat(1f))));
    }
}
