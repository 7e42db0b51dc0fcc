namespace MeowRobot.Trainer.Reporting.Plotting;

/// <summary>How a series is drawn.</summary>
public enum SeriesStyle
{
    /// <summary>A line through the points.</summary>
    Line,
    /// <summary>A line with a marker at each point.</summary>
    LineAndMarkers,
    /// <summary>Markers only.</summary>
    Markers,
}

/// <summary>One named series of a panel; with <see cref="Spread"/> a band of ±spread is drawn around it (e.g. ±std).</summary>
public sealed record Series(string Name, string Color, IReadOnlyList<(double X, double Y)> Points, SeriesStyle Style = SeriesStyle.Line)
{
    /// <summary>Per point, the band's half-width (same length as <see cref="Points"/>); null: no band.</summary>
    public IReadOnlyList<double>? Spread { get; init; }

    /// <summary>Name of the band in the legend (e.g. "± std over episodes").</summary>
    public string? SpreadName { get; init; }

    /// <summary>0–1: faint series (many noisy points) stay behind the main ones.</summary>
    public double Opacity { get; init; } = 1;
}

/// <summary>One plot area with its own y axis (the same range as the others' with <see cref="Chart.SharedY"/>).</summary>
public sealed record Panel(string Title, string YLabel, IReadOnlyList<Series> Series);

/// <summary>Panels stacked over one shared x axis: what <see cref="SvgChart"/> draws (and <see cref="PngRenderer"/> rasterises).</summary>
public sealed record Chart(string Title, string XLabel, IReadOnlyList<Panel> Panels)
{
    /// <summary>A line under the title (the run, its task, its size).</summary>
    public string? Subtitle { get; init; }

    /// <summary>Whether the x axis starts at 0 (env steps and seconds count from there) or spans only the data (a
    /// physical parameter such as a mass of 0.7–1.3).</summary>
    public bool XFromZero { get; init; } = true;

    /// <summary>Whether every panel uses one y range (panels of one quantity, e.g. return, for different candidates,
    /// compared by eye) rather than each its own (panels of different quantities).</summary>
    public bool SharedY { get; init; }
}
