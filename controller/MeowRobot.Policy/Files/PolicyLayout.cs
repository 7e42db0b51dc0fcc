namespace MeowRobot.Policy.Files;

/// <summary>What a tensor is, so that code filling or reading a policy can treat each kind alike.</summary>
public enum PolicyTensorRole { CouplingMask, LinearWeight, LinearBias, LayerNormWeight, LayerNormBias, SwishBeta, ActionScale, ActionBias }

/// <summary>One tensor the architecture has: its official name, shape, and role.</summary>
public sealed record PolicyTensorSpec(string Name, int[] Shape, PolicyTensorRole Role)
{
    public int ElementCount => Shape.Aggregate(1, (a, d) => checked(a * d));
}

/// <summary>One layer of an official <c>MLP</c>: a Linear (weight [Out, In]), then for hidden layers an optional LayerNorm
/// and a Swish (beta per unit). Names are the tensors' official names.</summary>
public sealed record MlpLayer(int In, int Out, string Weight, string Bias, string? NormWeight, string? NormBias, string? SwishBeta);

/// <summary>The tensors a policy file of the metadata's algorithm holds (<see cref="Tensors"/>); for MEow, the official
/// FlowPolicy's parameter names and shapes in the canonical order (the order of the golden files: couplings
/// flows.0..C−1, then the reward shifts flows.C.scale1/scale2, then the prior); SAC: <see cref="SacLayout"/>; S2AC:
/// <see cref="S2acLayout"/>.
/// Module indices follow the official <c>MLP</c>: each hidden layer is Linear, [LayerNorm], Swish, [Dropout] — the coupling
/// MLPs have Dropout, the reward shifts Dropout(0) (still a module), the prior none — then a final Linear.</summary>
public static class PolicyLayout
{
    public static IReadOnlyList<PolicyTensorSpec> Tensors(PolicyMetadata m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return m.Algorithm switch
        {
            PolicyAlgorithm.Sac => SacLayout.Tensors(m),
            PolicyAlgorithm.S2ac => S2acLayout.Tensors(m),
            _ => FlowTensors(m),
        };
    }

    private static List<PolicyTensorSpec> FlowTensors(PolicyMetadata m)
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

    internal static void AddMlp(List<PolicyTensorSpec> specs, IReadOnlyList<MlpLayer> layers)
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

/// <summary>
/// A SAC policy file: CleanRL's networks named by the script's variables, <c>actor</c> (fc1 S→H, fc2 H→H, fc_mean and
/// fc_logstd H→A, buffers action_scale and action_bias [A]), <c>qf1</c> and <c>qf2</c> (fc1 S+A→H, fc2 H→H, fc3 H→1), so
/// that in Python <c>actor.load_state_dict({k[6:]: v for k, v in f.items() if k.startswith("actor.")})</c> is strict-clean.
/// </summary>
public static class SacLayout
{
    public const string ActionScale = "actor.action_scale";
    public const string ActionBias = "actor.action_bias";

    public static IReadOnlyList<PolicyTensorSpec> Tensors(PolicyMetadata m)
    {
        ArgumentNullException.ThrowIfNull(m);
        var specs = new List<PolicyTensorSpec>();
        PolicyLayout.AddMlp(specs, Actor(m));
        AddLinear(specs, "actor.fc_logstd", m.Sac.Hidden, m.ActDim);
        specs.Add(new(ActionScale, [m.ActDim], PolicyTensorRole.ActionScale));
        specs.Add(new(ActionBias, [m.ActDim], PolicyTensorRole.ActionBias));
        foreach (var q in new[] { "qf1", "qf2" })
        {
            AddLinear(specs, q + ".fc1", m.ObsDim + m.ActDim, m.Sac.Hidden);
            AddLinear(specs, q + ".fc2", m.Sac.Hidden, m.Sac.Hidden);
            AddLinear(specs, q + ".fc3", m.Sac.Hidden, 1);
        }
        return specs;
    }

    /// <summary>The actor's mean path, fc1 → ReLU → fc2 → ReLU → fc_mean: what the deterministic action tanh(μ(s)) needs.</summary>
    public static IReadOnlyList<MlpLayer> Actor(PolicyMetadata m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return
        [
            new(m.ObsDim, m.Sac.Hidden, "actor.fc1.weight", "actor.fc1.bias", null, null, null),
            new(m.Sac.Hidden, m.Sac.Hidden, "actor.fc2.weight", "actor.fc2.bias", null, null, null),
            new(m.Sac.Hidden, m.ActDim, "actor.fc_mean.weight", "actor.fc_mean.bias", null, null, null),
        ];
    }

