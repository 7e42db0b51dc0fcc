using MeowRobot.Tensors;
using static MeowRobot.Tensors.Tests.GradCheck;

namespace MeowRobot.Tensors.Tests;

/// <summary>The create-graph mode (<see cref="Tape.Grad(Tensor, Tensor, bool)"/>): second derivatives of every op S2AC
/// uses, op by op and through an MLP's input gradient, against finite differences of the first-order Backward.</summary>
public class SecondOrderTests
{
    [Theory]
    [InlineData("exp", -2f, 2f)]
    [InlineData("log", 0.5f, 3f)]
    [InlineData("tanh", -2f, 2f)]
    [InlineData("atanh", -0.8f, 0.8f)]
    [InlineData("sigmoid", -3f, 3f)]
    [InlineData("softplus", -3f, 3f)]
    [InlineData("square", -2f, 2f)]
    [InlineData("sqrt", 0.5f, 3f)]
    [InlineData("relu", -2f, 2f)]
    [InlineData("elu", -2f, 2f)]
    [InlineData("clamp", -2f, 2f)]
    [InlineData("neg", -2f, 2f)]
    [InlineData("scalars", -2f, 2f)]
    public void Unary_second_derivatives_match_finite_differences(string op, float low, float high)
    {
        var x = Random(3, 5, low, high, 7);
        var w = Random(3, 5, -1f, 1f, 8); // a second input so that the gradient has something to depend on
        if (op is "relu" or "elu" or "clamp") NudgeAwayFrom(x, op == "clamp" ? [-1f, 1f] : [0f]);
        CheckSecondOrder((t, v) =>
        {
            var u = t.Mul(v[0], v[1]);
            var y = op switch
            {
                "exp" => t.Exp(v[0]),
                "log" => t.Log(v[0]),
                "tanh" => t.Tanh(v[0]),
                "atanh" => t.Atanh(v[0]),
                "sigmoid" => t.Sigmoid(v[0]),
                "softplus" => t.Softplus(v[0]),
                "square" => t.Square(v[0]),
                "sqrt" => t.Sqrt(v[0]),
                "relu" => t.Relu(v[0]),
                "elu" => t.Elu(v[0]),
                "clamp" => t.Clamp(v[0], -1f, 1f),
                "neg" => t.Neg(v[0]),
                "scalars" => t.Sub(2f, t.Div(t.Add(t.Mul(v[0], 3f), 0.5f), 2f)),
                _ => throw new ArgumentException(op),
            };
            return t.Mul(y, t.Exp(u));
        }, 0, x, w);
    }

    [Fact]
    public void Elu_matches_its_definition_and_its_first_derivative_matches_finite_differences()
    {
        var x = Random(4, 6, -3f, 3f, 3);
        NudgeAwayFrom(x, [0f]);
        var tape = new Tape();
        var y = tape.Elu(x);
        for (var i = 0; i < x.Length; i++)
        {
            var reference = x.Values[i] > 0 ? x.Values[i] : Math.Exp(x.Values[i]) - 1;
            Assert.True(Math.Abs(y.Values[i] - reference) <= 2e-7, $"elu({x.Values[i]}) = {y.Values[i]}, expected {reference}");
        }
        Check((t, v) => t.Elu(v[0]), x);
    }

