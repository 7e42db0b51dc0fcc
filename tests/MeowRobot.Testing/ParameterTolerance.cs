using System.Globalization;

namespace MeowRobot.Testing;

/// <summary>
/// The golden README's rule for parameters after training steps: every parameter within <see cref="Abs"/>, except that at
/// most <see cref="OutlierRate"/> of them (rounded down) may differ by more, and those by at most <see cref="OutlierAbs"/>.
/// Why: where a gradient is near zero, Adam's normalisation turns float32 rounding into a step of up to lr.
/// </summary>
public sealed record ParameterTolerance(float Abs, float OutlierAbs, double OutlierRate)
{
    /// <summary>Online parameters after the training steps: 2e-5, except 1 in 10,000 within 1e-3 (one Adam step of lr).</summary>
    public static ParameterTolerance AfterTraining { get; } = new(2e-5f, 1e-3f, 1e-4);

    /// <summary>The target network (Polyak averages damp those steps by tau): 2e-5 everywhere.</summary>
    public static ParameterTolerance Target { get; } = new(2e-5f, 2e-5f, 0);

    /// <summary>How many of <paramref name="count"/> parameters may lie beyond <see cref="Abs"/>.</summary>
    public long AllowedOutliers(long count) => (long)Math.Floor(count * OutlierRate);

    /// <summary>Compares every expected tensor with the one of the same name in <paramref name="actual"/>. A missing tensor,
    /// a length mismatch or a non-finite difference fails; so do more outliers than allowed or any beyond
    /// <see cref="OutlierAbs"/>.</summary>
    public ParameterComparison Compare(IEnumerable<(string Name, float[] Values)> expected, IReadOnlyDictionary<string, float[]> actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        var problems = new List<string>();
        long count = 0, overAbs = 0, overOutlier = 0;
        ParameterDifference? worst = null;
        foreach (var (name, want) in expected)
        {
            if (!actual.TryGetValue(name, out var got))
            {
                problems.Add($"{name} is missing");
                continue;
            }
            if (got.Length != want.Length)
            {
                problems.Add($"{name} has {got.Length} values, expected {want.Length}");
                continue;
            }
            for (var i = 0; i < want.Length; i++)
            {
                count++;
                var d = Math.Abs((double)got[i] - want[i]);
                if (d <= Abs) continue;
                overAbs++;
                if (!(d <= OutlierAbs)) overOutlier++; // NaN lands here
                if (worst is null || Worse(d, worst.Difference)) worst = new ParameterDifference(name, i, want[i], got[i]);
            }
        }
        return new ParameterComparison(this, count, overAbs, overOutlier, worst, problems);
    }

    // A NaN is worse than any number.
    private static bool Worse(double d, double than) => !double.IsNaN(than) && (double.IsNaN(d) || d > than);
}

/// <summary>One parameter's expected and actual value.</summary>
public sealed record ParameterDifference(string Name, int Index, float Expected, float Actual)
{
    /// <summary>|actual − expected| (NaN when either is NaN).</summary>
    public double Difference => Math.Abs((double)Actual - Expected);
}

/// <summary>What <see cref="ParameterTolerance.Compare"/> found.</summary>
public sealed record ParameterComparison(
    ParameterTolerance Tolerance, long Count, long OverAbs, long OverOutlierAbs, ParameterDifference? Worst, IReadOnlyList<string> Problems)
{
    public bool Passes => Problems.Count == 0 && OverOutlierAbs == 0 && OverAbs <= Tolerance.AllowedOutliers(Count);

    /// <summary>The counts beyond each bound and the worst parameter by name and index.</summary>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        var text = string.Create(inv,
            $"{OverAbs} of {Count} parameters differ by more than {Tolerance.Abs:G3} (at most {Tolerance.AllowedOutliers(Count)} may), " +
            $"{OverOutlierAbs} by more than {Tolerance.OutlierAbs:G3} (none may)");
        if (Worst is { } w)
            text += string.Create(inv, $"; worst {w.Name}[{w.Index}]: expected {w.Expected:R}, got {w.Actual:R} (|diff| {w.Difference:G3})");
        if (Problems.Count > 0) text += "; " + string.Join("; ", Problems);
        return text;
    }
}
