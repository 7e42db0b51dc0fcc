using MeowRobot.Tensors;

namespace MeowRobot.Tensors.Tests;

public class TapeTests
{
    [Fact]
    public void Broadcasting_follows_rows_columns_and_scalars()
    {
        var tape = new Tape();
        var m = Tensor.FromValues(2, 2, [1f, 2f, 3f, 4f]);
        Assert.Equal([11f, 22f, 13f, 24f], tape.Add(m, Tensor.FromVector([10f, 20f])).ToArray());
        Assert.Equal([11f, 22f, 13f, 24f], tape.Add(Tensor.FromValues(1, 2, [10f, 20f]), m).ToArray());
        Assert.Equal([101f, 102f, 203f, 204f], tape.Add(m, Tensor.FromValues(2, 1, [100f, 200f])).ToArray());
        Assert.Equal([-1f, 0f, 1f, 2f], tape.Sub(m, Tensor.Scalar(2f)).ToArray());
        Assert.Equal([0.5f, 1f, 1.5f, 2f], tape.Div(m, Tensor.Scalar(2f)).ToArray());
        var outer = tape.Mul(Tensor.FromValues(2, 1, [1f, 2f]), Tensor.FromValues(1, 3, [1f, 10f, 100f]));
        Assert.Equal([2, 3], outer.Shape);
        Assert.Equal([1f, 10f, 100f, 2f, 20f, 200f], outer.ToArray());
        Assert.Equal([3], tape.Add(Tensor.FromVector([1f, 2f, 3f]), Tensor.FromVector([1f, 1f, 1f])).Shape);
    }

    [Fact]
    public void Incompatible_shapes_are_rejected_with_their_shapes_named()
    {
        var tape = new Tape();
        var e = Assert.Throws<ArgumentException>(() => tape.Add(new Tensor(3, 4), new Tensor(2, 4)));
        Assert.Contains("[3, 4]", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => tape.Mul(new Tensor(3, 4), new Tensor(3)));
        Assert.Throws<ArgumentException>(() => tape.MatMul(new Tensor(3, 4), new Tensor(3, 4)));
        Assert.Throws<ArgumentException>(() => tape.Linear(new Tensor(3, 4), new Tensor(2, 5)));
        Assert.Throws<ArgumentException>(() => tape.Concat(1, new Tensor(3, 4), new Tensor(2, 4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => tape.Narrow(new Tensor(3, 4), 1, 3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => tape.IndexColumns(new Tensor(3, 4), [4]));
    }

    [Fact]
    public void Forward_values_match_hand_computation()
    {
        var tape = new Tape();
        var a = Tensor.FromValues(2, 3, [1f, 2f, 3f, 4f, 5f, 6f]);
        var b = Tensor.FromValues(3, 2, [1f, 0f, 0f, 1f, 1f, 1f]);
        Assert.Equal([4f, 5f, 10f, 11f], tape.MatMul(a, b).ToArray());
        Assert.Equal([4f, 5f, 10f, 11f], tape.MatMul(a, tape.Input(b.Values, 3, 2), false, false).ToArray());
        // a^T a
        Assert.Equal([17f, 22f, 27f, 22f, 29f, 36f, 27f, 36f, 45f], tape.MatMul(a, a, transposeA: true).ToArray());
        // Linear: x W^T + b with W = b^T
        var w = Tensor.FromValues(2, 3, [1f, 0f, 1f, 0f, 1f, 1f]);
        Assert.Equal([4.5f, 4f, 10.5f, 10f], tape.Linear(a, w, Tensor.FromVector([0.5f, -1f])).ToArray());
        Assert.Equal([5f, 7f, 9f], tape.Sum(a, 0).ToArray());
        Assert.Equal([6f, 15f], tape.Sum(a, 1).ToArray());
        Assert.Equal([2, 1], tape.Sum(a, 1).Shape);
        Assert.Equal(3.5f, tape.Mean(a).Item());
        Assert.Equal([1f, 2f, 3f, 9f, 4f, 5f, 6f, 9f], tape.Concat(1, a, tape.Full(2, 1, 9f)).ToArray());
        Assert.Equal([3f, 1f, 6f, 4f], tape.IndexColumns(a, [2, 0]).ToArray());
        // LayerNorm of [1, 2, 3]: mean 2, biased variance 2/3.
        var ln = tape.LayerNorm(Tensor.FromValues(1, 3, [1f, 2f, 3f]), null, null);
        var s = 1 / Math.Sqrt(2.0 / 3 + 1e-5);
        Assert.Equal(-s, ln[0], 1e-5);
        Assert.Equal(0, ln[1], 1e-6);
        // Swish with beta 2 at x = 1: 1 * sigmoid(2).
        Assert.Equal(1 / (1 + Math.Exp(-2)), tape.Swish(Tensor.Scalar(1f), Tensor.FromVector([2f])).Item(), 1e-6);
    }

    [Fact]
    public void NoGrad_records_nothing_and_results_need_no_gradient()
    {
        var tape = new Tape();
        var w = Tensor.FromValues(2, 2, [1f, 2f, 3f, 4f], requiresGrad: true);
        Tensor y;
        using (tape.NoGrad())
        {
            y = tape.Tanh(tape.MatMul(w, w));
            Assert.False(tape.IsRecording);
        }
        Assert.True(tape.IsRecording);
        Assert.False(y.RequiresGrad);
        Assert.Equal(0, tape.RecordedOperations);
        Assert.Throws<InvalidOperationException>(() => tape.Backward(tape.Sum(y)));
        var z = tape.Sum(tape.MatMul(w, w));
        Assert.True(z.RequiresGrad);
        Assert.Equal(2, tape.RecordedOperations);
    }

    [Fact]
    public void Using_a_result_after_Reset_throws_instead_of_reading_reused_storage()
    {
        var tape = new Tape();
        var y = tape.Exp(new Tensor(2, 2));
        tape.Reset();
        Assert.Throws<InvalidOperationException>(() => y.ToArray());
        Assert.Throws<InvalidOperationException>(() => tape.Exp(y));
        Assert.Throws<InvalidOperationException>(() => new Tape().Exp(tape.Exp(new Tensor(1, 1))));
    }

    [Fact]
    public void Dropout_zeroes_about_p_of_the_elements_and_scales_the_rest()
    {
        var tape = new Tape();
        var x = tape.Full(100, 100, 1f);
        var y = tape.Dropout(x, 0.25f, new Rng(5)).Values;
        var zeros = 0;
        foreach (var v in y)
        {
            if (v == 0f) zeros++;
            else Assert.Equal(1f / 0.75f, v);
        }
        Assert.InRange(zeros, 2300, 2700); // 2500 ± 4.6 sigma
        Assert.Same(x, tape.Dropout(x, 0f, new Rng(5)));
    }

    [Fact]
    public void A_vector_Jacobian_product_seeds_the_output_gradient()
    {
        var tape = new Tape();
        var x = tape.Input([1f, 2f, 3f], 3, 1, requiresGrad: true);
        var y = tape.Square(x);
        tape.Backward(y, [1f, 10f, 100f]);
        Assert.Equal([2f, 40f, 600f], x.Grad.ToArray());
    }
}
