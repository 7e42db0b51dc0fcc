using System.Globalization;

namespace MeowRobot.Trainer.Reporting.Plotting;

/// <summary>
/// Axis ticks at nice numbers (1, 2, 2.5 or 5 times a power of ten, the axis widened to whole steps: Heckbert's
/// "nice numbers for graph labels") and their labels: as many decimals as the step needs, thousands as "k" and millions
/// as "M" once the numbers reach five digits, a true minus sign. −5.474, −307.1 and 1.28E+04 become −5, −300 and 12.5k.
/// </summary>
public static class Ticks
{
    /// <summary>The axis range widened to whole steps, and the ticks on it (about <paramref name="target"/>).</summary>
    public static (double Low, double High, double Step, double[] Values) For(double min, double max, int target = 5)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max)) (min, max) = (0, 1);
        if (max < min) (min, max) = (max, min);
        if (max == min)
        {
            var pad = min == 0 ? 1 : Math.Abs(min) * 0.1;
            (min, max) = (min - pad, max + pad);
        }
        var step = Nice((max - min) / Math.Max(1, target - 1), round: true);
        var low = Math.Floor(min / step + 1e-9) * step;
        var high = Math.Ceiling(max / step - 1e-9) * step;
        var count = (int)Math.Round((high - low) / step) + 1;
        var values = new double[count];
        for (var i = 0; i < count; i++) values[i] = Clean(low + i * step, step);
        return (values[0], values[^1], step, values);
    }

    /// <summary>A tick's label for ticks <paramref name="step"/> apart on an axis whose largest magnitude is <paramref name="magnitude"/>.</summary>
    public static string Label(double value, double step, double magnitude)
    {
        if (value == 0) return "0";
        var (scale, suffix) = magnitude >= 1e6 ? (1e6, "M") : magnitude >= 1e4 ? (1e3, "k") : (1.0, "");
        var decimals = Math.Max(0, (int)-Math.Floor(Math.Log10(step / scale) + 1e-9));
        // 2.5 × 10^k steps need one decimal more than their power of ten.
        if (Math.Abs(Math.Round(step / scale * Math.Pow(10, decimals)) - step / scale * Math.Pow(10, decimals)) > 1e-6) decimals++;
        var text = (value / scale).ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        if (text.StartsWith('-')) text = "\u2212" + text[1..];
        return text + suffix;
    }

    private static double Nice(double x, bool round)
    {
        var exponent = Math.Floor(Math.Log10(x));
        var fraction = x / Math.Pow(10, exponent);
        var nice = round
            ? fraction < 1.5 ? 1 : fraction < 2.25 ? 2 : fraction < 3.5 ? 2.5 : fraction < 7.5 ? 5 : 10
            : fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
        return nice * Math.Pow(10, exponent);
    }

    /// <summary>low + i·step as a whole number of steps (no −0, no 1e-17 for zero).</summary>
    private static double Clean(double v, double step)
    {
        var r = Math.Round(v / step) * step;
        return Math.Abs(r) < step * 1e-9 ? 0 : r;
    }
}
