using MeowRobot.Tensors;

namespace MeowRobot.Tensors.Tests;

/// <summary>
/// Compares the tape's gradients with central finite differences of the same float32 forward pass.
/// <para>
/// The checked scalar is L = Σ out·R for a fixed random R, accumulated in double from the float32 outputs, so the only
/// float32 rounding in L is that of the outputs themselves (a few ulps, ~1e-7 relative). With step h = 1e-3 that
/// rounding contributes at most ~1e-7·Σ|out·R|/(2h) ≈ 1e-4·Σ|out·R| to a difference quotient, and the O(h²)
/// truncation error of the central difference is ~1e-6 for our smooth test points. Hence the tolerance
/// |analytic − numeric| ≤ 2e-3 + 1e-2·|numeric|, far below the size of any real mistake (a missing factor or sign).
/// </para>
/// </summary>
internal static class GradCheck
{
    private const float H = 1e-3f;

    public static void Check(Func<Tape, IReadOnlyList<Tensor>, Tensor> f, params Tensor[] inputs)
    {
        foreach (var x in inputs) x.RequiresGrad = true;
        var tape = new Tape();
        var output = f(tape, inputs);
        var r = Projection(output.Length);
        var proj = tape.Mul(output, Tensor.FromValues(output.Rows, output.Cols, r));
        var loss = tape.Sum(proj);
        foreach (var x in inputs) x.ZeroGrad();
        tape.Backward(loss);
        AgreesWithCentralDifferences(inputs, () => Eval(f, inputs, r), "");
    }

    /// <summary>Each input's gradient (read now) against central differences of <paramref name="scalar"/>.</summary>
    private static void AgreesWithCentralDifferences(Tensor[] inputs, Func<double> scalar, string what)
    {
        var analytic = inputs.Select(x => x.Grad.IsEmpty ? new float[x.Length] : x.Grad.ToArray()).ToArray();
        for (var k = 0; k < inputs.Length; k++)
        {
            var v = inputs[k].Values;
            for (var i = 0; i < v.Length; i++)
            {
                var keep = v[i];
                v[i] = keep + H;
                var plus = scalar();
                v[i] = keep - H;
                var minus = scalar();
                v[i] = keep;
                var numeric = (plus - minus) / (2 * H);
                var a = analytic[k][i];
                Assert.True(Math.Abs(a - numeric) <= 2e-3 + 1e-2 * Math.Abs(numeric),
                    $"{what}input {k} element {i}: analytic {a} vs numeric {numeric}");
            }
        }
    }

    /// <summary>
    /// Second derivatives: L1 = Σ f(inputs)·R1 and its gradient g = dL1/d inputs[wrt] from <see cref="Tape.Grad(Tensor, Tensor, bool)"/>
    /// with a created graph, then L2 = Σ g·R2 back-propagated to every input. Each input's d L2 / d input is compared
    /// with central differences of L2 where g comes from the first-order <see cref="Tape.Backward(Tensor)"/> (the
    /// trusted fused kernels), so the check also covers the create-graph gradient's values against Backward's.
    /// </summary>
    public static void CheckSecondOrder(Func<Tape, IReadOnlyList<Tensor>, Tensor> f, int wrt, params Tensor[] inputs)
    {
        foreach (var x in inputs) x.RequiresGrad = true;
        var tape = new Tape();
        var output = f(tape, inputs);
        var r1 = Projection(output.Length);
        var r2 = Projection(inputs[wrt].Length, 99);
        var l1 = tape.Sum(tape.Mul(output, Tensor.FromValues(output.Rows, output.Cols, r1)));
        var g = tape.Grad(l1, inputs[wrt], createGraph: true);
        var firstOrder = FirstOrderGradient(f, inputs, wrt, r1);
        for (var i = 0; i < firstOrder.Length; i++)
            Assert.True(Math.Abs(g.Values[i] - firstOrder[i]) <= 1e-5 + 1e-5 * Math.Abs(firstOrder[i]),
                $"create-graph gradient element {i}: {g.Values[i]} vs Backward's {firstOrder[i]}");
        foreach (var x in inputs) x.ZeroGrad();
        if (g.RequiresGrad)
        {
            var l2 = tape.Sum(tape.Mul(g, Tensor.FromValues(g.Rows, g.Cols, r2)));
            tape.Backward(l2);
        }
        // d L2 / d input against central differences of L2 with the first-order gradient
        AgreesWithCentralDifferences(inputs, () => Dot(FirstOrderGradient(f, inputs, wrt, r1), r2), "second order, ");
    }

    /// <summary>d Σ f·R1 / d inputs[wrt] by the first-order Backward.</summary>
    private static float[] FirstOrderGradient(Func<Tape, IReadOnlyList<Tensor>, Tensor> f, Tensor[] inputs, int wrt, float[] r1)
    {
        foreach (var x in inputs) x.ZeroGrad();
        var tape = new Tape();
        var o = f(tape, inputs);
        tape.Backward(tape.Sum(tape.Mul(o, Tensor.FromValues(o.Rows, o.Cols, r1))));
        var grad = inputs[wrt].Grad.IsEmpty ? new float[inputs[wrt].Length] : inputs[wrt].Grad.ToArray();
        foreach (var x in inputs) x.ZeroGrad();
        return grad;
    }

    private static double Dot(float[] a, float[] b)
    {
        double s = 0;
        for (var i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }

    private static double Eval(Func<Tape, IReadOnlyList<Tensor>, Tensor> f, Tensor[] inputs, float[] r)
    {
        var tape = new Tape();
        using (tape.NoGrad())
        {
            var o = f(tape, inputs).Values;
            double s = 0;
            for (var i = 0; i < o.Length; i++) s += (double)o[i] * r[i];
            return s;
        }
    }

    private static float[] Projection(int n, ulong seed = 1234)
    {
        var rng = new Rng(seed);
        var r = new float[n];
        for (var i = 0; i < n; i++) r[i] = rng.Uniform(-1f, 1f);
        return r;
    }

    public static Tensor Random(int rows, int cols, float low, float high, ulong seed)
    {
        var rng = new Rng(seed);
        var t = new Tensor(rows, cols);
        rng.FillUniform(t.Values, low, high);
        return t;
    }

    public static Tensor RandomVector(int n, float low, float high, ulong seed)
    {
        var rng = new Rng(seed);
        var t = new Tensor(n);
        rng.FillUniform(t.Values, low, high);
        return t;
    }
}
