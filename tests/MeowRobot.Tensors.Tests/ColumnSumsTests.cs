using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors.Tests;

public class ColumnSumsTests
{
    [Fact]
    public void Column_sums_add_each_columns_total_over_the_rows_for_random_shapes()
    {
        // Widths cover the four-vector blocks, single vectors and the one-float tail (and widths below one vector).
        var cases = from rows in Gen.Choose(0, 40)
                    from cols in Gen.Choose(1, 150)
                    from seed in Gen.Choose(0, 1000)
                    select (rows, cols, seed);
        Prop.ForAll(Arb.From(cases), c =>
        {
            var rng = new Rng((ulong)c.seed);
            var x = new float[c.rows * c.cols];
            var sums = new float[c.cols];
            rng.FillUniform(x, -1f, 1f);
            rng.FillUniform(sums, -1f, 1f);
            var expected = new double[c.cols];
            for (var j = 0; j < c.cols; j++)
            {
                expected[j] = sums[j];
                for (var i = 0; i < c.rows; i++) expected[j] += x[i * c.cols + j];
            }
            ColumnSums.AddTo(x, sums);
            for (var j = 0; j < c.cols; j++) Assert.True(Math.Abs(sums[j] - expected[j]) <= 1e-5 * (1 + c.rows), $"{c}: column {j}: {sums[j]} vs {expected[j]}");
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
    }

    [Fact]
    public void Values_that_are_not_whole_rows_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => ColumnSums.AddTo(new float[7], new float[3]));
    }
}
