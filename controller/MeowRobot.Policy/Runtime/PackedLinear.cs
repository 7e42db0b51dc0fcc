using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Policy.Runtime;

/// <summary>A Linear layer y = W x + b packed for the GEMV kernel: W transposed into panels of output columns, each panel
/// [In][width] contiguous so the kernel streams it linearly with the panel's accumulators held in registers. Panels are
/// 4 vectors wide, then single vectors for the remainder; outputs are padded to whole vectors with zero weights and bias.</summary>
internal sealed class PackedLinear
{
    private readonly float[] _weights;

    /// <param name="weight">W[out, in] of the unpadded layer (out &lt; outCount, in &lt; inCount).</param>
    /// <param name="bias">b[out], or null for none.</param>
    public PackedLinear(int lanes, int inCount, int outCount, Func<int, int, float> weight, Func<int, float>? bias)
    {
        Lanes = lanes;
        In = inCount;
        OutPadded = (outCount + lanes - 1) / lanes * lanes;
        _weights = new float[In * OutPadded];
        Bias = new float[OutPadded];
        for (var o = 0; o < outCount; o++) Bias[o] = bias?.Invoke(o) ?? 0f;
        var at = 0;
        for (var panel = 0; panel < OutPadded;)
        {
            var width = OutPadded - panel >= 4 * lanes ? 4 * lanes : lanes;
            for (var i = 0; i < In; i++)
            {
                for (var c = 0; c < width; c++)
                    _weights[at++] = panel + c < outCount ? weight(panel + c, i) : 0f;
            }
            panel += width;
        }
    }

    public int Lanes { get; }
    public int In { get; }
    public int OutPadded { get; }
    public float[] Bias { get; }

    /// <summary>y[0..OutPadded) = init + W x. <paramref name="init"/> may be y itself (accumulate) or <see cref="Bias"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply<TOps, TVec>(ReadOnlySpan<float> x, ReadOnlySpan<float> init, Span<float> y)
        where TOps : struct, ILanes<TVec> where TVec : struct
    {
        if (x.Length < In || init.Length < OutPadded || y.Length < OutPadded || TOps.Count != Lanes)
            throw new ArgumentException("GEMV operands do not match the packed layer");
        ref var w = ref MemoryMarshal.GetArrayDataReference(_weights);
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var ir = ref MemoryMarshal.GetReference(init);
        ref var yr = ref MemoryMarshal.GetReference(y);
        var l = (nuint)Lanes;
        var n = (nuint)In;
        var outs = (nuint)OutPadded;
        nuint o = 0, wi = 0;
        for (; outs - o >= 4 * l; o += 4 * l)
        {
            var a0 = TOps.Load(ref ir, o);
            var a1 = TOps.Load(ref ir, o + l);
            var a2 = TOps.Load(ref ir, o + 2 * l);
            var a3 = TOps.Load(ref ir, o + 3 * l);
            for (nuint i = 0; i < n; i++, wi += 4 * l)
            {
                var xi = TOps.Splat(Unsafe.Add(ref xr, i));
                a0 = TOps.FusedMultiplyAdd(TOps.Load(ref w, wi), xi, a0);
                a1 = TOps.FusedMultiplyAdd(TOps.Load(ref w, wi + l), xi, a1);
                a2 = TOps.FusedMultiplyAdd(TOps.Load(ref w, wi + 2 * l), xi, a2);
                a3 = TOps.FusedMultiplyAdd(TOps.Load(ref w, wi + 3 * l), xi, a3);
            }
            TOps.Store(a0, ref yr, o);
            TOps.Store(a1, ref yr, o + l);
            TOps.Store(a2, ref yr, o + 2 * l);
            TOps.Store(a3, ref yr, o + 3 * l);
        }
        for (; o < outs; o += l)
        {
            // One vector of outputs: two accumulators over alternate inputs halve the FMA dependency chain.
            var a0 = TOps.Load(ref ir, o);
            var a1 = TOps.Splat(0f);
            nuint i = 0;
            for (; i + 1 < n; i += 2, wi += 2 * l)
            {
                a0 = TOps.FusedMultiplyAdd(TOps.Load(ref w, wi), TOps.Splat(Unsafe.Add(ref xr, i)), a0);
                a1 = TOps.FusedMultiplyAdd(TOps.Load(ref w, wi + l), TOps.Splat(Unsafe.Add(ref xr, i + 1)), a1);
            }
            if (i < n)
            {
                a0 = TOps.FusedMultiplyAdd(TOps.Load(ref w, wi), TOps.Splat(Unsafe.Add(ref xr, i)), a0);
                wi += l;
            }
            TOps.Store(TOps.Add(a0, a1), ref yr, o);
        }
    }
}
