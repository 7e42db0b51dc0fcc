namespace MeowRobot.Policy.Files;

/// <summary>The algorithm that trained a policy: what its tensors mean and how its deterministic action is computed.
/// A file names it by its metadata namespace: exactly one of <c>meow.format</c>, <c>sac.format</c>, <c>s2ac.format</c>.</summary>
public enum PolicyAlgorithm
{
    /// <summary>MEow (NeurIPS 2024): an energy-based normalizing flow that is both policy and soft Q.</summary>
    Meow,
    /// <summary>SAC as CleanRL's sac_continuous_action: a tanh-squashed Gaussian actor and twin critics.</summary>
    Sac,
    /// <summary>S2AC (ICLR 2024): Stein variational particles from a parameterised initial distribution, or the amortized
    /// sampling network f(s, ξ).</summary>
    S2ac,
}

public static class PolicyAlgorithms
{
    /// <summary>The name used on the command line, in configuration, in metadata and on the wire: meow, sac, s2ac.</summary>
    public static string Name(this PolicyAlgorithm algorithm) => algorithm switch
    {
        PolicyAlgorithm.Meow => "meow",
        PolicyAlgorithm.Sac => "sac",
        PolicyAlgorithm.S2ac => "s2ac",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "not an algorithm"),
    };

    public static IReadOnlyList<PolicyAlgorithm> All { get; } = Enum.GetValues<PolicyAlgorithm>();

    /// <summary>The algorithm of a name (exact, lower case), or false.</summary>
    public static bool TryParse(string? name, out PolicyAlgorithm algorithm)
    {
        foreach (var a in All)
        {
            if (a.Name() == name)
            {
                algorithm = a;
                return true;
            }
        }
        algorithm = default;
        return false;
    }
}
