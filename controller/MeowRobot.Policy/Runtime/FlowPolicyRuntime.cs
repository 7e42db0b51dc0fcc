using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MeowRobot.Policy.Files;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Policy.Runtime;

/// <summary>The deterministic MEow action a = f(E[z] | s) for the control loop: z = 0 pushed through the additive couplings,
/// then tanh, then action scaling if the file has it (observation normalisation first, if it has that). Keeps only the
/// coupling networks (the prior and reward shifts do not affect the deterministic action), packed at load for SIMD
/// (Vector512, Vector256 or Vector128, whichever the CPU runs natively, with FMA).
/// <para><see cref="Act"/> makes no managed allocation. An instance owns its scratch, so one thread at a time may use it;
/// <see cref="Clone"/> gives another thread its own scratch over the same (immutable, shared) weights.</para>
/// <para>Non-finite observations are not checked here (they propagate to the action): the safety envelope owns that.</para></summary>
public sealed class FlowPolicyRuntime : IPolicyRuntime
{
    private readonly PackedFlow _flow;
    private readonly float[] _obs, _pre, _h0, _h1, _t, _z, _zIn;

    private FlowPolicyRuntime(PackedFlow flow)
    {
        _flow = flow;
        _obs = new float[flow.ObsDim];
        _pre = new float[flow.FirstLayer.OutPadded];
        _h0 = new float[flow.HiddenPadded];
        _h1 = new float[flow.HiddenPadded];
        _t = new float[flow.Couplings.Max(c => c.Output.OutPadded)];
        _z = new float[flow.ActDim];
        _zIn = new float[flow.ActDim];
    }

    /// <summary>Packs a validated policy for inference at the widest vector width the CPU accelerates.</summary>
    public static FlowPolicyRuntime Create(PolicyFile policy) => Create(policy, NativeLanes);

    /// <summary>Packs for a given vector width in floats: 16 (Vector512), 8 (Vector256) or 4 (Vector128). For comparing
    /// widths (e.g. on CPUs that slow their clock for AVX-512) and for testing every kernel; a width the CPU does not
    /// accelerate works but is slow.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lanes"/> is not 4, 8 or 16.</exception>
    public static FlowPolicyRuntime Create(PolicyFile policy, int lanes) => new(new PackedFlow(policy, lanes));

    /// <summary>The widest vector width, in floats, that this CPU accelerates (what <see cref="Create(PolicyFile)"/> uses).</summary>
    public static int NativeLanes => PolicyRuntime.NativeLanes;

    /// <summary>A runtime over the same packed weights with its own scratch (for another thread).</summary>
    public FlowPolicyRuntime Clone() => new(_flow);

    IPolicyRuntime IPolicyRuntime.Clone() => Clone();

    public PolicyMetadata Metadata => _flow.Metadata;
    public int ObsDim => _flow.ObsDim;
    public int ActDim => _flow.ActDim;

    /// <summary>Vector width in floats that the packed weights were laid out for.</summary>
    public int Lanes => _flow.Lanes;

