using MeowRobot.Tensors;
using static MeowRobot.Tensors.Tests.GradCheck;

namespace MeowRobot.Tensors.Tests;

public class GradientTests
{
    [Theory]
    [InlineData("neg", -2f, 2f)]
    [InlineData("exp", -2f, 2f)]
    [InlineData("log", 0.5f, 3f)]
    [InlineData("tanh", -2f, 2f)]
    [InlineData("atanh", -0.8f, 0.8f)]
    [InlineData("sigmoid", -3f, 3f)]
    [InlineData("softplus", -3f, 3f)]
    [InlineData("square", -2f, 2f)]
    [InlineData("sqrt", 0.5f, 3f)]
    [InlineData("relu", -2f, 2f)]
    [InlineData("add_scalar", -2f, 2f)]
    [InlineData("sub_scalar", -2f, 2f)]
    [InlineData("rsub_scalar", -2f, 2f)]
    [InlineData("mul_scalar", -2f, 2f)]
    [InlineData("div_scalar", -2f, 2f)]
    public void Unary_gradients_match_finite_differences(string op, float low, float high)
    {
        var x = Random(3, 5, low, high, 7);
        if (op == "relu") NudgeAwayFrom(x, 0f);
        Check((t, v) => op switch
        {
            "neg" => t.Neg(v[0]),
            "exp" => t.Exp(v[0]),
            "log" => t.Log(v[0]),
            "tanh" => t.Tanh(v[0]),
            "atanh" => t.Atanh(v[0]),
            "sigmoid" => t.Sigmoid(v[0]),
            "softplus" => t.Softplus(v[0]),
            "square" => t.Square(v[0]),
            "sqrt" => t.Sqrt(v[0]),
            "relu" => t.Relu(v[0]),
            "add_scalar" => t.Add(v[0], 1.5f),
            "sub_scalar" => t.Sub(v[0], 1.5f),
            "rsub_scalar" => t.Sub(1.5f, v[0]),
            "mul_scalar" => t.Mul(v[0], -2.5f),
            "div_scalar" => t.Div(v[0], 4f),
            _ => throw new ArgumentException(op),
        }, x);
    }

    [Fact]
    public void Softplus_matches_log1p_exp_in_double_across_its_range()
    {
        float[] xs = [-40f, -20f, -5f, -0.5f, 0f, 1e-3f, 0.5f, 5f, 19.9f, 20.1f, 50f];
        var tape = new Tape();
        var y = tape.Softplus(Tensor.FromVector(xs));
        for (var i = 0; i < xs.Length; i++)
        {
            // double; below -30 log1p(e) = e to double precision (1 + e would round away)
            var reference = xs[i] > 20 ? xs[i] : xs[i] < -30 ? Math.Exp(xs[i]) : Math.Log(1 + Math.Exp(xs[i]));
            Assert.True(Math.Abs(y[i] - reference) <= 2e-7 * Math.Abs(reference) + 1e-30, $"softplus({xs[i]}) = {y[i]}, expected {reference}");
        }
    }

    [Fact]
    public void Softplus_above_the_threshold_is_the_identity_with_unit_gradient()
    {
        var x = Tensor.FromValues(1, 2, [25f, 30f], requiresGrad: true);
        var tape = new Tape();
        var y = tape.Softplus(x);
        Assert.Equal([25f, 30f], y.ToArray());
        tape.Backward(tape.Sum(y));
        Assert.Equal([1f, 1f], x.Grad.ToArray());
    }

    [Fact]
    public void Clamp_passes_the_gradient_inside_and_zeroes_it_outside()
    {
        var x = Tensor.FromValues(1, 5, [-2f, -1f, 0.3f, 1f, 3f], requiresGrad: true);
        var tape = new Tape();
        var y = tape.Clamp(x, -1f, 1f);
        Assert.Equal([-1f, -1f, 0.3f, 1f, 1f], y.ToArray());
        tape.Backward(tape.Sum(y));
        // PyTorch: grad * (x >= min & x <= max); the ends are inside.
        Assert.Equal([0f, 1f, 1f, 1f, 0f], x.Grad.ToArray());
        var z = Random(3, 4, -0.9f, 0.9f, 3);
        Check((t, v) => t.Clamp(v[0], -0.95f, 0.95f), z);
    }

