using MeowRobot.Tensors;

namespace MeowRobot.Tensors.Tests;

/// <summary>
/// The gradient of a loss on ∇ₓ min(Q1, Q2)(x) (S2AC's actor step) with the rows each critic loses skipped (the GEMM's
/// zero rows, and no gradient for the rows of g·elu'(x) whose g is zero): the same as building each critic's score on
/// the rows it wins alone, with its last layer's weight requiring a gradient there (so that g is not constant and neither
/// skip applies: the reference is the dense computation). Sizes big enough (128 rows, 64 wide) that the skips run.
/// </summary>
public class MinOfCriticsSecondOrderTests
{
    private const int Rows = 128, In = 5, Hidden = 64;

    private sealed record Critic(Tensor W1, Tensor B1, Tensor W2, Tensor B2, Tensor W3, Tensor B3)
    {
        public static Critic Random(Rng rng)
        {
            Tensor Leaf(int r, int c, float scale)
            {
                var t = new Tensor(r, c);
                rng.FillNormal(t.Values, 0f, scale);
                return t;
            }
            return new Critic(Leaf(Hidden, In, 0.5f), Leaf(1, Hidden, 0.1f), Leaf(Hidden, Hidden, 0.15f), Leaf(1, Hidden, 0.1f), Leaf(1, Hidden, 0.2f), Leaf(1, 1, 0.1f));
        }

        public Tensor Q(Tape t, Tensor x) => t.Linear(t.Elu(t.Linear(t.Elu(t.Linear(x, W1, B1)), W2, B2)), W3, B3);
    }

    /// <summary>Σ over rows of (score · score) + Σ x · score, differentiated in x.</summary>
    private static Tensor Loss(Tape t, Tensor x, Tensor score) => t.Add(t.Sum(t.Square(score)), t.Sum(t.Mul(x, score)));

    [Fact]
    public void The_second_order_gradient_through_min_equals_each_critic_on_the_rows_it_wins()
    {
        var rng = new Rng(3);
        var (c1, c2) = (Critic.Random(rng), Critic.Random(rng));
        var x0 = new float[Rows * In];
        rng.FillNormal(x0);

        var tape = new Tape();
        var x = tape.Input(x0, Rows, In, requiresGrad: true);
        var q1 = c1.Q(tape, x);
        var q2 = c2.Q(tape, x);
        var score = tape.Grad(tape.Sum(tape.Minimum(q1, q2)), x, createGraph: true);
        tape.Backward(Loss(tape, x, score));
        var together = x.Grad.ToArray();
        var wins1 = Enumerable.Range(0, Rows).Where(i => q1.Values[i] < q2.Values[i]).ToArray();
        var wins2 = Enumerable.Range(0, Rows).Where(i => q2.Values[i] < q1.Values[i]).ToArray();
        Assert.Equal(Rows, wins1.Length + wins2.Length); // no ties in random weights
        Assert.InRange(wins1.Length, Rows / 4, 3 * Rows / 4); // both skips run

        foreach (var (frozen, rows) in new[] { (c1, wins1), (c2, wins2) })
        {
            var critic = frozen with { W3 = Tensor.FromValues(1, Hidden, frozen.W3.Values, requiresGrad: true) };
            var alone = new Tape();
            var xs = alone.Input(rows.SelectMany(i => x0.AsSpan(i * In, In).ToArray()).ToArray(), rows.Length, In, requiresGrad: true);
            var s = alone.Grad(alone.Sum(critic.Q(alone, xs)), xs, createGraph: true);
            alone.Backward(Loss(alone, xs, s));
            for (var q = 0; q < rows.Length; q++)
            for (var j = 0; j < In; j++)
            {
                float expected = xs.Grad[q * In + j], actual = together[rows[q] * In + j];
                Assert.True(Math.Abs(expected - actual) <= 1e-5f * Math.Max(1f, Math.Abs(expected)), $"row {rows[q]}, column {j}: {actual} vs {expected} on its winner alone");
            }
        }
    }
}
