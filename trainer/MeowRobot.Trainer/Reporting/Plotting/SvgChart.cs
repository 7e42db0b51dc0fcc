using System.Globalization;
using System.Text;

namespace MeowRobot.Trainer.Reporting.Plotting;

/// <summary>
/// Draws a <see cref="Chart"/> as a self-contained SVG: panels stacked over one x axis, ticks at nice numbers
/// (<see cref="Ticks"/>), grid lines, bands under lines, markers, and each panel's legend to the right of its data (never
/// over it). One drawing serves the SVG and, through <see cref="PngRenderer"/>, the PNG.
/// </summary>
public static class SvgChart
{
    private const int Width = 960, Left = 78, PlotWidth = 620, LegendX = Left + PlotWidth + 24, PanelHeight = 250, PanelGap = 64, Top = 88, Bottom = 56;
    private const string Font = "DejaVu Sans, Verdana, sans-serif";

    public static string Render(Chart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var inv = CultureInfo.InvariantCulture;
        var height = Top + chart.Panels.Count * PanelHeight + (chart.Panels.Count - 1) * PanelGap + Bottom;
        var all = chart.Panels.SelectMany(p => p.Series).SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        // Env steps and seconds count from 0: the axis starts there unless the data go below it (or the chart says not).
        var xMin = all.Count > 0 ? all.Min(p => p.X) : 0;
        var x = Ticks.For(chart.XFromZero ? Math.Min(0, xMin) : xMin, all.Count > 0 ? all.Max(p => p.X) : 1, target: 7);
        var xMagnitude = Math.Max(Math.Abs(x.Low), Math.Abs(x.High));
        double Px(double v) => Left + (v - x.Low) / (x.High - x.Low) * PlotWidth;

        var svg = new StringBuilder();
        svg.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" font-family=\"{Font}\" font-size=\"12\">\n");
        svg.Append(inv, $"<rect width=\"{Width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append(inv, $"<text x=\"{Left}\" y=\"26\" font-size=\"17\" font-weight=\"bold\">{Escape(chart.Title)}</text>\n");
        if (chart.Subtitle is { } sub) svg.Append(inv, $"<text x=\"{Left}\" y=\"46\" font-size=\"12\" fill=\"#555\">{Escape(sub)}</text>\n");

        // What a panel's y axis must hold: its points, and its bands' edges.
        static List<double> Heights(IEnumerable<Panel> panels) => panels.SelectMany(p => p.Series).SelectMany(s => s.Spread is null
                ? s.Points.Select(q => q.Y)
                : s.Points.Zip(s.Spread).SelectMany(q => new[] { q.First.Y - q.Second, q.First.Y + q.Second }))
            .Where(double.IsFinite).ToList();
        var shared = chart.SharedY ? Heights(chart.Panels) : null;