    public static TheoryData<int, int, int, int> BroadcastShapes => new()
    {
        { 3, 4, 3, 4 }, // same shape
        { 3, 4, 1, 4 }, // row
        { 3, 4, 3, 1 }, // column
        { 3, 4, 1, 1 }, // scalar
        { 1, 4, 3, 4 }, // row on the left
        { 3, 1, 3, 4 }, // column on the left
        { 3, 1, 1, 4 }, // outer: column with row
        { 1, 1, 3, 4 },
    };

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void Binary_gradients_match_finite_differences_under_broadcasting(int ar, int ac, int br, int bc)
    {
        foreach (var op in new[] { "add", "sub", "mul", "div", "min", "max" })
        {
            var a = Random(ar, ac, -2f, 2f, 11);
            var b = Random(br, bc, 0.5f, 2f, 12); // positive: a safe divisor, and distinct from a often enough
            if (op is "min" or "max") SeparateForMinMax(a, b);
            Check((t, v) => op switch
            {
                "add" => t.Add(v[0], v[1]),
                "sub" => t.Sub(v[0], v[1]),
                "mul" => t.Mul(v[0], v[1]),
                "div" => t.Div(v[0], v[1]),
                "min" => t.Minimum(v[0], v[1]),
                _ => t.Maximum(v[0], v[1]),
            }, a, b);
        }
    }

    [Fact]
    public void A_vector_broadcasts_as_a_row_and_its_gradient_sums_over_rows()
    {
        var x = Random(4, 3, -1f, 1f, 5);
        var bias = RandomVector(3, -1f, 1f, 6);
        Check((t, v) => t.Mul(t.Add(v[0], v[1]), v[1]), x, bias);
    }

