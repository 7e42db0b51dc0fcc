using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;

namespace MeowRobot.Control.Loop;

/// <summary>The MEow deterministic action a = f(E[z] | s) (<see cref="FlowPolicyRuntime"/>) as the loop's policy.</summary>
public sealed class FlowActionPolicy(FlowPolicyRuntime runtime) : IActionPolicy
{
    public FlowPolicyRuntime Runtime { get; } = runtime ?? throw new ArgumentNullException(nameof(runtime));
    public int ObservationSize => Runtime.ObsDim;
    public int ActionSize => Runtime.ActDim;
    public void Compute(ReadOnlySpan<float> observation, Span<float> action) => Runtime.Act(observation, action);

    /// <summary>Loads a policy file (validated, finite weights) as an <see cref="ActivePolicy"/> of version
    /// meow.version (0 when absent).</summary>
    public static ActivePolicy Load(string path)
    {
        var file = PolicyFile.Load(path);
        return new ActivePolicy(new FlowActionPolicy(FlowPolicyRuntime.Create(file)), (long)(file.Metadata.Version ?? 0), path);
    }
}
