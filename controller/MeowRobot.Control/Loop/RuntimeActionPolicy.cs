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

/// <summary>Whether a policy's actions land in a task's action box as the trainer meant them to.</summary>
public static class ActionScalingCheck
{
    /// <summary>Null when the file's meow.action scaling is the task's box; else what differs (a file without it emits
    /// the tanh box [−1, 1] as is, which the task then reads as raw torques or forces).</summary>
    public static string? Problem(PolicyMetadata metadata, MeowRobot.Bridge.Sim.TaskSpec spec)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(spec);
        if (metadata.ActionScale is not { } s)
            return $"the policy file has no meow.action.low/high: its actions stay in [-1, 1] while {spec.Name} acts in [{string.Join(", ", spec.ActLow)}] .. [{string.Join(", ", spec.ActHigh)}]";
        return s.Low.AsSpan().SequenceEqual(spec.ActLow) && s.High.AsSpan().SequenceEqual(spec.ActHigh)
            ? null
            : $"the policy was trained for actions in [{string.Join(", ", s.Low)}] .. [{string.Join(", ", s.High)}], {spec.Name} acts in [{string.Join(", ", spec.ActLow)}] .. [{string.Join(", ", spec.ActHigh)}]";
    }
}
