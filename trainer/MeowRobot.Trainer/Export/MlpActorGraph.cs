using MeowRobot.Trainer.Export.Onnx;
using MeowRobot.Policy.Files;
using static MeowRobot.Trainer.Export.PolicyWeights;

namespace MeowRobot.Trainer.Export;

/// <summary>
/// The deterministic actions that are one MLP and a tanh: SAC's tanh(μ(s)) (CleanRL's actor fc1 → ReLU → fc2 → ReLU →
/// fc_mean, <see cref="SacLayout.Actor"/>) and amortized S2AC's act_limit · tanh(f(s, E[ξ])) with E[ξ] = 0 (the sampling
/// network, ELU after each hidden Linear, <see cref="S2acLayout.AmortizedActor"/>). f's input is concat(s, ξ): at ξ = 0
/// only the first S columns of its first Linear act. The SVGD actor of the golden S2AC files is not one forward pass (its
/// particles follow the critics' gradients) and is refused.
/// </summary>
public sealed class MlpActorGraph : IPolicyGraph
{
    public bool Handles(PolicyFile policy) => policy?.Metadata is { Algorithm: PolicyAlgorithm.Sac } or { Algorithm: PolicyAlgorithm.S2ac, S2ac.Actor: S2acActor.Amortized };

    public string DeterministicAction(OnnxGraph graph, PolicyFile policy, string observation)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(policy);
        var m = policy.Metadata;
        var sac = m.Algorithm == PolicyAlgorithm.Sac;
        var layers = sac ? SacLayout.Actor(m) : S2acLayout.AmortizedActor(m);
        var x = observation;
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            var weight = i == 0 && !sac ? Columns(graph, policy, layer, 0, m.ObsDim) : Matrix(graph, policy, layer);
            x = graph.Linear(x, weight, Vector(graph, policy, layer.Bias));
            if (i < layers.Count - 1) x = sac ? graph.Add("Relu", [x]) : graph.Add("Elu", [x], OnnxAttribute.Of("alpha", 1f));
        }
        var action = graph.Tanh(x);
        // The official S2AC code scales by act_limit itself; metadata action scaling, if any, follows in PolicyExport.
        return sac || m.S2ac.ActLimit == 1.0 ? action : graph.Mul(action, graph.Constant("s2ac.act_limit", [(float)m.S2ac.ActLimit], 1));
    }
}
