using System.Globalization;
using MeowRobot.Trainer.Reporting.Plotting;

namespace MeowRobot.Campaign.Report;

/// <summary>The held-out episodes of one candidate whose parameter fell in [Low, High) (the last bin includes High):
/// how many, and their mean and population std of return (null when the bin is empty).</summary>
public sealed record RobustnessBin(double Low, double High, int Episodes, double? MeanReturn, double? StdReturn);

/// <summary>One candidate's return across one randomised parameter's range, binned.</summary>
public sealed record CandidateRobustness(ReportedRun Candidate, IReadOnlyList<RobustnessBin> Bins, IReadOnlyList<(double Value, double Return)> Episodes);

/// <summary>
/// Robustness of the candidates across the randomisation (from each verdict's held-out evaluation: eval.params[i] is
/// what episode i ran with, eval.returns[i] its return). Per randomised parameter, its range over every candidate's
/// episodes is cut into k equal bins, k = ⌊√n⌋ for the fewest episodes n any candidate has with that parameter, between
/// 1 and 8 (20 episodes: 4 bins of about 5), the same bins for every candidate so they compare bin by bin.
/// </summary>
public sealed record ParameterRobustness(string Parameter, double Low, double High, IReadOnlyList<CandidateRobustness> Candidates)
{
    public const int MaxBins = 8;

    public static IReadOnlyList<ParameterRobustness> Of(IReadOnlyList<ReportedRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var gated = runs.Where(r => r.Verdict is { EvalParams.Count: > 0 }).ToArray();
        var names = gated.SelectMany(r => r.Verdict!.EvalParams.SelectMany(p => p.Keys)).Distinct(StringComparer.Ordinal).ToArray();
        return [.. names.Select(name =>
        {
            var episodes = gated.Select(r => (Run: r, Points: (IReadOnlyList<(double Value, double Return)>)[.. r.Verdict!.EvalParams
                    .Select((p, i) => (Has: p.TryGetValue(name, out var v), Value: v, Return: r.Verdict.EvalReturns[i]))
                    .Where(e => e.Has && double.IsFinite(e.Value) && double.IsFinite(e.Return)).Select(e => (e.Value, e.Return))]))
                .Where(c => c.Points.Count > 0).ToArray();
            var values = episodes.SelectMany(c => c.Points.Select(p => p.Value)).ToArray();
            if (values.Length == 0) return new ParameterRobustness(name, double.NaN, double.NaN, []);
            double low = values.Min(), high = values.Max();
            var bins = low == high ? 1 : Math.Clamp((int)Math.Floor(Math.Sqrt(episodes.Min(c => c.Points.Count))), 1, MaxBins);
            var width = (high - low) / bins;
            return new ParameterRobustness(name, low, high, [.. episodes.Select(c => new CandidateRobustness(c.Run, [.. Enumerable.Range(0, bins).Select(b =>
            {
                var inBin = c.Points.Where(p => Math.Min(bins - 1, (int)Math.Floor((p.Value - low) / (width > 0 ? width : 1))) == b).Select(p => p.Return).ToArray();
                var (lo, hi) = (low + b * width, b == bins - 1 ? high : low + (b + 1) * width);
                if (inBin.Length == 0) return new RobustnessBin(lo, hi, 0, null, null);
                var (mean, std, _) = ConfigurationCurve.Spread(inBin);
                return new RobustnessBin(lo, hi, inBin.Length, mean, std);
            })], c.Points))]);
        }).Where(p => p.Candidates.Count > 0)];
    }

    /// <summary>Return against this parameter: a panel per configuration (all on one return scale, so configurations
    /// compare by eye), per candidate (seed) its bins' mean return at their centres with ± std as a band, over its
    /// episodes as faint markers.</summary>
    public Chart Chart(string title, IReadOnlyList<string> configurations)
    {
        ArgumentNullException.ThrowIfNull(configurations);
        var inv = CultureInfo.InvariantCulture;
        var panels = configurations.Select((configuration, i) => (configuration, i))
            .Where(c => Candidates.Any(x => x.Candidate.Configuration == c.configuration))
            .Select(c => new Panel($"{c.configuration}: held-out return vs {Parameter}", "episode return",
            [
                .. Candidates.Where(x => x.Candidate.Configuration == c.configuration).SelectMany((x, j) =>
                {
                    var label = x.Candidate.Seed is { } s ? $"seed {s.ToString(inv)}" : x.Candidate.Id;
                    var filled = x.Bins.Where(b => b.MeanReturn is not null).ToArray();
                    return new[]
                    {
                        new Series($"{label}: mean per bin", Palette.Shade(c.i, j), [.. filled.Select(b => ((b.Low + b.High) / 2, b.MeanReturn!.Value))], SeriesStyle.LineAndMarkers)
                        {
                            Spread = [.. filled.Select(b => b.StdReturn!.Value)],
                            SpreadName = $"{label}: ± std in the bin",
                        },
                        new Series($"{label}: episodes", Palette.Shade(c.i, j), x.Episodes, SeriesStyle.Markers) { Opacity = 0.35 },
                    };
                }),
            ])).ToArray();
        return new Chart(title, Parameter, panels) { XFromZero = false, SharedY = true, Subtitle = string.Create(inv, $"{Candidates[0].Bins.Count} equal bins over {Low:G4} – {High:G4}, the values the held-out episodes ran with") };
    }
}
