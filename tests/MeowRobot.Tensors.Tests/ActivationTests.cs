using System.Runtime.Intrinsics;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;
using static MeowRobot.Tensors.Tests.GradCheck;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Tensors.Tests;

/// <summary>The fused hidden-block op (LayerNorm? → Swish → Dropout?) and its vectorised logistic function (whose e^-|x| is
/// <see cref="NonPositiveExp"/>, also ELU's exponential in the controller's MLP-actor runtime).</summary>
public class ActivationTests
{
    /// <summary>Measured (AVX-512, every width, bit-identical): at most 2.13 ulp, at x ≈ -1.958, over [-87.6, 110] and
    /// the special points there, against double 1/(1+e^-x) in units of the float spacing at the exact value (subnormals
    /// included). e^-|x| is about 1 ulp; the sum and the quotient add half an ulp each.</summary>
    private const double MaxUlp = 2.5;

    /// <summary>Below -87.68 e^-|x| is flushed to 0 (σ under 2^-126.5 there, so the absolute error stays under the
    /// smallest normal float): the ulp bound holds from <see cref="UlpBoundBelow"/> up, exact 0 below
    /// <see cref="FlushedBelow"/>, either in between.</summary>
    private const float UlpBoundBelow = -87.6f, FlushedBelow = -87.7f;

    [Fact]
    public void Logistic_is_within_a_few_ulp_of_double_precision_at_every_width()
    {
        var xs = new List<float>();
        for (var x = -110.0; x <= 110.0; x += 1.0 / 4096) xs.Add((float)x);
        var rng = new Rng(3);
        for (var i = 0; i < 200_000; i++) xs.Add(rng.Uniform(-20f, 20f));
        xs.AddRange([-100f, 100f, -88f, 88f, -88.7f, 88.7f, -87.3f, -87.6f, -87.68f, -87.69f, -87.7f, -103.9f, -104f, -104.1f, -120f, 1e-30f, -1e-30f, 0f, -0f,
            float.Epsilon, 16.6f, 17f, -16.6f]);
        var input = xs.ToArray();
        float[]? first = null;
        foreach (var (name, f) in Widths())
        {
            var y = new float[input.Length];
            f(input, y);
            var worst = 0.0;
            var worstAt = 0f;
            for (var i = 0; i < input.Length; i++)
            {
                var exact = 1.0 / (1.0 + Math.Exp(-(double)input[i]));
                var err = Math.Abs(y[i] - exact) / Ulp(exact);
                if (input[i] < UlpBoundBelow)
                {
                    // The flush-to-zero range (and its fuzzy edge): 0 or accurate, never more than 2^-126 off.
                    Assert.True(y[i] == 0f || err <= MaxUlp, $"{name}: {y[i]} at x = {input[i]}");
                    Assert.True(Math.Abs(y[i] - exact) < 1.1754943508222875e-38, $"{name}: {y[i]} at x = {input[i]}");
                    if (input[i] < FlushedBelow) Assert.Equal(0f, y[i]);
                    continue;
                }
                if (err > worst) (worst, worstAt) = (err, input[i]);
            }
            Assert.True(worst <= MaxUlp, $"{name}: {worst:F2} ulp at x = {worstAt}");
            // Same operations in the same order at every width: identical bits, so results do not depend on the machine.
            first ??= y;
            Assert.Equal(first, y);
        }
    }

    [Fact]
    public void Logistic_saturates_cleanly_and_keeps_NaN()
    {
        float[] x = [float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, 1e10f, -1e10f, 100f, -200f, float.NaN];
        foreach (var (name, f) in Widths())
        {
            var y = new float[x.Length];
            f(x, y);
            Assert.True(y[..8] is [1f, 0f, 1f, 0f, 1f, 0f, 1f, 0f], $"{name}: {string.Join(", ", y)}");
            Assert.True(float.IsNaN(y[8]), name);
        }
    }

