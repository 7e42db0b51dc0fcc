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
        var analytic = inputs.Select(x => x.Grad.IsEmpty ? new float[x.Length] : x.Grad.ToArray()).ToArray();

        for (var k = 0; k < inputs.Length; k++)
        {
            var v = inputs[k].Values;
            for (var i = 0; i < v.Length; i++)
            {
                var keep = v[i];
                v[i] = keep + H;
                var plus = Eval(f, inputs, r);
                v[i] = keep - H;
                var minus = Eval(f, inputs, r);
                v[i] = keep;
                var numeric = (plus - minus) / (2 * H);
                var a = analytic[k][i];
                Assert.True(Math.Abs(a - numeric) <= 2e-3 + 1e-2 * Math.Abs(numeric),
                    $"input {k} element {i}: analytic {a} vs numeric {numeric}");
            }
        }
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

    private static float[] Projection(int n)
    {
        var rng = new Rng(1234);
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
