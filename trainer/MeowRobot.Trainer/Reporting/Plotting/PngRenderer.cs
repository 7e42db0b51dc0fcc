using System.ComponentModel;
using System.Diagnostics;

namespace MeowRobot.Trainer.Reporting.Plotting;

/// <summary>
/// The PNG of a chart is its SVG rasterised by librsvg's rsvg-convert (Debian's librsvg2-bin, in ./meow's PACKAGES):
/// one drawing for both files, so the PNG cannot differ from the SVG, and no raster or font code of our own.
/// </summary>
public static class PngRenderer
{
    public const string Tool = "rsvg-convert";

    /// <summary>Writes <paramref name="pngPath"/> from the SVG file; null on success, else why not (the SVG stays).</summary>
    public static string? Render(string svgPath, string pngPath)
    {
        var info = new ProcessStartInfo(Tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--format", "png", "--output", pngPath, svgPath }) info.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(info)!;
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                p.Kill();
                return $"{Tool} did not finish within 60 s";
            }
            return p.ExitCode == 0 ? null : $"{Tool} failed ({p.ExitCode}): {err.Result.Trim()}";
        }
        catch (Win32Exception)
        {
            return $"no PNG: {Tool} is missing (apt-get install librsvg2-bin)";
        }
    }
}
