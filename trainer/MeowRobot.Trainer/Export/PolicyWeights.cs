using MeowRobot.Trainer.Export.Onnx;
using MeowRobot.Policy.Files;

namespace MeowRobot.Trainer.Export;

/// <summary>A policy file's tensors as graph constants under their official names.</summary>
internal static class PolicyWeights
{
    /// <summary>A Linear's weight [out, in].</summary>
    public static string Matrix(OnnxGraph graph, PolicyFile policy, MlpLayer layer) =>
        graph.Constant(layer.Weight, policy[layer.Weight].Values, layer.Out, layer.In);

    /// <summary>Input columns [from, from + count) of a Linear's weight, for a layer whose other inputs are known zeros or
    /// come separately; named after the slice.</summary>
    public static string Columns(OnnxGraph graph, PolicyFile policy, MlpLayer layer, int from, int count)
    {
        var w = policy[layer.Weight].Values;
        var part = new float[layer.Out * count];
        for (var r = 0; r < layer.Out; r++) Array.Copy(w, r * layer.In + from, part, r * count, count);
        return graph.Constant($"{layer.Weight}[:, {from}:{from + count}]", part, layer.Out, count);
    }

    /// <summary>A vector (bias, LayerNorm scale or shift, Swish beta, mask).</summary>
    public static string Vector(OnnxGraph graph, PolicyFile policy, string name)
    {
        var values = policy[name].Values;
        return graph.Constant(name, values, values.Length);
    }
}
