using System.Reflection;

namespace MeowRobot.Hosting.Configuration;

/// <summary>
/// For options classes that check themselves (a Validate() that lists problems as "Key must …"): which member a
/// problem is about, so the reported configuration key is the full one.
/// </summary>
public static class ProblemKeys
{
    /// <summary>"Loop" + "RateHz must be in [50, 5000]" → "Loop:RateHz" when RateHz is a property of <paramref name="type"/>, else "Loop".</summary>
    public static string MemberOf(string member, string problem, Type type)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(type);
        var end = 0;
        while (end < problem.Length && char.IsAsciiLetterOrDigit(problem[end])) end++;
        var first = problem[..end];
        var property = first.Length == 0 ? null : type.GetProperty(first, BindingFlags.Public | BindingFlags.Instance);
        return property is null ? member : member + ":" + OptionsBinding.KeyOf(property);
    }
}