    /// <summary>CleanRL's action buffers for the metadata's action box: scale (high − low)/2, bias (high + low)/2; the
    /// tanh box (1, 0) when it has none.</summary>
    public static (float[] Scale, float[] Bias) ActionBuffers(PolicyMetadata m)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (m.ActionScale is not { } box) return (Enumerable.Repeat(1f, m.ActDim).ToArray(), new float[m.ActDim]);
        var (center, halfRange) = box.Affine();
        return (halfRange, center);
    }

    private static void AddLinear(List<PolicyTensorSpec> specs, string prefix, int inDim, int outDim)
    {
        specs.Add(new(prefix + ".weight", [outDim, inDim], PolicyTensorRole.LinearWeight));
        specs.Add(new(prefix + ".bias", [outDim], PolicyTensorRole.LinearBias));
    }
}

/// <summary>
/// An S2AC policy file, named as the official code's modules: critics <c>q1.net</c>, <c>q2.net</c> (Linear at indices 0, 2, …
/// with ELU between, S+A → H … → 1), the initial distribution <c>pi.p0.net</c> (<c>s2ac.actor_layers</c> Linear+ELU layers
/// S → H …) with <c>pi.p0.mu_layer</c> and <c>pi.p0.log_std_layer</c> (H → A). An amortized file (<c>s2ac.actor =
/// amortized</c>) holds the sampling network <c>pi.f.net</c> in place of p0: Linear at 0, 2, …, 2L (L = <c>s2ac.sampler_layers</c>,
/// else <c>s2ac.actor_layers</c>), ELU after each hidden one, input concat(s, ξ) with ξ of size A, output the pre-tanh action.
/// A file of the fixed start (<c>s2ac.sigma_p0</c>, the official svgd_nonparam) has no p0: the SVGD actor is the critics.
/// </summary>
public static class S2acLayout
{
    public static IReadOnlyList<PolicyTensorSpec> Tensors(PolicyMetadata m)
    {
        ArgumentNullException.ThrowIfNull(m);
        var s = m.S2ac;
        var specs = new List<PolicyTensorSpec>();
        PolicyLayout.AddMlp(specs, Critic(m, "q1"));
        PolicyLayout.AddMlp(specs, Critic(m, "q2"));
        if (s.Actor == S2acActor.Amortized)
        {
            PolicyLayout.AddMlp(specs, AmortizedActor(m));
            return specs;
        }
        if (s.InitialSigma is not null) return specs;
        PolicyLayout.AddMlp(specs, ElFrom("pi.p0.net", m.ObsDim, s.Hidden, s.ActorLayers, null));
        PolicyLayout.AddMlp(specs, [new(s.Hidden, m.ActDim, "pi.p0.mu_layer.weight", "pi.p0.mu_layer.bias", null, null, null)]);
        PolicyLayout.AddMlp(specs, [new(s.Hidden, m.ActDim, "pi.p0.log_std_layer.weight", "pi.p0.log_std_layer.bias", null, null, null)]);
        return specs;
    }

    /// <summary>Critic q1 or q2: S+A → H (× critic_layers, ELU) → 1.</summary>
    public static IReadOnlyList<MlpLayer> Critic(PolicyMetadata m, string name)
    {
        ArgumentNullException.ThrowIfNull(m);
        return ElFrom(name + ".net", m.ObsDim + m.ActDim, m.S2ac.Hidden, m.S2ac.CriticLayers, 1);
    }

    /// <summary>The amortized sampling network f(s, ξ): S+A → H (× sampler_layers, else actor_layers, ELU) → A.</summary>
    public static IReadOnlyList<MlpLayer> AmortizedActor(PolicyMetadata m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return ElFrom("pi.f.net", m.ObsDim + m.ActDim, m.S2ac.Hidden, m.S2ac.SamplerDepth, m.ActDim);
    }

    // nn.Sequential(Linear, ELU, Linear, ELU, …[, Linear]): Linear modules at the even indices.
    private static MlpLayer[] ElFrom(string prefix, int inDim, int hidden, int hiddenLayers, int? outDim)
    {
        var layers = new List<MlpLayer>();
        for (var i = 0; i < hiddenLayers; i++)
            layers.Add(new(i == 0 ? inDim : hidden, hidden, $"{prefix}.{2 * i}.weight", $"{prefix}.{2 * i}.bias", null, null, null));
        if (outDim is { } o) layers.Add(new(hidden, o, $"{prefix}.{2 * hiddenLayers}.weight", $"{prefix}.{2 * hiddenLayers}.bias", null, null, null));
        return [.. layers];
    }
}
