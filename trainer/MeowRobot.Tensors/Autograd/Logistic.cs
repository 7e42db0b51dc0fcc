using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Tensors;

/// <summary>
/// The logistic function 1 / (1 + e^-x) in float arithmetic at any width, saturating cleanly: e = e^-|x| lies in [0, 1]
/// so nothing overflows; σ = 1/(1+e) for x ≥ 0 and e/(1+e) below, so small negative-side results keep their relative
/// accuracy. Within a few ulp of the exact value (see the accuracy test) for x ≥ -87.68; below that e^-|x| (under
/// 2^-126.5) is flushed to 0 (<see cref="NonPositiveExp"/>), so σ(x) is 0 for x &lt; -87.68 (for x ≥ 0 it is 1 where
/// e^-x is under half an ulp anyway). NaN stays NaN.
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
        else if (Vector256.IsHardwareAccelerated)
            for (; j <= x.Length - 8; j += 8) Lanes256.Store(Of<Vector256<float>, Lanes256>(Lanes256.Load(x, j)), y, j);
        for (; j < x.Length; j++) y[j] = Of<float, Lanes1>(x[j]);
    }
}