    [Fact]
    public void Minimum_and_maximum_split_the_gradient_at_ties()
    {
        var a = Tensor.FromValues(1, 3, [1f, 2f, 3f], requiresGrad: true);
        var b = Tensor.FromValues(1, 3, [1f, 5f, 0f], requiresGrad: true);
        var tape = new Tape();
        tape.Backward(tape.Sum(tape.Minimum(a, b)));
        Assert.Equal([0.5f, 1f, 0f], a.Grad.ToArray());
        Assert.Equal([0.5f, 0f, 1f], b.Grad.ToArray());
        a.ZeroGrad();
        b.ZeroGrad();
        tape.Reset();
        tape.Backward(tape.Sum(tape.Maximum(a, b)));
        Assert.Equal([0.5f, 0f, 1f], a.Grad.ToArray());
        Assert.Equal([0.5f, 1f, 0f], b.Grad.ToArray());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_gradients_match_finite_differences_for_every_transposition(bool ta, bool tb)
    {
        const int m = 3, k = 4, n = 5;
        var a = ta ? Random(k, m, -1f, 1f, 1) : Random(m, k, -1f, 1f, 1);
        var b = tb ? Random(n, k, -1f, 1f, 2) : Random(k, n, -1f, 1f, 2);
        Check((t, v) => t.MatMul(v[0], v[1], ta, tb), a, b);
    }

    [Fact]
    public void Linear_gradients_match_finite_differences_with_and_without_bias()
    {
        var x = Random(5, 4, -1f, 1f, 1);
        var w = Random(3, 4, -1f, 1f, 2);
        var b = RandomVector(3, -1f, 1f, 3);
        Check((t, v) => t.Linear(v[0], v[1], v[2]), x, w, b);
        Check((t, v) => t.Linear(v[0], v[1]), x, w);
    }

    [Fact]
    public void A_linear_over_a_column_block_matches_finite_differences_and_sums_to_the_whole_layer()
    {
        var u = Random(5, 2, -1f, 1f, 4);
        var s = Random(5, 3, -1f, 1f, 5);
        var w = Random(4, 5, -1f, 1f, 6);
        var b = RandomVector(4, -1f, 1f, 7);
        Check((t, v) => t.LinearColumns(v[0], v[1], 2, v[2]), s, w, b);
        Check((t, v) => t.LinearColumns(v[0], v[1], 0), u, w);
        // The two blocks of a layer over [u, s] add up to the layer itself.
        var tape = new Tape();
        var whole = tape.Linear(tape.Concat(1, u, s), w, b);
        var split = tape.Add(tape.LinearColumns(u, w, 0, b), tape.LinearColumns(s, w, 2));
        for (var i = 0; i < whole.Length; i++) Assert.Equal(whole[i], split[i], 1e-5f);
        Assert.Throws<ArgumentException>(() => tape.LinearColumns(s, w, 3));
        Assert.Throws<ArgumentException>(() => tape.LinearColumns(s, w, -1));
    }

    [Fact]
    public void A_linear_block_plus_a_repeated_addend_matches_finite_differences_and_the_separate_ops()
    {
        // z part on two copies of 3 states (6 rows), the state part once per state (3 rows) as the addend.
        var z = Random(6, 2, -1f, 1f, 14);
        var byState = Random(3, 4, -1f, 1f, 15);
        var w = Random(4, 5, -1f, 1f, 16);
        var b = RandomVector(4, -1f, 1f, 17);
        Check((t, v) => t.LinearColumns(v[0], v[1], 0, v[2], v[3]), z, w, b, byState);
        var tape = new Tape();
        var fused = tape.LinearColumns(z, w, 0, b, byState);
        var separate = tape.Add(tape.LinearColumns(z, w, 0, b), tape.RepeatRows(byState, 2));
        for (var i = 0; i < fused.Length; i++) Assert.Equal(separate[i], fused[i], 1e-5f);
        Assert.Throws<ArgumentException>(() => tape.LinearColumns(Random(5, 2, -1f, 1f, 1), w, 0, b, byState)); // 5 rows: not copies of 3
    }

    [Fact]
    public void Reduction_gradients_match_finite_differences()
    {
        var x = Random(4, 3, -1f, 1f, 9);
        Check((t, v) => t.Sum(v[0]), x);
        Check((t, v) => t.Mean(v[0]), x);
        Check((t, v) => t.Sum(v[0], 0), x);
        Check((t, v) => t.Sum(v[0], 1), x);
        Check((t, v) => t.Mean(v[0], 0), x);
        Check((t, v) => t.Mean(v[0], 1), x);
    }

    [Fact]
    public void Shape_gradients_match_finite_differences()
    {
        var a = Random(3, 2, -1f, 1f, 1);
        var b = Random(3, 4, -1f, 1f, 2);
        var c = Random(2, 2, -1f, 1f, 3);
        Check((t, v) => t.Concat(1, v[0], v[1]), a, b);
        Check((t, v) => t.Concat(0, v[0], v[1]), a, c);
        Check((t, v) => t.Narrow(v[0], 1, 1, 2), b);
        Check((t, v) => t.Narrow(v[0], 0, 1, 2), b);
        Check((t, v) =>
        {
            var pieces = new Tensor[2];
            t.Split(v[0], 1, [1, 3], pieces);
            return t.Concat(1, t.Mul(pieces[0], 2f), pieces[1]);
        }, b);
        Check((t, v) => t.IndexColumns(v[0], [3, 0, 0, 2]), b);
        Check((t, v) => t.Mul(t.RepeatRows(v[0], 3), t.RepeatRows(v[0], 3)), c); // each copy's gradient reaches the source
    }

    [Fact]
    public void Fused_layer_gradients_match_finite_differences()
    {
        var x = Random(4, 6, -2f, 2f, 1);
        var w = RandomVector(6, 0.5f, 1.5f, 2);
        var b = RandomVector(6, -0.5f, 0.5f, 3);
        Check((t, v) => t.LayerNorm(v[0], v[1], v[2]), x, w, b);
        Check((t, v) => t.LayerNorm(v[0], null, null), x);
        var beta = RandomVector(6, 0.5f, 1.5f, 4);
        Check((t, v) => t.Swish(v[0], v[1]), x, beta);
        Check((t, v) => t.Dropout(v[0], 0.3f, new Rng(99)), x); // same mask on every evaluation
    }

    [Fact]
    public void A_composite_graph_reusing_tensors_accumulates_correctly()
    {
        var x = Random(3, 4, -1f, 1f, 1);
        var w = Random(2, 4, -1f, 1f, 2);
        Check((t, v) =>
        {
            var h = t.Tanh(t.Linear(v[0], v[1]));
            return t.Add(t.Mul(h, h), t.Sum(t.Exp(h), 1));
        }, x, w);
    }

    [Fact]
    public void Gradients_reach_tape_inputs_and_hold_the_latest_pass_only()
    {
        var tape = new Tape();
        var w = Tensor.FromValues(1, 2, [3f, -4f], requiresGrad: true);
        for (var pass = 0; pass < 2; pass++)
        {
            tape.Reset();
            var a = tape.Input([1f, 2f, 5f, 6f], 2, 2, requiresGrad: true);
            var q = tape.Linear(a, w);                // [2, 1]
            tape.Backward(tape.Sum(tape.Square(q)));  // d/da = 2 q w
            // q = [3 - 8, 15 - 24] = [-5, -9]
            Assert.Equal([-30f, 40f, -54f, 72f], a.Grad.ToArray());
        }
        // The leaf accumulated over both passes: 2 * (2 Σ q_i a_i).
        Assert.Equal([2 * 2 * (-5f * 1 + -9f * 5), 2 * 2 * (-5f * 2 + -9f * 6)], w.Grad.ToArray());
    }

    private static void NudgeAwayFrom(Tensor x, float kink)
    {
        var v = x.Values;
        for (var i = 0; i < v.Length; i++)
            if (Math.Abs(v[i] - kink) < 0.05f) v[i] = kink + 0.1f;
    }

    /// <summary>Keeps min/max operands apart by more than the finite-difference step (away from the kink).</summary>
    private static void SeparateForMinMax(Tensor a, Tensor b)
    {
        var av = a.Values;
        var bv = b.Values;
        for (var i = 0; i < av.Length; i++)
        for (var j = 0; j < bv.Length; j++)
            if (Math.Abs(av[i] - bv[j]) < 0.05f) av[i] = bv[j] + 0.1f;
        for (var i = 0; i < av.Length; i++)
        for (var j = 0; j < bv.Length; j++)
            if (Math.Abs(av[i] - bv[j]) < 0.01f) throw new InvalidOperationException("test data: pick another seed");
    }
}
