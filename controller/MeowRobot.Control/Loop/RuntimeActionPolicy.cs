using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;

namespace MeowRobot.Control.Loop;

/// <summary>A policy's deterministic action (<see cref="IPolicyRuntime"/>: MEow's flow, SAC's or amortized S2AC's actor)
/// as the loop's policy.</summary>
public sealed class RuntimeActionPolicy(IPolicyRuntime runtime) : IActionPolicy
{
    public IPolicyRuntime Runtime { get; } = runtime ?? throw new ArgumentNullException(nameof(runtime));
    public int ObservationSize => Runtime.ObsDim;
    public int ActionSize => Runtime.ActDim;
    public void Compute(ReadOnlySpan<float> observation, Span<float> action) => Runtime.Act(observation, action);

    /// <summary>Loads a policy file (validated, finite weights) as an <see cref="ActivePolicy"/> of version
    /// meow.version (0 when absent).</summary>
    /// <exception cref="UnsupportedPolicyException">A policy without a deterministic action this runtime computes.</exception>
    public static ActivePolicy Load(string path)
    {
        var file = PolicyFile.Load(path);
        return new ActivePolicy(new RuntimeActionPolicy(PolicyRuntime.Create(file)), (long)(file.Metadata.Version ?? 0), path);
    }
}