        for (var p = 0; p < chart.Panels.Count; p++)
        {
            var panel = chart.Panels[p];
            var top = Top + p * (PanelHeight + PanelGap);
            var points = shared ?? Heights([panel]);
            var y = Ticks.For(points.Count > 0 ? points.Min() : 0, points.Count > 0 ? points.Max() : 1);
            var yMagnitude = Math.Max(Math.Abs(y.Low), Math.Abs(y.High));
            double Py(double v) => top + (1 - (v - y.Low) / (y.High - y.Low)) * PanelHeight;

            svg.Append(inv, $"<text x=\"{Left}\" y=\"{top - 10}\" font-size=\"14\" font-weight=\"bold\">{Escape(panel.Title)}</text>\n");
            foreach (var t in y.Values)
            {
                svg.Append(inv, $"<line x1=\"{Left}\" x2=\"{Left + PlotWidth}\" y1=\"{F(Py(t))}\" y2=\"{F(Py(t))}\" stroke=\"#e3e3e3\"/>");
                svg.Append(inv, $"<text x=\"{Left - 8}\" y=\"{F(Py(t) + 4)}\" text-anchor=\"end\">{Ticks.Label(t, y.Step, yMagnitude)}</text>\n");
            }
            foreach (var t in x.Values)
            {
                svg.Append(inv, $"<line x1=\"{F(Px(t))}\" x2=\"{F(Px(t))}\" y1=\"{top}\" y2=\"{top + PanelHeight}\" stroke=\"#efefef\"/>");
                svg.Append(inv, $"<text x=\"{F(Px(t))}\" y=\"{top + PanelHeight + 18}\" text-anchor=\"middle\">{Ticks.Label(t, x.Step, xMagnitude)}</text>\n");
            }
            svg.Append(inv, $"<rect x=\"{Left}\" y=\"{top}\" width=\"{PlotWidth}\" height=\"{PanelHeight}\" fill=\"none\" stroke=\"#888\"/>\n");
            svg.Append(inv, $"<text transform=\"translate({Left - 56} {top + PanelHeight / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(panel.YLabel)}</text>\n");
            svg.Append(inv, $"<text x=\"{Left + PlotWidth / 2}\" y=\"{top + PanelHeight + 38}\" text-anchor=\"middle\">{Escape(chart.XLabel)}</text>\n");

            var legend = new List<(string Name, string Color, SeriesStyle Style, bool Band, double Opacity)>();
            foreach (var s in panel.Series)
            {
                var finite = s.Points.Select((q, i) => (q, i)).Where(q => double.IsFinite(q.q.X) && double.IsFinite(q.q.Y)).ToList();
                if (s.Spread is { } spread)
                {
                    var band = finite.Where(q => double.IsFinite(spread[q.i])).ToList();
                    if (band.Count > 1)
                    {
                        var outline = band.Select(q => $"{F(Px(q.q.X))},{F(Py(q.q.Y + spread[q.i]))}")
                            .Concat(band.AsEnumerable().Reverse().Select(q => $"{F(Px(q.q.X))},{F(Py(q.q.Y - spread[q.i]))}"));
                        svg.Append(inv, $"<polygon points=\"{string.Join(' ', outline)}\" fill=\"{s.Color}\" fill-opacity=\"0.18\" stroke=\"none\"/>\n");
                    }
                }
                if (s.Style != SeriesStyle.Markers && finite.Count > 1)
                    svg.Append(inv, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"{(s.Opacity < 1 ? 1.2 : 2)}\" stroke-opacity=\"{F(s.Opacity)}\" stroke-linejoin=\"round\" points=\"{string.Join(' ', finite.Select(q => $"{F(Px(q.q.X))},{F(Py(q.q.Y))}"))}\"/>\n");
                if (s.Style != SeriesStyle.Line || finite.Count == 1)
                    foreach (var (q, _) in finite)
                        svg.Append(inv, $"<circle cx=\"{F(Px(q.X))}\" cy=\"{F(Py(q.Y))}\" r=\"3.5\" fill=\"{s.Color}\" fill-opacity=\"{F(s.Opacity)}\" stroke=\"white\" stroke-width=\"1\"/>");
                svg.Append('\n');
                legend.Add((finite.Count == 0 ? $"{s.Name} (no data)" : s.Name, s.Color, s.Style, false, s.Opacity));
                if (s.Spread is not null) legend.Add((s.SpreadName ?? "± spread", s.Color, s.Style, true, 1));
            }
            for (var i = 0; i < legend.Count; i++)
            {
                var (name, color, style, isBand, opacity) = legend[i];
                var ly = top + 14 + i * 22;
                if (isBand)
                    svg.Append(inv, $"<rect x=\"{LegendX}\" y=\"{ly - 7}\" width=\"26\" height=\"12\" fill=\"{color}\" fill-opacity=\"0.18\"/>");
                else
                {
                    if (style != SeriesStyle.Markers)
                        svg.Append(inv, $"<line x1=\"{LegendX}\" x2=\"{LegendX + 26}\" y1=\"{ly - 1}\" y2=\"{ly - 1}\" stroke=\"{color}\" stroke-width=\"2\" stroke-opacity=\"{F(opacity)}\"/>");
                    if (style != SeriesStyle.Line)
                        svg.Append(inv, $"<circle cx=\"{LegendX + 13}\" cy=\"{ly - 1}\" r=\"3.5\" fill=\"{color}\" fill-opacity=\"{F(opacity)}\" stroke=\"white\" stroke-width=\"1\"/>");
                }
                svg.Append(inv, $"<text x=\"{LegendX + 34}\" y=\"{ly + 3}\">{Escape(name)}</text>\n");
            }
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal);
}
