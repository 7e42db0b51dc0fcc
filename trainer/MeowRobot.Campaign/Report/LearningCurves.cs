using System.Globalization;
using MeowRobot.Trainer.Reporting.Plotting;

namespace MeowRobot.Campaign.Report;

/// <summary>A configuration's evaluation return at one env step over the seeds evaluated there: their mean and the
/// population standard deviation across them (with two seeds, mean ± std is exactly their range).</summary>
public sealed record CurvePoint(long EnvSteps, double Mean, double Std, int Seeds);

/// <summary>
/// A configuration's learning curve over its seeds: at every env step any of its runs evaluated, the mean and spread of
/// their evaluation returns; and the final evaluation return (each run's last) as mean and spread over the runs.
/// </summary>
public sealed record ConfigurationCurve(string Configuration, string? Algorithm, IReadOnlyList<ReportedRun> Runs, IReadOnlyList<CurvePoint> Points)
{
    public IReadOnlyList<double> FinalReturns => [.. Runs.Select(r => r.FinalEvalReturn).OfType<double>()];

    public static IReadOnlyList<ConfigurationCurve> Of(CampaignRuns campaign)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        return [.. campaign.Runs.GroupBy(r => r.Configuration).Select(g =>
        {
            // A configuration without an algorithm trains the trainer's default, MEow; unknown without a readable spec.
            var algorithm = campaign.Spec?.Configurations.FirstOrDefault(c => c.Name == g.Key) is { } k ? k.Algorithm ?? "meow" : null;
            var points = g.SelectMany(r => r.Evals).GroupBy(e => e.EnvSteps).OrderBy(s => s.Key)
                .Select(s =>
                {
                    var (mean, std, n) = Spread([.. s.Select(e => e.Mean)]);
                    return new CurvePoint(s.Key, mean, std, n);
                }).ToArray();
            return new ConfigurationCurve(g.Key, algorithm, [.. g], points);
        })];
    }

    /// <summary>Mean, population standard deviation and count of some values (at least one).</summary>
    public static (double Mean, double Std, int Count) Spread(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var mean = values.Average();
        return (mean, Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Count), values.Count);
    }

    /// <summary>The learning curves: every configuration's mean ± spread over seeds on one panel, then a panel per
    /// configuration with its seeds' own curves under the band. Null when no run has evaluated yet.</summary>
    public static Chart? Chart(IReadOnlyList<ConfigurationCurve> curves, string title)
    {
        ArgumentNullException.ThrowIfNull(curves);
        if (curves.All(c => c.Points.Count == 0)) return null;
        Series Band(ConfigurationCurve c, string color, string name) => new(name, color, [.. c.Points.Select(p => ((double)p.EnvSteps, p.Mean))], SeriesStyle.LineAndMarkers)
        {
            Spread = [.. c.Points.Select(p => p.Std)],
            SpreadName = "± std over seeds",
        };
        var panels = new List<Panel>
        {
            new("Evaluation return by configuration (mean over seeds)", "return",
                [.. curves.Select((c, i) => Band(c, Palette.Color(i), c.Configuration))]),
        };
        panels.AddRange(curves.Select((c, i) => new Panel($"{c.Configuration}: each seed", "return",
        [
            Band(c, Palette.Color(i), "mean over seeds"),
            .. c.Runs.Select((r, j) => new Series(r.Seed is { } s ? $"seed {s.ToString(CultureInfo.InvariantCulture)}" : r.Id, Palette.Shade(i, j),
                [.. r.Evals.Select(e => ((double)e.EnvSteps, e.Mean))]) { Opacity = 0.8 }),
        ])));
        return new Chart(title, "env steps", panels);
    }
}

/// <summary>Colours of the report's series: one hue per configuration (Tableau's 10), shades of it per seed.</summary>
internal static class Palette
{
    private static readonly string[] Hues = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    public static string Color(int i) => Hues[i % Hues.Length];

    /// <summary>The hue of <paramref name="i"/> mixed with white or black by seed, so seeds of one configuration stay apart.</summary>
    public static string Shade(int i, int j)
    {
        var hue = Hues[i % Hues.Length];
        int C(int k) => Convert.ToInt32(hue.Substring(1 + 2 * k, 2), 16);
        // Darker shades first: a seed's line lies on its configuration's light band.
        var t = (j % 4) switch { 0 => -0.2, 1 => -0.5, 2 => 0.3, _ => -0.7 };
        int Mix(int c) => (int)Math.Round(t < 0 ? c * (1 + t) : c + (255 - c) * t);
        return string.Create(CultureInfo.InvariantCulture, $"#{Mix(C(0)):x2}{Mix(C(1)):x2}{Mix(C(2)):x2}");
    }
}