    /// <summary>Writes the deterministic action for <paramref name="observation"/> into <paramref name="action"/>.</summary>
    /// <exception cref="ArgumentException">Span lengths differ from <see cref="ObsDim"/>/<see cref="ActDim"/>.</exception>
    // Fully optimised from the first call: no tier-up (and its bookkeeping) later, in the middle of a control loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Act(ReadOnlySpan<float> observation, Span<float> action)
    {
        if (observation.Length != _flow.ObsDim || action.Length != _flow.ActDim)
            throw new ArgumentException($"expected observation[{_flow.ObsDim}] and action[{_flow.ActDim}], got [{observation.Length}] and [{action.Length}]");
        switch (_flow.Lanes)
        {
            case 16: Compute<Lanes512, Vector512<float>>(observation, action); break;
            case 8: Compute<Lanes256, Vector256<float>>(observation, action); break;
            default: Compute<Lanes128, Vector128<float>>(observation, action); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Compute<TOps, TVec>(ReadOnlySpan<float> observation, Span<float> action)
        where TOps : struct, ILanes<TVec> where TVec : struct
    {
        var f = _flow;
        var s = observation;
        if (f.ObsScale is { } scale)
        {
            var shift = f.ObsShift!;
            for (var i = 0; i < s.Length; i++) _obs[i] = Math.Clamp(s[i] * scale[i] + shift[i], -f.ObsClip, f.ObsClip);
            s = _obs;
        }

        // The s-part of every coupling's first layer at once: one GEMV with all couplings' rows stacked.
        f.FirstLayer.Apply<TOps, TVec>(s, f.FirstLayer.Bias, _pre);
        var z = _z.AsSpan();
        z.Clear();
        var hp = f.HiddenPadded;
        for (var k = 0; k < f.Couplings.Length; k++)
        {
            var c = f.Couplings[k];
            var h = _h0.AsSpan();
            var spare = _h1.AsSpan();
            _pre.AsSpan(k * hp, hp).CopyTo(h);
            // z-part of the first layer: only the columns the mask keeps (b = 1); z is still all zero at coupling 0.
            if (k > 0 && c.Active.Length > 0)
            {
                for (var i = 0; i < c.Active.Length; i++) _zIn[i] = z[c.Active[i]];
                c.ZPart.Apply<TOps, TVec>(_zIn, h, h);
            }
            NormSwish<TOps, TVec>(h, c.Activations[0], f);
            for (var l = 0; l < c.Hidden.Length; l++)
            {
                c.Hidden[l].Apply<TOps, TVec>(h, c.Hidden[l].Bias, spare);
                NormSwish<TOps, TVec>(spare, c.Activations[l + 1], f);
                var done = spare;
                spare = h;
                h = done;
            }
            // z' = b z + (1 − b)(z + t): only the entries with b = 0 move, by t.
            c.Output.Apply<TOps, TVec>(h, c.Output.Bias, _t);
            for (var i = 0; i < c.Updated.Length; i++) z[c.Updated[i]] += _t[i];
        }

        for (var j = 0; j < action.Length; j++)
        {
            var a = Math.Clamp(MathF.Tanh(z[j]), -1f, 1f);
            action[j] = f.ActionCenter is { } center ? center[j] + f.ActionHalfRange![j] * a : a;
        }
    }

    // [LayerNorm (biased variance, eps 1e-5)] then Swish x·sigmoid(βx), in place over the padded hidden vector.
    // Padding lanes hold 0 and stay 0 (zero gamma/beta), and are masked out of the variance.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NormSwish<TOps, TVec>(Span<float> h, Activation act, PackedFlow f)
        where TOps : struct, ILanes<TVec> where TVec : struct
    {
        ref var hr = ref MemoryMarshal.GetReference(h);
        ref var beta = ref MemoryMarshal.GetArrayDataReference(act.SwishBeta);
        var l = (nuint)TOps.Count;
        var n = (nuint)h.Length;
        var one = TOps.Splat(1f);
        if (act.Gamma is { } gammaArray)
        {
            ref var gamma = ref MemoryMarshal.GetArrayDataReference(gammaArray);
            ref var shift = ref MemoryMarshal.GetArrayDataReference(act.Beta!);
            ref var mask = ref MemoryMarshal.GetArrayDataReference(f.ValidMask);
            var sum = TOps.Splat(0f);
            for (nuint i = 0; i < n; i += l) sum = TOps.Add(sum, TOps.Load(ref hr, i));
            var mean = TOps.Splat(TOps.Sum(sum) / f.Hidden);
            var sq = TOps.Splat(0f);
            for (nuint i = 0; i < n; i += l)
            {
                var d = TOps.Multiply(TOps.Subtract(TOps.Load(ref hr, i), mean), TOps.Load(ref mask, i));
                sq = TOps.FusedMultiplyAdd(d, d, sq);
            }
            var inv = TOps.Splat(1f / MathF.Sqrt(TOps.Sum(sq) / f.Hidden + LayerNormEpsilon));
            for (nuint i = 0; i < n; i += l)
            {
                var y = TOps.FusedMultiplyAdd(TOps.Multiply(TOps.Subtract(TOps.Load(ref hr, i), mean), inv), TOps.Load(ref gamma, i), TOps.Load(ref shift, i));
                TOps.Store(Swish<TOps, TVec>(y, TOps.Load(ref beta, i), one), ref hr, i);
            }
        }
        else
        {
            for (nuint i = 0; i < n; i += l) TOps.Store(Swish<TOps, TVec>(TOps.Load(ref hr, i), TOps.Load(ref beta, i), one), ref hr, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Swish<TOps, TVec>(TVec x, TVec beta, TVec one)
        where TOps : struct, ILanes<TVec> where TVec : struct =>
        TOps.Divide(x, TOps.Add(one, TOps.Exp(TOps.Multiply(TOps.Subtract(TOps.Splat(0f), beta), x))));

    /// <summary>PyTorch LayerNorm's default epsilon, which the official MLP uses.</summary>
    internal const float LayerNormEpsilon = 1e-5f;
}
