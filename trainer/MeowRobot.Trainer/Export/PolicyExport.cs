using System.Globalization;
using MeowRobot.Trainer.Export.Onnx;
using MeowRobot.Policy.Files;

namespace MeowRobot.Trainer.Export;

/// <summary>
/// A policy file's deterministic policy as one ONNX model: input <c>obs</c> [batch, S] (raw observations), output
/// <c>action</c> [batch, A] (what the robot is sent; the algorithm's deterministic action, <see cref="Graphs"/>), with the
/// file's observation normalisation
/// s' = clamp(s·scale + shift, ±clip) and action scaling low + (a + 1)(high − low)/2 baked in, exactly as the controller's
/// runtime applies them. The policy's metadata entries are copied into the model's metadata_props.
/// </summary>
public static class PolicyExport
{
    public const string ObservationInput = "obs", ActionOutput = "action";

    /// <summary>The algorithms' graph builders, tried in order.</summary>
    public static IReadOnlyList<IPolicyGraph> Graphs { get; } = [new MeowPolicyGraph(), new MlpActorGraph()];

    /// <summary>The ONNX model's bytes.</summary>
    /// <exception cref="NotSupportedException">No builder handles this policy file.</exception>
    public static byte[] ToOnnx(PolicyFile policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var builder = Graphs.FirstOrDefault(g => g.Handles(policy))
            ?? throw new NotSupportedException(policy.Metadata is { Algorithm: PolicyAlgorithm.S2ac }
                ? "an S2AC policy with the SVGD actor cannot be exported: its action follows the critics' gradients (export an amortized S2AC policy, s2ac.actor = amortized)"
                : $"no ONNX graph builder handles {policy.Metadata.Algorithm.Name()} policy files");
        var m = policy.Metadata;
        var graph = new OnnxGraph("deterministic_policy");
        var obs = graph.Input(ObservationInput, m.ObsDim);
        if (m.ObsNorm is { } norm)
        {
            var (scale, shift) = norm.Affine();
            obs = graph.Add(graph.Mul(obs, graph.Constant("obs_norm.scale", scale, m.ObsDim)), graph.Constant("obs_norm.shift", shift, m.ObsDim));
            if (float.IsFinite(norm.Clip)) obs = graph.Clip(obs, -norm.Clip, norm.Clip, "obs_norm.clip");
        }
        var action = builder.DeterministicAction(graph, policy, obs);
        if (m.ActionScale is { } scaling)
        {
            var (center, halfRange) = scaling.Affine();
            action = graph.Add(graph.Mul(action, graph.Constant("action.half_range", halfRange, m.ActDim)), graph.Constant("action.center", center, m.ActDim));
        }
        graph.Output(action, ActionOutput, m.ActDim);
        var version = typeof(PolicyExport).Assembly.GetName().Version?.ToString() ?? "0";
        return OnnxModelWriter.ToBytes(graph, new OnnxModelWriter.ModelInfo(
            "MeowRobot", version,
            string.Create(CultureInfo.InvariantCulture, $"Deterministic policy: {ObservationInput} [batch, {m.ObsDim}] (raw) → {ActionOutput} [batch, {m.ActDim}] (scaled)"),
            m.ToEntries().ToArray()));
    }
}
