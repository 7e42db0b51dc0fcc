using MeowRobot.Trainer.Export.Onnx;
using MeowRobot.Policy.Files;
using static MeowRobot.Trainer.Export.PolicyWeights;

namespace MeowRobot.Trainer.Export;

/// <summary>
/// MEow's deterministic action a = tanh(f(E[z] | s)): z = 0 pushed through the additive couplings, then tanh (the prior
/// and the reward shifts do not enter it). Coupling k: z ← z + (1 − b_k) ⊙ t_k(concat(b_k ⊙ z, s)), which is the
/// README's b z + (1 − b)(z + t). t's first Linear is split by input columns (the z part is absent at k = 0, where z is
/// zero); each hidden layer is Linear → [LayerNorm] → Swish x·σ(βx). Tensors come from <see cref="PolicyLayout"/>.
/// </summary>
public sealed class MeowPolicyGraph : IPolicyGraph
{
    /// <summary>PyTorch LayerNorm's default epsilon, which the official MLP uses.</summary>
    private const float LayerNormEpsilon = 1e-5f;

    public bool Handles(PolicyFile policy) => policy?.Metadata.Algorithm == PolicyAlgorithm.Meow;

    public string DeterministicAction(OnnxGraph graph, PolicyFile policy, string observation)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(policy);
        var m = policy.Metadata;
        string? z = null;
        for (var k = 0; k < m.Couplings; k++)
        {
            var net = PolicyLayout.CouplingNet(m, k);
            var first = net[0];
            var pre = graph.Linear(observation, Columns(graph, policy, first, m.ActDim, m.ObsDim), Vector(graph, policy, first.Bias));
            var mask = policy[PolicyLayout.MaskName(k)].Values;
            if (z is not null)
                pre = graph.Linear(graph.Mul(z, Vector(graph, policy, PolicyLayout.MaskName(k))), Columns(graph, policy, first, 0, m.ActDim), pre);
            var h = Activation(graph, policy, first, pre);
            foreach (var layer in net.Skip(1).SkipLast(1))
                h = Activation(graph, policy, layer, graph.Linear(h, Matrix(graph, policy, layer), Vector(graph, policy, layer.Bias)));
            var output = net[^1];
            var t = graph.Linear(h, Matrix(graph, policy, output), Vector(graph, policy, output.Bias));
            var moved = graph.Mul(t, graph.Constant($"flows.{k}.(1 - b)", mask.Select(b => 1f - b).ToArray(), m.ActDim));
            z = z is null ? moved : graph.Add(z, moved);
        }
        return graph.Clip(graph.Tanh(z ?? throw new InvalidDataException("a MEow policy has at least one coupling")), -1f, 1f, "squash");
    }

    // [LayerNorm] then Swish x·sigmoid(βx), as the official MLP's hidden block in eval mode (dropout off).
    private static string Activation(OnnxGraph graph, PolicyFile policy, MlpLayer layer, string x)
    {
        if (layer.NormWeight is not null)
            x = graph.LayerNorm(x, Vector(graph, policy, layer.NormWeight), Vector(graph, policy, layer.NormBias!), LayerNormEpsilon);
        return graph.Mul(x, graph.Sigmoid(graph.Mul(x, Vector(graph, policy, layer.SwishBeta!))));
    }
}
