using System.Globalization;
using System.Text;

namespace MeowRobot.Trainer.Reporting;

/// <summary>A line chart as a self-contained SVG (no plotting package here): learning curves a person can open anywhere.</summary>
public static class SvgPlot
{
    public sealed record Series(string Name, string Color, IReadOnlyList<(double X, double Y)> Points);

    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, int width = 720, int height = 420)
    {
        const int left = 70, right = 20, top = 40, bottom = 50;
        var all = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToArray();
        double x0 = all.Length > 0 ? all.Min(p => p.X) : 0, x1 = all.Length > 0 ? all.Max(p => p.X) : 1;
        double y0 = all.Length > 0 ? all.Min(p => p.Y) : 0, y1 = all.Length > 0 ? all.Max(p => p.Y) : 1;
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) { y0 -= 1; y1 += 1; }
        var pad = 0.05 * (y1 - y0);
        y0 -= pad;
        y1 += pad;
        double W = width - left - right, H = height - top - bottom;
        string X(double x) => F(left + (x - x0) / (x1 - x0) * W);
        string Y(double y) => F(top + (1 - (y - y0) / (y1 - y0)) * H);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>\n");
        for (var i = 0; i <= 5; i++)
        {
            double gy = y0 + (y1 - y0) * i / 5, gx = x0 + (x1 - x0) * i / 5;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{Y(gy)}\" y2=\"{Y(gy)}\" stroke=\"#ddd\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{Y(gy)}\" text-anchor=\"end\" dominant-baseline=\"middle\">{gy:G4}</text>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(gx)}\" y=\"{height - bottom + 18}\" text-anchor=\"middle\">{gx:G4}</text>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{F(W)}\" height=\"{F(H)}\" fill=\"none\" stroke=\"#444\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + W / 2)}\" y=\"{height - 12}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(16 {F(top + H / 2)}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>\n");
        for (var s = 0; s < series.Count; s++)
        {
            var pts = series[s].Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).Select(p => $"{X(p.X)},{Y(p.Y)}");
            svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{series[s].Color}\" stroke-width=\"2\" points=\"{string.Join(' ', pts)}\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + 10}\" y=\"{top + 16 + 16 * s}\" fill=\"{series[s].Color}\">{Escape(series[s].Name)}</text>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
}
