using System.Runtime.CompilerServices;
using MeowRobot.Bridge.Numerics;
using MeowRobot.Policy.Files;

namespace MeowRobot.Policy.Runtime;

/// <summary>
/// The deterministic action of an "MLP actor" policy for the control loop: a = scale ⊙ tanh(f(s)) + bias, f a small MLP
/// (ReLU for SAC's actor fc1 → fc2 → fc_mean; ELU for the amortized S2AC network f(s, ξ) at ξ = E[ξ] = 0, whose ξ
/// columns then drop out). Observation normalisation first when the file has it. Packed at load for SIMD like the flow
/// runtime (the same GEMV kernel, Vector512/256/128 with FMA); <see cref="Act"/> makes no managed allocation. One thread
/// at a time per instance; <see cref="Clone"/> gives another thread its own scratch over the same weights.
/// </summary>
public sealed class MlpActorRuntime : IPolicyRuntime
{
    private readonly PackedMlpActor _actor;
    private readonly float[] _obs, _h0, _h1, _out;

    private MlpActorRuntime(PackedMlpActor actor)
    {
        _actor = actor;
        _obs = new float[actor.ObsDim];
        var width = actor.Layers.Max(l => l.OutPadded);
        _h0 = new float[width];
        _h1 = new float[width];
        _out = new float[width];
    }

    /// <exception cref="UnsupportedPolicyException">Not a SAC or amortized S2AC policy.</exception>
    public static MlpActorRuntime Create(PolicyFile policy) => Create(policy, PolicyRuntime.NativeLanes);

    /// <inheritdoc cref="Create(PolicyFile)"/>
    public static MlpActorRuntime Create(PolicyFile policy, int lanes) => new(new PackedMlpActor(policy, lanes));

    public IPolicyRuntime Clone() => new MlpActorRuntime(_actor);

    public PolicyMetadata Metadata => _actor.Metadata;
    public int ObsDim => _actor.ObsDim;
    public int ActDim => _actor.ActDim;
    public int Lanes => _actor.Lanes;

