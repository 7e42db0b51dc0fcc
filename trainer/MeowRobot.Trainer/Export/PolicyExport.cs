using System.Globalization;
using MeowRobot.Trainer.Export.Onnx;
using MeowRobot.Policy.Files;

namespace MeowRobot.Trainer.Export;

/// <summary>
/// A policy file's deterministic policy as one ONNX model: input <c>obs</c> [batch, S] (raw observations), output
/// <c>action</c> [batch, A] (what the robot is sent), with the file's observation normalisation
/// s' = clamp(s·scale + shift, ±clip) and action scaling low + (a + 1)(high − low)/2 baked in, exactly as the controller's
/// runtime applies them. The policy's metadata entries are copied into the model's metadata_props.
/// </summary>
public static class PolicyExport
{
    public const string ObservationInput = "obs", ActionOutput = "action";

    /// <summary>The algorithms' graph builders, tried in order (SAC and S2AC add theirs here).</summary>
    public static IReadOnlyList<IPolicyGraph> Graphs { get; } = [new MeowPolicyGraph()];

    /// <summary>The ONNX model's bytes.</summary>
    /// <exception cref="NotSupportedException">No builder handles this policy file.</exception>
    public static byte[] ToOnnx(PolicyFile policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var builder = Graphs.FirstOrDefault(g => g.Handles(policy))
            ?? throw new NotSupportedException("no ONNX graph builder handles this policy file");
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
