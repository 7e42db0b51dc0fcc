using System.Globalization;
using System.Text.Json;
using MeowRobot.Trainer.Reporting.Plotting;

namespace MeowRobot.Trainer.Reporting;

/// <summary>
/// The plot of one run (<c>./meow trainer plot RUN</c>): from its metrics.csv, against env steps, the deterministic
/// evaluation return (mean with markers, ± its std over the evaluation episodes as a band) and the training episodes'
/// return, and the loss and gradient norm on panels of their own; the subtitle from config.json when there is one.
/// Written as RUN/plot.svg and RUN/plot.png.
/// </summary>
public static class RunPlot
{
    public const string SvgName = "plot.svg", PngName = "plot.png";

    /// <summary>metrics.csv of a run directory: RUN/metrics.csv, or RUN/trainer/metrics.csv (a demo's run).</summary>
    public static string? FindMetrics(string runDirectory) =>
        new[] { runDirectory, Path.Combine(runDirectory, "trainer") }.Select(d => Path.Combine(d, MetricsCsv.FileName)).FirstOrDefault(File.Exists);

    public static Chart Build(IReadOnlyList<TrainerMetrics> rows, string title, string? subtitle)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var evals = rows.Where(r => r.Event == "eval" && double.IsFinite(r.EvalReturnMean)).ToList();
        var train = rows.Where(r => r.Event == "train").ToList();
        (double, double) At(TrainerMetrics r, double y) => (r.EnvSteps, y);
        return new Chart(title, "env steps",
        [
            new Panel("Return", "return",
            [
                new Series("evaluation return (mean)", "#1f5fa8", [.. evals.Select(r => At(r, r.EvalReturnMean))], SeriesStyle.LineAndMarkers)
                {
                    Spread = [.. evals.Select(r => double.IsFinite(r.EvalReturnStd) ? r.EvalReturnStd : 0)],
                    SpreadName = "± std over its episodes",
                },
                new Series("training episode return", "#e08a1e", [.. train.Select(r => At(r, r.EpisodeReturnMean))]) { Opacity = 0.75 },
            ]),
            new Panel("Loss", "loss", [new Series("Q loss (mean per row)", "#b5283b", [.. train.Select(r => At(r, r.Loss))])]),
            new Panel("Gradient norm", "norm before clipping", [new Series("gradient norm", "#3c8d4f", [.. train.Select(r => At(r, r.GradNorm))])]),
        ])
        { Subtitle = subtitle };
    }

    /// <summary>Writes plot.svg and plot.png into <paramref name="outputDirectory"/>; returns the files written and, when
    /// the PNG could not be made, why.</summary>
    public static (IReadOnlyList<string> Files, string? PngProblem) Write(string runDirectory, string outputDirectory)
    {
        var metrics = FindMetrics(runDirectory) ?? throw new FileNotFoundException($"no {MetricsCsv.FileName} in {runDirectory} (nor in its trainer/)");
        var tail = new MetricsTail(metrics, DateTimeOffset.UnixEpoch);
        tail.Poll();
        var name = Path.GetFileName(Path.GetFullPath(runDirectory).TrimEnd(Path.DirectorySeparatorChar));
        var chart = Build(tail.Rows, name, Subtitle(Path.GetDirectoryName(metrics)!, tail.Rows));
        return Save(chart, outputDirectory, "plot");
    }

    /// <summary>A chart as NAME.svg and NAME.png in a directory (the demo's curves too).</summary>
    public static (IReadOnlyList<string> Files, string? PngProblem) Save(Chart chart, string directory, string name)
    {
        Directory.CreateDirectory(directory);
        var svg = Path.Combine(directory, name + ".svg");
        var png = Path.Combine(directory, name + ".png");
        File.WriteAllText(svg, SvgChart.Render(chart));
        var problem = PngRenderer.Render(svg, png);
        return (problem is null ? [svg, png] : [svg], problem);
    }

    private static string Subtitle(string metricsDirectory, IReadOnlyList<TrainerMetrics> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var last = rows.Count > 0 ? rows[^1] : default;
        var size = string.Create(inv, $"{last.EnvSteps:N0} env steps, {last.Updates:N0} updates");
        var config = Path.Combine(metricsDirectory, RunConfig.FileName);
        if (!File.Exists(config)) return size;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(config));
            var c = doc.RootElement;
            var code = c.TryGetProperty("code_version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : "unknown";
            return $"{c.GetProperty("algorithm").GetString()} on {c.GetProperty("task").GetProperty("name").GetString()}, seed {c.GetProperty("seed").GetInt32()}, " +
                $"{size}, code {code}";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return size + " (config.json unreadable)";
        }
    }
}