    /// <summary>Writes the deterministic action for <paramref name="observation"/> into <paramref name="action"/>.</summary>
    /// <exception cref="ArgumentException">Span lengths differ from <see cref="ObsDim"/>/<see cref="ActDim"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Act(ReadOnlySpan<float> observation, Span<float> action)
    {
        if (observation.Length != _actor.ObsDim || action.Length != _actor.ActDim)
            throw new ArgumentException($"expected observation[{_actor.ObsDim}] and action[{_actor.ActDim}], got [{observation.Length}] and [{action.Length}]");
        switch (_actor.Lanes)
        {
            case 16: Compute<Lanes512, System.Runtime.Intrinsics.Vector512<float>>(observation, action); break;
            case 8: Compute<Lanes256, System.Runtime.Intrinsics.Vector256<float>>(observation, action); break;
            default: Compute<Lanes128, System.Runtime.Intrinsics.Vector128<float>>(observation, action); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Compute<TOps, TVec>(ReadOnlySpan<float> observation, Span<float> action)
        where TOps : struct, ILanes<TVec> where TVec : struct
    {
        var f = _actor;
        var s = observation;
        if (f.ObsScale is { } scale)
        {
            var shift = f.ObsShift!;
            for (var i = 0; i < s.Length; i++) _obs[i] = Math.Clamp(s[i] * scale[i] + shift[i], -f.ObsClip, f.ObsClip);
            s = _obs;
        }
        var layers = f.Layers;
        ReadOnlySpan<float> x = s;
        Span<float> h = _h0, spare = _h1;
        for (var l = 0; l < layers.Length - 1; l++)
        {
            var layer = layers[l];
            layer.Apply<TOps, TVec>(x, layer.Bias, h);
            Activate<TOps, TVec>(h[..layer.OutPadded], f.Elu);
            x = h;
            var done = h;
            h = spare;
            spare = done;
        }
        var last = layers[^1];
        last.Apply<TOps, TVec>(x, last.Bias, _out);
        for (var j = 0; j < action.Length; j++) action[j] = f.Bias[j] + f.Scale[j] * Math.Clamp(MathF.Tanh(_out[j]), -1f, 1f);
    }

    // ReLU max(x, 0), or ELU x for x ≥ 0 else exp(x) − 1 (exp of min(x, 0), so large x never overflows), in place.
    // Padding lanes hold 0 and stay 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Activate<TOps, TVec>(Span<float> h, bool elu)
        where TOps : struct, ILanes<TVec> where TVec : struct
    {
        ref var hr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(h);
        var l = (nuint)TOps.Count;
        var n = (nuint)h.Length;
        var zero = TOps.Splat(0f);
        if (!elu)
        {
            for (nuint i = 0; i < n; i += l) TOps.Store(TOps.Max(TOps.Load(ref hr, i), zero), ref hr, i);
            return;
        }
        // The trainer's ELU (EluKernel), so the robot's action is the trainer's to the bit on the same width.
        for (nuint i = 0; i < n; i += l) TOps.Store(NonPositiveExp.Elu<TVec, TOps>(TOps.Load(ref hr, i)), ref hr, i);
    }
}

/// <summary>The immutable, shareable part of an <see cref="MlpActorRuntime"/>: the actor's layers packed for one vector
/// width, observation normalisation folded into scale/shift, and the output map a = Scale ⊙ tanh + Bias.</summary>
internal sealed class PackedMlpActor
{
    public PackedMlpActor(PolicyFile policy, int lanes)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (lanes is not (4 or 8 or 16)) throw new ArgumentOutOfRangeException(nameof(lanes), "vector width must be 4, 8 or 16 floats");
        var m = policy.Metadata;
        Metadata = m;
        Lanes = lanes;
        ObsDim = m.ObsDim;
        ActDim = m.ActDim;
        IReadOnlyList<MlpLayer> net;
        switch (m.Algorithm)
        {
            case PolicyAlgorithm.Sac:
                net = SacLayout.Actor(m);
                (Scale, Bias) = (policy[SacLayout.ActionScale].Values, policy[SacLayout.ActionBias].Values);
                break;
            case PolicyAlgorithm.S2ac when m.S2ac.Actor == S2acActor.Amortized:
                net = S2acLayout.AmortizedActor(m);
                Elu = true;
                // act_limit · tanh, then the action box as the flow runtime maps it.
                var limit = (float)m.S2ac.ActLimit;
                var (center, halfRange) = m.ActionScale?.Affine() ?? (new float[ActDim], Enumerable.Repeat(1f, ActDim).ToArray());
                Scale = [.. halfRange.Select(h => h * limit)];
                Bias = center;
                break;
            case PolicyAlgorithm.S2ac:
                throw new UnsupportedPolicyException("an S2AC policy with the SVGD sampler has no one-pass deterministic action (its particles follow the critics' gradients); deploy the amortized actor (s2ac.actor = amortized)");
            default:
                throw new UnsupportedPolicyException($"a {m.Algorithm.Name()} policy is not an MLP actor");
        }
        // The first layer sees only the observation: an input beyond it (S2AC's ξ) sits at E[ξ] = 0 and contributes nothing.
        Layers = new PackedLinear[net.Count];
        for (var k = 0; k < net.Count; k++)
        {
            var layer = net[k];
            var w = policy[layer.Weight].Values;
            var b = policy[layer.Bias].Values;
            var inputs = k == 0 ? ObsDim : net[k - 1].Out;
            Layers[k] = new PackedLinear(lanes, inputs, layer.Out, (o, i) => w[o * layer.In + i], o => b[o]);
        }
        if (m.ObsNorm is { } norm)
        {
            (ObsScale, ObsShift) = norm.Affine();
            ObsClip = norm.Clip;
        }
    }

    public PolicyMetadata Metadata { get; }
    public int Lanes { get; }
    public int ObsDim { get; }
    public int ActDim { get; }
    public bool Elu { get; }
    public PackedLinear[] Layers { get; }
    public float[] Scale { get; }
    public float[] Bias { get; }
    public float[]? ObsScale { get; }
    public float[]? ObsShift { get; }
    public float ObsClip { get; } = float.PositiveInfinity;
}
