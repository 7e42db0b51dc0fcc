namespace MeowRobot.Policy.Files;

/// <summary>What a tensor is, so that code filling or reading a policy can treat each kind alike.</summary>
public enum PolicyTensorRole { CouplingMask, LinearWeight, LinearBias, LayerNormWeight, LayerNormBias, SwishBeta }

/// <summary>One tensor the architecture has: its official name, shape, and role.</summary>
public sealed record PolicyTensorSpec(string Name, int[] Shape, PolicyTensorRole Role)
{
    public int ElementCount => Shape.Aggregate(1, (a, d) => checked(a * d));
}

/// <summary>One layer of an official <c>MLP</c>: a Linear (weight [Out, In]), then for hidden layers an optional LayerNorm
/// and a Swish (beta per unit). Names are the tensors' official names.</summary>
public sealed record MlpLayer(int In, int Out, string Weight, string Bias, string? NormWeight, string? NormBias, string? SwishBeta);

/// <summary>The official FlowPolicy's parameter names and shapes for given metadata, in the canonical order (the order of
/// the golden files: couplings flows.0..C−1, then the reward shifts flows.C.scale1/scale2, then the prior).
/// Module indices follow the official <c>MLP</c>: each hidden layer is Linear, [LayerNorm], Swish, [Dropout] — the coupling
/// MLPs have Dropout, the reward shifts Dropout(0) (still a module), the prior none — then a final Linear.</summary>
public static class PolicyLayout
{
    public static IReadOnlyList<PolicyTensorSpec> Tensors(PolicyMetadata m)
    {
        var specs = new List<PolicyTensorSpec>();
        for (var k = 0; k < m.Couplings; k++)
        {
            specs.Add(new($"flows.{k}.b", [1, m.ActDim], PolicyTensorRole.CouplingMask));
            AddMlp(specs, CouplingNet(m, k));
        }
        AddMlp(specs, ShiftNet(m, 1));
        AddMlp(specs, ShiftNet(m, 2));
        AddMlp(specs, PriorNet(m));
        return specs;
    }

    /// <summary>The translation network t(b z, s) of coupling k: (A + S) → Hidden × HiddenLayers → A.</summary>
    public static IReadOnlyList<MlpLayer> CouplingNet(PolicyMetadata m, int k) =>
        Mlp($"flows.{k}.t.net", m.ActDim + m.ObsDim, m.Hidden, m.HiddenLayers, m.ActDim, m.LayerNorm, dropout: true);

    /// <summary>Reward shift b_k(s), k ∈ {1, 2}: S → ShiftHidden × HiddenLayers → 1.</summary>
    public static IReadOnlyList<MlpLayer> ShiftNet(PolicyMetadata m, int k) =>
        Mlp($"flows.{m.Couplings}.scale{k}.net", m.ObsDim, m.ShiftHidden, m.HiddenLayers, 1, layerNorm: false, dropout: true);

    /// <summary>The prior's state-dependent log-scale: S → Hidden × HiddenLayers → A.</summary>
    public static IReadOnlyList<MlpLayer> PriorNet(PolicyMetadata m) =>
        Mlp("prior.log_scale.net", m.ObsDim, m.Hidden, m.HiddenLayers, m.ActDim, layerNorm: false, dropout: false);

    public static string MaskName(int coupling) => $"flows.{coupling}.b";

    /// <summary>The official mask of coupling k: [1, 0, 1, 0, …] for even k, its complement for odd k.</summary>
    public static float[] Mask(int coupling, int actDim)
    {
        var b = new float[actDim];
        for (var j = 0; j < actDim; j++) b[j] = (j + coupling) % 2 == 0 ? 1f : 0f;
        return b;
    }

    private static MlpLayer[] Mlp(string prefix, int inDim, int hidden, int hiddenLayers, int outDim, bool layerNorm, bool dropout)
    {
        var stride = 2 + (layerNorm ? 1 : 0) + (dropout ? 1 : 0);
        var layers = new MlpLayer[hiddenLayers + 1];
        for (var i = 0; i < hiddenLayers; i++)
        {
            var at = i * stride;
            var norm = layerNorm ? $"{prefix}.{at + 1}" : null;
            layers[i] = new MlpLayer(i == 0 ? inDim : hidden, hidden, $"{prefix}.{at}.weight", $"{prefix}.{at}.bias",
                norm is null ? null : norm + ".weight", norm is null ? null : norm + ".bias", $"{prefix}.{at + (layerNorm ? 2 : 1)}.beta");
        }
        var last = hiddenLayers * stride;
        layers[hiddenLayers] = new MlpLayer(hiddenLayers == 0 ? inDim : hidden, outDim, $"{prefix}.{last}.weight", $"{prefix}.{last}.bias", null, null, null);
        return layers;
    }

    private static void AddMlp(List<PolicyTensorSpec> specs, IReadOnlyList<MlpLayer> layers)
    {
        foreach (var l in layers)
        {
            specs.Add(new(l.Weight, [l.Out, l.In], PolicyTensorRole.LinearWeight));
            specs.Add(new(l.Bias, [l.Out], PolicyTensorRole.LinearBias));
            if (l.NormWeight is not null) specs.Add(new(l.NormWeight, [l.Out], PolicyTensorRole.LayerNormWeight));
            if (l.NormBias is not null) specs.Add(new(l.NormBias, [l.Out], PolicyTensorRole.LayerNormBias));
            if (l.SwishBeta is not null) specs.Add(new(l.SwishBeta, [l.Out], PolicyTensorRole.SwishBeta));
        }
    }
}