    /// <summary>Each width the kernels may run on here, applied element-wise through the same generic source (the
    /// vector widths on whole chunks, the one-float instance on the rest).</summary>
    private static IEnumerable<(string Name, Action<float[], float[]> Apply)> Widths()
    {
        yield return ("float", (x, y) => { for (var i = 0; i < x.Length; i++) y[i] = Logistic.Of<float, Lanes1>(x[i]); });
        if (Vector128.IsHardwareAccelerated) yield return ("Vector128", (x, y) => Chunks<Vector128<float>, Lanes128>(x, y));
        if (Vector256.IsHardwareAccelerated) yield return ("Vector256", (x, y) => Chunks<Vector256<float>, Lanes256>(x, y));
        if (Vector512.IsHardwareAccelerated) yield return ("Vector512", (x, y) => Chunks<Vector512<float>, Lanes512>(x, y));
        yield return ("Apply", (x, y) => Logistic.Apply(x, y));
    }

    private static void Chunks<TVec, TL>(float[] x, float[] y) where TVec : struct where TL : ILanes<TVec>
    {
        var j = 0;
        for (; j <= x.Length - TL.Count; j += TL.Count) TL.Store(Logistic.Of<TVec, TL>(TL.Load(x, j)), y, j);
        for (; j < x.Length; j++) y[j] = Logistic.Of<float, Lanes1>(x[j]);
    }

