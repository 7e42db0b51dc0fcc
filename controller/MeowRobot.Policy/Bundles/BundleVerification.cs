using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;

namespace MeowRobot.Policy.Bundles;

/// <summary>The outcome of checking a received bundle, in the order the checks run.</summary>
public enum BundleVerdict
{
    Accepted,
    /// <summary>The message is not a well-formed bundle (bad MessagePack, missing or unknown fields, unsupported format).</summary>
    MalformedBundle,
    /// <summary>SHA-256 of the policy bytes differs from the bundle's (corrupted or tampered in transit).</summary>
    HashMismatch,
    /// <summary>Addressed to another task or robot (the bundle's identity or the file's meow.task/meow.robot).</summary>
    WrongIdentity,
    /// <summary>Observation/action sizes differ from this robot's (in the bundle or in the file's metadata).</summary>
    WrongDimensions,
    /// <summary>Version not above the running policy's.</summary>
    NotNewer,
    /// <summary>The policy bytes are not a valid policy file.</summary>
    MalformedFile,
    /// <summary>The policy file holds NaN or infinite weights.</summary>
    NonFiniteWeights,
    /// <summary>The policy's algorithm is one this controller cannot run (unknown to this build, or without a one-pass
    /// deterministic action, like S2AC's SVGD sampler).</summary>
    UnsupportedAlgorithm,
}

/// <summary>A verdict with its reason; on <see cref="BundleVerdict.Accepted"/> also the parsed policy and a runtime built
/// from it (so that the control loop only swaps a reference).</summary>
public sealed record BundleVerification(BundleVerdict Verdict, string Reason, PolicyBundle? Bundle = null, PolicyFile? Policy = null, IPolicyRuntime? Runtime = null)
{
    public bool Accepted => Verdict == BundleVerdict.Accepted;
}
