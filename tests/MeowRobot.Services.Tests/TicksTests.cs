using MeowRobot.Trainer.Reporting.Plotting;

namespace MeowRobot.Services.Tests;

public sealed class TicksTests
{
    [Theory]
    // The axes the old plot labelled −5.474, −307.1 and 1.28E+04.
    [InlineData(-5.474, 0, "−6 −5 −4 −3 −2 −1 0")]
    [InlineData(-1500, -307.1, "−1500 −1250 −1000 −750 −500 −250")]
    [InlineData(0, 12800, "0 2.5k 5.0k 7.5k 10.0k 12.5k 15.0k")]
    [InlineData(0, 20000, "0 5k 10k 15k 20k")]
    [InlineData(0.013, 0.47, "0 0.1 0.2 0.3 0.4 0.5")]
    [InlineData(3, 3, "2.7 2.8 2.9 3.0 3.1 3.2 3.3")]
    [InlineData(0, 2_500_000, "0 0.5M 1.0M 1.5M 2.0M 2.5M")]
    public void Ticks_fall_on_nice_numbers_that_cover_the_data(double min, double max, string expected)
    {
        var (low, high, step, values) = Ticks.For(min, max);
        Assert.True(low <= min && high >= max, $"[{low}, {high}] does not cover [{min}, {max}]");
        var magnitude = Math.Max(Math.Abs(low), Math.Abs(high));
        Assert.Equal(expected, string.Join(' ', values.Select(v => Ticks.Label(v, step, magnitude))));
    }

    [Fact]
    public void A_non_finite_range_still_gives_an_axis()
    {
        var (low, high, _, values) = Ticks.For(double.NaN, double.PositiveInfinity);
        Assert.True(high > low);
        Assert.True(values.Length >= 2);
    }
}