    private static double Ulp(double v)
    {
        var a = Math.Abs(v);
        if (a < 1.1754943508222875e-38) return Math.ScaleB(1.0, -149); // subnormal float spacing
        return Math.ScaleB(1.0, Math.ILogB(a) - 23);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void Hidden_activation_gradients_match_finite_differences(bool layerNorm, bool affine)
    {
        // 21 columns: one 16-wide chunk plus a tail, so both the vector and the one-float kernels are checked; 19 rows:
        // a whole block of rows (the kernels take 16 at a time) and a partial one.
        var x = Random(19, 21, -2f, 2f, 1);
        var w = RandomVector(21, 0.5f, 1.5f, 2);
        var b = RandomVector(21, -0.5f, 0.5f, 3);
        var beta = RandomVector(21, 0.5f, 1.5f, 4);
        if (affine)
            Check((t, v) => t.HiddenActivation(v[0], layerNorm, v[1], v[2], 1e-5f, v[3], 0f, null), x, w, b, beta);
        else
            Check((t, v) => t.HiddenActivation(v[0], layerNorm, null, null, 1e-5f, v[1], 0f, null), x, beta);
        // With dropout: a freshly seeded stream gives the same mask on every evaluation.
        if (affine)
            Check((t, v) => t.HiddenActivation(v[0], layerNorm, v[1], v[2], 1e-5f, v[3], 0.3f, new Rng(99)), x, w, b, beta);
        else
            Check((t, v) => t.HiddenActivation(v[0], layerNorm, null, null, 1e-5f, v[1], 0.3f, new Rng(99)), x, beta);
    }

    [Theory]
    [InlineData(true, 0.1f, 512, 64)]
    [InlineData(false, 0f, 256, 256)]
    [InlineData(false, 0.5f, 3, 21)]
    [InlineData(true, 0f, 5, 7)]
    public void Hidden_activation_equals_LayerNorm_Swish_Dropout_in_a_row(bool layerNorm, float p, int rows, int cols)
    {
        var x = Random(rows, cols, -3f, 3f, 11);
        var w = RandomVector(cols, 0.5f, 1.5f, 12);
        var b = RandomVector(cols, -0.5f, 0.5f, 13);
        var beta = RandomVector(cols, 0.5f, 1.5f, 14);
        var seed = Random(rows, cols, -1f, 1f, 15).ToArray();
        Tensor[] parameters = [w, b, beta];
        foreach (var t in parameters) t.RequiresGrad = true;

        (float[] Y, float[] Gx, float[][] Gp) Run(bool fused)
        {
            foreach (var t in parameters) t.ZeroGrad();
            var tape = new Tape();
            var rng = new Rng(7);
            var input = tape.Input(x, requiresGrad: true);
            Tensor y;
            if (fused) y = tape.HiddenActivation(input, layerNorm, w, b, 1e-5f, beta, p, rng);
            else
            {
                y = layerNorm ? tape.LayerNorm(input, w, b) : input;
                y = tape.Dropout(tape.Swish(y, beta), p, rng);
            }
            tape.Backward(y, seed);
            return (y.ToArray(), input.Grad.ToArray(), layerNorm ? [w.Grad.ToArray(), b.Grad.ToArray(), beta.Grad.ToArray()] : [beta.Grad.ToArray()]);
        }

        var fused = Run(true);
        var reference = Run(false);
        Close(reference.Y, fused.Y, "values");
        Close(reference.Gx, fused.Gx, "dx");
        for (var i = 0; i < fused.Gp.Length; i++) Close(reference.Gp[i], fused.Gp[i], $"parameter {i}");
        if (p > 0f) Assert.Contains(0f, fused.Y); // the mask did drop something
    }

    private static void Close(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f + 1e-5f * Math.Abs(expected[i]), $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void Hidden_activation_without_dropout_draws_nothing()
    {
        var tape = new Tape();
        var rng = new Rng(5);
        var state = rng.State;
        tape.HiddenActivation(Random(2, 8, -1f, 1f, 1), false, null, null, 1e-5f, RandomVector(8, 0.5f, 1.5f, 2), 0f, rng);
        Assert.Equal(state, rng.State);
    }

    [Fact]
    public void A_second_consumer_accumulates_onto_the_gradient_the_op_wrote_first()
    {
        // y = act(x) + 2x: the op writes dx uncleared on first touch; the Mul's backward must then add to it.
        var x = Random(3, 20, -1f, 1f, 21);
        var beta = RandomVector(20, 0.5f, 1.5f, 22);
        Check((t, v) =>
        {
            var h = t.Mul(v[0], 1f);
            return t.Add(t.HiddenActivation(h, true, null, null, 1e-5f, v[1], 0f, null), t.Mul(h, 2f));
        }, x, beta);
        Check((t, v) =>
        {
            var h = t.Mul(v[0], 1f);
            return t.Add(t.Mul(h, 2f), t.Swish(h, v[1]));
        }, x, beta);
    }

    [Theory]
    [InlineData(true, 0.1f)]
    [InlineData(false, 0f)]
    [InlineData(false, null)]
    public void Mlp_forward_equals_its_sequential_layers_and_the_first_layer_split(bool layerNorm, float? dropout)
    {
        var options = new MlpOptions { LayerNorm = layerNorm, Dropout = dropout };
        var fusedNet = new Mlp([14, 64, 64, 3], new Rng(4), options);
        var layered = new Mlp([14, 64, 64, 3], new Rng(4), options);
        var split = new Mlp([14, 64, 64, 3], new Rng(4), options);
        var input = Random(32, 14, -1f, 1f, 5);
        var tape = new Tape();
        var viaFused = fusedNet.Forward(tape, input).ToArray();
        var viaLayers = layered.Net.Forward(tape, input).ToArray(); // the modules one by one: unfused
        var first = split.FirstLayer;
        var viaSplit = split.ForwardFromFirstLayer(tape, tape.Linear(input, first.Weight, first.Bias)).ToArray();
        Close(viaLayers, viaFused, "fused vs layers");
        Assert.Equal(viaFused, viaSplit);
        Assert.Same(split.Net.Layers[0], split.FirstLayer);
    }

    [Fact]
    public void An_mlp_without_hidden_layers_is_its_linear()
    {
        var mlp = new Mlp([3, 2], new Rng(1));
        var tape = new Tape();
        var x = Random(4, 3, -1f, 1f, 2);
        Assert.Equal(tape.Linear(x, mlp.FirstLayer.Weight, mlp.FirstLayer.Bias).ToArray(), mlp.Forward(tape, x).ToArray());
    }
}
