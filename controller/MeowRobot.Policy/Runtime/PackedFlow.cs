using MeowRobot.Policy.Files;

namespace MeowRobot.Policy.Runtime;

/// <summary>Per-hidden-layer activation parameters, padded to whole vectors with zeros.</summary>
internal sealed record Activation(float[]? Gamma, float[]? Beta, float[] SwishBeta);

/// <summary>One additive coupling, packed: which z entries feed t (b = 1) and which t updates (b = 0), the z-columns of
/// the first layer, the later hidden layers, and the output layer restricted to the updated entries.</summary>
internal sealed record PackedCoupling(int[] Active, int[] Updated, PackedLinear ZPart, PackedLinear[] Hidden, PackedLinear Output, Activation[] Activations);

/// <summary>The immutable, shareable part of a <see cref="FlowPolicyRuntime"/>: the couplings' weights packed for one
/// vector width, observation normalisation folded into scale/shift, action scaling as centre/half-range.</summary>
internal sealed class PackedFlow
{
    public PackedFlow(PolicyFile policy, int lanes)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (lanes is not (4 or 8 or 16)) throw new ArgumentOutOfRangeException(nameof(lanes), "vector width must be 4, 8 or 16 floats");
        var m = policy.Metadata;
        Metadata = m;
        Lanes = lanes;
        ObsDim = m.ObsDim;
        ActDim = m.ActDim;
        Hidden = m.Hidden;
        HiddenPadded = (m.Hidden + lanes - 1) / lanes * lanes;
        ValidMask = Pad(Enumerable.Repeat(1f, m.Hidden).ToArray());

        var nets = Enumerable.Range(0, m.Couplings).Select(k => PolicyLayout.CouplingNet(m, k)).ToArray();
        // First layers' s-columns (inputs A.. of concat(b z, s)), all couplings stacked, each padded to HiddenPadded rows.
        FirstLayer = new PackedLinear(lanes, m.ObsDim, m.Couplings * HiddenPadded,
            (o, i) => o % HiddenPadded < m.Hidden ? policy[nets[o / HiddenPadded][0].Weight].Values[(o % HiddenPadded) * (m.ActDim + m.ObsDim) + m.ActDim + i] : 0f,
            o => o % HiddenPadded < m.Hidden ? policy[nets[o / HiddenPadded][0].Bias].Values[o % HiddenPadded] : 0f);

        Couplings = new PackedCoupling[m.Couplings];
        for (var k = 0; k < m.Couplings; k++)
        {
            var net = nets[k];
            var mask = policy[PolicyLayout.MaskName(k)].Values;
            var active = Enumerable.Range(0, m.ActDim).Where(j => mask[j] == 1f).ToArray();
            var updated = Enumerable.Range(0, m.ActDim).Where(j => mask[j] == 0f).ToArray();
            var w0 = policy[net[0].Weight].Values;
            var zPart = new PackedLinear(lanes, active.Length, m.Hidden, (o, i) => w0[o * (m.ActDim + m.ObsDim) + active[i]], null);
            var hidden = net.Skip(1).Take(m.HiddenLayers - 1).Select(layer => Linear(policy, layer, lanes, j => j)).ToArray();
            var output = Linear(policy, net[^1], lanes, j => updated[j], updated.Length);
            var activations = net.Take(m.HiddenLayers).Select(layer => new Activation(
                layer.NormWeight is null ? null : Pad(policy[layer.NormWeight].Values),
                layer.NormBias is null ? null : Pad(policy[layer.NormBias].Values),
                Pad(policy[layer.SwishBeta!].Values))).ToArray();
            Couplings[k] = new PackedCoupling(active, updated, zPart, hidden, output, activations);
        }

        if (m.ObsNorm is { } norm)
        {
            (ObsScale, ObsShift) = norm.Affine();
            ObsClip = norm.Clip;
        }
        if (m.ActionScale is { } scale) (ActionCenter, ActionHalfRange) = scale.Affine();
    }

    public PolicyMetadata Metadata { get; }
    public int Lanes { get; }
    public int ObsDim { get; }
    public int ActDim { get; }
    public int Hidden { get; }
    public int HiddenPadded { get; }
    public float[] ValidMask { get; }
    public PackedLinear FirstLayer { get; }
    public PackedCoupling[] Couplings { get; }
    public float[]? ObsScale { get; }
    public float[]? ObsShift { get; }
    public float ObsClip { get; } = float.PositiveInfinity;
    public float[]? ActionCenter { get; }
    public float[]? ActionHalfRange { get; }

    private float[] Pad(float[] values)
    {
        var padded = new float[HiddenPadded];
        values.CopyTo(padded, 0);
        return padded;
    }

    // Output rows may be a subset (row j of the packed layer is row rowOf(j) of the file's layer).
    private static PackedLinear Linear(PolicyFile policy, MlpLayer layer, int lanes, Func<int, int> rowOf, int? rows = null)
    {
        var w = policy[layer.Weight].Values;
        var b = policy[layer.Bias].Values;
        return new PackedLinear(lanes, layer.In, rows ?? layer.Out, (o, i) => w[rowOf(o) * layer.In + i], o => b[rowOf(o)]);
    }
}
