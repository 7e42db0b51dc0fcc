using System.Runtime.Intrinsics;
using MeowRobot.Policy.Files;

namespace MeowRobot.Policy.Runtime;

/// <summary>The deterministic action of a policy for the control loop, whatever algorithm trained it. <see cref="Act"/>
/// makes no managed allocation; one thread at a time per instance (it owns its scratch), <see cref="Clone"/> for another.</summary>
public interface IPolicyRuntime
{
    PolicyMetadata Metadata { get; }
    int ObsDim { get; }
    int ActDim { get; }
    /// <summary>Vector width in floats that the packed weights were laid out for.</summary>
    int Lanes { get; }
    void Act(ReadOnlySpan<float> observation, Span<float> action);
    /// <summary>A runtime over the same immutable packed weights with its own scratch.</summary>
    IPolicyRuntime Clone();
}

/// <summary>A policy this runtime cannot run (an S2AC file with the SVGD sampler: its action needs the critics' gradients
/// at run time; train the amortized actor to deploy S2AC).</summary>
public sealed class UnsupportedPolicyException(string message) : Exception(message)
{
    public UnsupportedPolicyException() : this("this policy cannot run on the controller") { }

    public UnsupportedPolicyException(string message, Exception inner) : this(message + ": " + inner.Message) { }
}

/// <summary>Picks the runtime for a policy's algorithm: MEow → <see cref="FlowPolicyRuntime"/> (a = f(E[z] | s)); SAC →
/// <see cref="MlpActorRuntime"/> of tanh(μ(s)) × action_scale + action_bias; amortized S2AC → <see cref="MlpActorRuntime"/>
/// of act_limit · tanh(f(s, E[ξ])), then the action box.</summary>
public static class PolicyRuntime
{
    /// <summary>The widest vector width, in floats, that this CPU accelerates.</summary>
    public static int NativeLanes =>
        Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256.IsHardwareAccelerated ? Vector256<float>.Count : Vector128<float>.Count;

    /// <exception cref="UnsupportedPolicyException">The policy has no deterministic action this runtime computes.</exception>
    public static IPolicyRuntime Create(PolicyFile policy) => Create(policy, NativeLanes);

    /// <inheritdoc cref="Create(PolicyFile)"/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lanes"/> is not 4, 8 or 16.</exception>
    public static IPolicyRuntime Create(PolicyFile policy, int lanes)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.Metadata.Algorithm switch
        {
            PolicyAlgorithm.Meow => FlowPolicyRuntime.Create(policy, lanes),
            PolicyAlgorithm.Sac or PolicyAlgorithm.S2ac => MlpActorRuntime.Create(policy, lanes),
            var other => throw new UnsupportedPolicyException($"no runtime for algorithm {other}"),
        };
    }
}