    [Theory]
    [InlineData("add")]
    [InlineData("sub")]
    [InlineData("mul")]
    [InlineData("div")]
    [InlineData("min")]
    [InlineData("max")]
    [InlineData("mul_row")]
    [InlineData("div_column")]
    [InlineData("min_scalar")]
    public void Binary_second_derivatives_match_finite_differences(string op)
    {
        var a = Random(4, 3, 0.5f, 2f, 11);
        var b = op switch
        {
            "mul_row" => Random(1, 3, 0.5f, 2f, 12),
            "div_column" => Random(4, 1, 0.5f, 2f, 12),
            "min_scalar" => Random(1, 1, 0.5f, 2f, 12),
            _ => Random(4, 3, 0.5f, 2f, 12),
        };
        if (op.StartsWith("min") || op == "max") SeparateFrom(a, b);
        CheckSecondOrder((t, v) =>
        {
            var y = op switch
            {
                "add" => t.Add(v[0], v[1]),
                "sub" => t.Sub(v[0], v[1]),
                "mul" or "mul_row" => t.Mul(v[0], v[1]),
                "div" or "div_column" => t.Div(v[0], v[1]),
                "min" or "min_scalar" => t.Minimum(v[0], v[1]),
                "max" => t.Maximum(v[0], v[1]),
                _ => throw new ArgumentException(op),
            };
            return t.Mul(y, t.Mul(y, v[0])); // y² a: curvature in both operands
        }, 0, a, b);
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(-1, true)]
    [InlineData(0, true)]
    [InlineData(1, true)]
    public void Sum_and_mean_second_derivatives_match_finite_differences(int dim, bool mean)
    {
        var x = Random(4, 3, -1f, 1f, 21);
        CheckSecondOrder((t, v) =>
        {
            var s = dim < 0 ? (mean ? t.Mean(v[0]) : t.Sum(v[0])) : (mean ? t.Mean(v[0], dim) : t.Sum(v[0], dim));
            return t.Mul(t.Square(s), t.Expand(s, s.Rows, s.Cols));
        }, 0, x);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_second_derivatives_match_finite_differences(bool ta, bool tb)
    {
        var a = ta ? Random(3, 4, -1f, 1f, 31) : Random(4, 3, -1f, 1f, 31);
        var b = tb ? Random(2, 3, -1f, 1f, 32) : Random(3, 2, -1f, 1f, 32);
        CheckSecondOrder((t, v) => t.Tanh(t.MatMul(v[0], v[1], ta, tb)), 0, a, b);
        CheckSecondOrder((t, v) => t.Tanh(t.MatMul(v[0], v[1], ta, tb)), 1, a, b);
    }

    [Fact]
    public void Linear_concat_and_expand_second_derivatives_match_finite_differences()
    {
        var s = Random(5, 2, -1f, 1f, 41);
        var act = Random(5, 3, -1f, 1f, 42);
        var w = Random(4, 5, -0.7f, 0.7f, 43);
        var bias = RandomVector(4, -0.5f, 0.5f, 44);
        CheckSecondOrder((t, v) => t.Softplus(t.Linear(t.Concat(1, v[0], v[1]), v[2], v[3])), 1, s, act, w, bias);
        CheckSecondOrder((t, v) => t.Softplus(t.Linear(t.Concat(1, v[0], v[1]), v[2], v[3])), 2, s, act, w, bias);
        var row = Random(1, 3, -1f, 1f, 45);
        CheckSecondOrder((t, v) => t.Tanh(t.Mul(t.Expand(v[0], 4, 3), t.Expand(t.Sum(v[0]), 4, 3))), 0, row);
    }

    [Fact]
    public void Pairwise_ops_first_and_second_derivatives_match_finite_differences()
    {
        const int p = 4;
        var x = Random(3 * p, 2, -1f, 1f, 51);
        var k = Random(3 * p, p, -1f, 1f, 52);
        var y = Random(3 * p, 2, -1f, 1f, 53);
        Check((t, v) => t.PairwiseSquaredDistances(v[0], p), x);
        Check((t, v) => t.GroupMatMul(v[0], v[1], p), k, y);
        Check((t, v) => t.GroupMatMul(v[0], v[1], p, transposeA: true), k, y);
        Check((t, v) => t.GroupMatMul(v[0], v[1], p, transposeB: true), x, y);
        var kk = Random(3 * p, p, 0.1f, 1f, 54);
        Check((t, v) => t.WeightedPairwiseDifferences(v[0], v[1], null, p), kk, x);
        Check((t, v) => t.WeightedPairwiseDifferences(v[0], v[1], v[2], p), kk, x, y);
        CheckSecondOrder((t, v) => t.Tanh(t.WeightedPairwiseDifferences(v[0], v[1], v[2], p)), 0, kk, x, y);
        CheckSecondOrder((t, v) => t.Tanh(t.WeightedPairwiseDifferences(v[0], v[1], v[2], p)), 1, kk, x, y);
        CheckSecondOrder((t, v) => t.Tanh(t.WeightedPairwiseDifferences(v[0], v[1], v[2], p)), 2, kk, x, y);
        CheckSecondOrder((t, v) => t.Tanh(t.WeightedPairwiseDifferences(v[0], v[1], null, p)), 1, kk, x);
        CheckSecondOrder((t, v) => t.Exp(t.Mul(t.PairwiseSquaredDistances(v[0], p), -0.5f)), 0, x);
        CheckSecondOrder((t, v) => t.Tanh(t.Reshape(t.Square(v[0]), 2 * p * 3, 1)), 0, x);
        Check((t, v) => t.Mul(t.RepeatEachRow(v[0], p), t.RepeatEachRow(v[0], p)), Random(3, 2, -1f, 1f, 55));
        CheckSecondOrder((t, v) => t.Tanh(t.GroupMatMul(v[0], v[1], p)), 1, k, y);
        CheckSecondOrder((t, v) => t.Tanh(t.GroupMatMul(v[0], v[1], p, transposeA: true)), 0, k, y);
        CheckSecondOrder((t, v) => t.Tanh(t.GroupMatMul(v[0], v[1], p, transposeB: true)), 1, x, y);
    }

    [Fact]
    public void Pairwise_ops_match_their_definitions()
    {
        const int p = 3;
        var x = Random(2 * p, 2, -1f, 1f, 61);
        var k = Random(2 * p, p, -1f, 1f, 62);
        var tape = new Tape();
        var d = tape.PairwiseSquaredDistances(x, p);
        var ky = tape.GroupMatMul(k, x, p);
        var kty = tape.GroupMatMul(k, x, p, transposeA: true);
        for (var g = 0; g < 2; g++)
        for (var i = 0; i < p; i++)
        {
            for (var j = 0; j < p; j++)
            {
                var dx = x[g * p + i, 0] - x[g * p + j, 0];
                var dy = x[g * p + i, 1] - x[g * p + j, 1];
                Assert.Equal(dx * dx + dy * dy, d[g * p + i, j], 6);
            }
            for (var c = 0; c < 2; c++)
            {
                float s = 0, st = 0;
                for (var j = 0; j < p; j++)
                {
                    s += k[g * p + i, j] * x[g * p + j, c];
                    st += k[g * p + j, i] * x[g * p + j, c];
                }
                Assert.Equal(s, ky[g * p + i, c], 6);
                Assert.Equal(st, kty[g * p + i, c], 6);
            }
        }
    }

    /// <summary>The composite the issue names: an ELU MLP critic's input gradient (S2AC's score ∇ₐQ(s, a)),
    /// differentiated again with respect to the input and every weight.</summary>
    [Fact]
    public void Mlp_input_gradient_differentiated_again_matches_finite_differences()
    {
        var s = Random(6, 3, -1f, 1f, 71);
        var a = Random(6, 2, -1f, 1f, 72);
        var w0 = Random(5, 5, -0.8f, 0.8f, 73);
        var b0 = RandomVector(5, -0.3f, 0.3f, 74);
        var w1 = Random(5, 5, -0.8f, 0.8f, 75);
        var b1 = RandomVector(5, -0.3f, 0.3f, 76);
        var w2 = Random(1, 5, -0.8f, 0.8f, 77);
        var b2 = RandomVector(1, -0.3f, 0.3f, 78);
        Tensor Critic(Tape t, IReadOnlyList<Tensor> v)
        {
            var h = t.Elu(t.Linear(t.Concat(1, v[0], v[1]), v[2], v[3]));
            h = t.Elu(t.Linear(h, v[4], v[5]));
            return t.Linear(h, v[6], v[7]);
        }
        CheckSecondOrder(Critic, 1, s, a, w0, b0, w1, b1, w2, b2);
        // the gradient a loss of the score gives the weights, as S2AC's actor step differentiates it
        CheckSecondOrder((t, v) => t.Tanh(Critic(t, v)), 1, s, a, w0, b0, w1, b1, w2, b2);
    }

    [Fact]
    public void Grad_leaves_accumulated_gradients_alone_and_reads_zero_for_unreached_inputs()
    {
        var w = Random(3, 2, -1f, 1f, 81);
        var x = Random(4, 2, -1f, 1f, 82);
        var other = Random(4, 2, -1f, 1f, 83);
        w.RequiresGrad = true;
        var tape = new Tape();
        var xi = tape.Input(x, requiresGrad: true);
        var oi = tape.Input(other, requiresGrad: true);
        var q = tape.Sum(tape.Elu(tape.Linear(xi, w)));
        Span<Tensor> grads = new Tensor[2];
        tape.Grad(q, [xi, oi], grads);
        Assert.True(w.Grad.IsEmpty || w.Grad.ToArray().All(v => v == 0f));
        Assert.False(grads[0].RequiresGrad); // no graph asked for
        Assert.All(grads[1].ToArray(), v => Assert.Equal(0f, v));
        tape.Backward(q);
        for (var i = 0; i < xi.Length; i++) Assert.Equal(xi.Grad[i], grads[0].Values[i], 6);
    }

    [Fact]
    public void Second_order_step_repeats_without_allocating_once_warm()
    {
        var s = Random(64, 3, -1f, 1f, 91);
        var a = Random(64, 2, -1f, 1f, 92);
        var w0 = Random(32, 5, -0.5f, 0.5f, 93);
        var w1 = Random(1, 32, -0.5f, 0.5f, 94);
        w0.RequiresGrad = w1.RequiresGrad = true;
        var tape = new Tape();
        void Step()
        {
            tape.Reset();
            var ai = tape.Input(a, requiresGrad: true);
            var q = tape.Linear(tape.Elu(tape.Linear(tape.Concat(1, tape.Input(s), ai), w0)), w1);
            var score = tape.Grad(tape.Sum(q), ai, createGraph: true);
            tape.Backward(tape.Mean(tape.Square(score)));
        }
        for (var i = 0; i < 3; i++) Step();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 5; i++) Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static void NudgeAwayFrom(Tensor x, float[] kinks)
    {
        var v = x.Values;
        for (var i = 0; i < v.Length; i++)
            foreach (var k in kinks)
                if (MathF.Abs(v[i] - k) < 0.05f) v[i] = k + (v[i] >= k ? 0.1f : -0.1f);
    }

    private static void SeparateFrom(Tensor a, Tensor b)
    {
        var av = a.Values;
        for (var i = 0; i < a.Rows; i++)
        for (var j = 0; j < a.Cols; j++)
        {
            var bv = b[b.Rows == 1 ? 0 : i, b.Cols == 1 ? 0 : j];
            if (MathF.Abs(av[i * a.Cols + j] - bv) < 0.05f) av[i * a.Cols + j] = bv + 0.1f;
        }
    }
}
