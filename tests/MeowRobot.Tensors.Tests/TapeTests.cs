using FsCheck;
using FsCheck.Fluent;
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
    public void Broadcast_results_and_gradients_match_an_index_by_index_reference_for_random_shapes()
    {
        // Operand kinds: 0 full [R, C], 1 row [1, C], 2 column [R, 1], 3 scalar [1, 1], 4 vector [C].
        var cases = from r in Gen.Choose(1, 9)
                    from c in Gen.Choose(1, 40)
                    from ka in Gen.Choose(0, 4)
                    from kb in Gen.Choose(0, 4)
                    from op in Gen.Choose(0, 5)
                    select (r, c, ka, kb, op);
        Prop.ForAll(Arb.From(cases), x => CheckBroadcast(x.r, x.c, x.ka, x.kb, x.op)).QuickCheckThrowOnFailure();
    }

    private static bool CheckBroadcast(int r, int c, int ka, int kb, int op)
    {
        var rng = new Rng((ulong)(r * 1000 + c * 10 + ka * 5 + kb + op * 100000));
        Tensor Make(int kind)
        {
            var t = kind switch { 0 => new Tensor(r, c, true), 1 => new Tensor(1, c, true), 2 => new Tensor(r, 1, true), 3 => new Tensor(1, 1, true), _ => new Tensor(c, true) };
            rng.FillUniform(t.Values, 0.5f, 2f);
            return t;
        }
        var a = Make(ka);
        var b = Make(kb);
        var tape = new Tape();
        var y = op switch { 0 => tape.Add(a, b), 1 => tape.Sub(a, b), 2 => tape.Mul(a, b), 3 => tape.Div(a, b), 4 => tape.Minimum(a, b), _ => tape.Maximum(a, b) };
        var outR = (ka is 0 or 2) || (kb is 0 or 2) ? r : 1;
        var outC = (ka is 0 or 1 or 4) || (kb is 0 or 1 or 4) ? c : 1;
        if (y.Rows != outR || y.Cols != outC) return false;
        // Seed gradient: all ones; expected gradients accumulate over the broadcast positions.
        tape.Backward(y, Enumerable.Repeat(1f, y.Length).ToArray());
        var ga = new double[a.Length];
        var gb = new double[b.Length];
        for (var i = 0; i < outR; i++)
        for (var j = 0; j < outC; j++)
        {
            var ia = (a.Rows == 1 ? 0 : i) * a.Cols + (a.Cols == 1 ? 0 : j);
            var ib = (b.Rows == 1 ? 0 : i) * b.Cols + (b.Cols == 1 ? 0 : j);
            double av = a[ia], bv = b[ib];
            var expected = op switch { 0 => av + bv, 1 => av - bv, 2 => av * bv, 3 => av / bv, 4 => Math.Min(av, bv), _ => Math.Max(av, bv) };
            if (Math.Abs(y[i * outC + j] - expected) > 1e-6 * Math.Abs(expected)) return false;
            var (da, db) = op switch
            {
                0 => (1.0, 1.0),
                1 => (1.0, -1.0),
                2 => (bv, av),
                3 => (1 / bv, -av / (bv * bv)),
                4 => av == bv ? (0.5, 0.5) : av < bv ? (1.0, 0.0) : (0.0, 1.0),
                _ => av == bv ? (0.5, 0.5) : av > bv ? (1.0, 0.0) : (0.0, 1.0),
            };
            ga[ia] += da;
            gb[ib] += db;
        }
        for (var i = 0; i < ga.Length; i++)
            if (Math.Abs(a.Grad[i] - ga[i]) > 1e-5 * Math.Max(1, Math.Abs(ga[i]))) return false;
        for (var i = 0; i < gb.Length; i++)
            if (Math.Abs(b.Grad[i] - gb[i]) > 1e-5 * Math.Max(1, Math.Abs(gb[i]))) return false;
        return true;
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

    [Fact]
    public void Gradient_buffers_handed_on_within_and_across_steps_give_the_same_gradients_as_a_fresh_tape()
    {
        // A result used twice accumulates into a gradient buffer that, on a reused tape, last held another tensor's
        // gradient: every step must match a fresh tape exactly.
        var w = GradCheck.Random(6, 5, -1f, 1f, 1);
        float[] Step(Tape tape, ulong seed)
        {
            tape.Reset();
            w.ZeroGrad();
            var x = tape.Input(GradCheck.Random(4, 6, -1f, 1f, seed).Values, 4, 6, requiresGrad: true);
            var h = tape.Tanh(tape.MatMul(x, w));
            var loss = tape.Sum(tape.Add(tape.Mul(h, h), tape.Mul(tape.Exp(h), 0.5f)));
            tape.Backward(loss);
            return [.. x.Grad, .. w.Grad];
        }
        var reused = new Tape();
        for (ulong seed = 2; seed < 6; seed++)
            Assert.Equal(Step(new Tape(), seed), Step(reused, seed));
    }

    [Fact]
    public void A_results_gradient_is_consumed_by_backward_and_a_tape_inputs_is_kept()
    {
        var tape = new Tape();
        var x = tape.Input([1f, 2f], 1, 2, requiresGrad: true);
        var y = tape.Square(x);
        tape.Backward(tape.Sum(y));
        Assert.Equal([2f, 4f], x.Grad.ToArray());
        Assert.True(y.Grad.IsEmpty);
    }

    [Fact]
    public void A_transient_scope_hands_its_storage_to_the_next_operations_and_its_results_die_with_it()
    {
        var tape = new Tape();
        var w = Tensor.FromValues(2, 2, [1f, 2f, 3f, 4f], requiresGrad: true);
        Tensor inside;
        float copied;
        using (tape.NoGrad())
        using (tape.Transient())
        {
            inside = tape.Tanh(tape.MatMul(w, w));
            copied = inside[0, 0];
        }
        Assert.Equal(MathF.Tanh(7f), copied);
        Assert.Throws<InvalidOperationException>(() => inside.ToArray());
        var arena = tape.ArenaTensors;
        var after = tape.Exp(tape.MatMul(w, w));
        Assert.Equal(arena, tape.ArenaTensors); // the two results reuse the scope's two tensors
        Assert.Equal(MathF.Exp(7f), after[0, 0]);

        // A gradient taken inside the scope goes with its tensor: the next tensor on that storage starts without it.
        tape.Reset();
        using (tape.NoGrad())
        using (tape.Transient())
            tape.Backward(tape.Input([1f, 2f], 1, 2, requiresGrad: true), [1f, 1f]);
        var wider = tape.Input([1f, 2f, 3f, 4f, 5f, 6f], 1, 6, requiresGrad: true);
        tape.Backward(tape.Sum(tape.Square(wider)));
        Assert.Equal([2f, 4f, 6f, 8f, 10f, 12f], wider.Grad.ToArray());

        // Recorded operations would refer to storage the scope gives away.
        Assert.Throws<InvalidOperationException>(() =>
        {
            using (tape.Transient()) tape.Sum(tape.MatMul(w, w));
        });
    }
    [Fact]
    public void A_scratch_scope_forgets_what_it_recorded_and_each_pass_runs_in_the_same_storage()
    {
        var tape = new Tape();
        var w = Tensor.FromValues(2, 2, [1f, 2f, 3f, 4f], requiresGrad: true);
        var x = tape.Input([1f, -1f], 1, 2);
        var before = tape.RecordedOperations;
        var kept = tape.Zeros(1, 2);
        var arena = 0;
        Tensor inside = null!;
        for (var step = 0; step < 3; step++)
        {
            using (tape.Scratch())
            {
                var root = tape.Input(x, requiresGrad: true);
                inside = tape.Sum(tape.Square(tape.MatMul(root, w)));
                tape.Grad(inside, root).Values.CopyTo(kept.Values); // d Σ (x W)² / dx = 2 (x W) Wᵀ
            }
            if (step == 0) arena = tape.ArenaTensors;
            Assert.Equal(arena, tape.ArenaTensors);
            Assert.Equal(before, tape.RecordedOperations);
        }
        Assert.Equal([2f * (-2f * 1f + -2f * 2f), 2f * (-2f * 3f + -2f * 4f)], kept.Values.ToArray());
        Assert.Throws<InvalidOperationException>(() => inside.ToArray());
        Assert.True(w.Grad.IsEmpty || w.Grad.ToArray().All(g => g == 0f)); // Grad leaves the leaves' gradients alone
    }
}
