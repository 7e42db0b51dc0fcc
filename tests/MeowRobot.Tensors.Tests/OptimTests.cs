using MeowRobot.Tensors;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Tensors.Tests;

public class OptimTests
{
    [Fact]
    public void Adam_matches_hand_computed_steps_with_bias_correction()
    {
        var p = Tensor.FromVector([1f, -2f], requiresGrad: true);
        var adam = new Adam([p], lr: 0.1);
        // Step 1, g = [0.5, 0]: m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25 -> p -= 0.1 * 0.5 / (0.5 + 1e-8).
        SetGrad(p, 0.5f, 0f);
        adam.Step();
        Assert.Equal(0.9, p[0], 1e-6);
        Assert.Equal(-2f, p[1]); // zero gradient: m = 0, no movement
        // Step 2, g = [-1, 0]: m = 0.9*0.05 - 0.1 = -0.055, v = 0.999*0.00025 + 0.001 = 0.00124975
        // m̂ = -0.055 / 0.19, v̂ = 0.00124975 / 0.001999
        SetGrad(p, -1f, 0f);
        adam.Step();
        var expected = 0.9 - 0.1 * (-0.055 / 0.19) / (Math.Sqrt(0.00124975 / 0.001999) + 1e-8);
        Assert.Equal(expected, p[0], 1e-6);
        Assert.Equal(2, adam.States[0].Step);
        Assert.Equal(-0.055f, adam.States[0].ExpAvg[0], 1e-7);
        Assert.Equal(0.00124975f, adam.States[0].ExpAvgSq[0], 1e-9);
    }

    [Fact]
    public void Adam_applies_eps_outside_the_square_root()
    {
        // With a tiny gradient, eps dominates the denominator only if it is added after the square root:
        // g = 1e-8: v̂ = 1e-16, sqrt = 1e-8, denominator 2e-8 -> step lr/2. (Inside the root it would be ~lr·1e-8/1e-4.)
        var p = Tensor.FromVector([0f], requiresGrad: true);
        var adam = new Adam([p], lr: 1.0);
        SetGrad(p, 1e-8f);
        adam.Step();
        Assert.Equal(-0.5, p[0], 1e-4);
    }

    [Fact]
    public void Clipping_scales_by_max_norm_over_norm_plus_1e6_and_returns_the_norm_before()
    {
        var a = Tensor.FromVector([3f], requiresGrad: true);
        var b = Tensor.FromValues(1, 1, [4f], requiresGrad: true);
        SetGrad(a, 3f);
        SetGrad(b, 4f);
        var norm = GradientClipping.ClipGradNorm([a, b], 1f);
        Assert.Equal(5f, norm);
        Assert.Equal(3 / (5 + 1e-6), a.Grad[0], 1e-7);
        Assert.Equal(4 / (5 + 1e-6), b.Grad[0], 1e-7);
        // Clipped gradients now have norm 5/(5+1e-6) ≈ 1.
        Assert.Equal(1f, GradientClipping.ClipGradNorm([a, b], 1f), 1e-5);
        // Below the limit: unchanged, norm still reported.
        SetGrad(a, 3f);
        SetGrad(b, 4f);
        Assert.Equal(5f, GradientClipping.ClipGradNorm([a, b], 30f));
        Assert.Equal(3f, a.Grad[0]);
        Assert.Equal(4f, b.Grad[0]);
    }

    [Fact]
    public void A_non_finite_norm_is_reported_and_the_gradients_are_left_alone()
    {
        var a = Tensor.FromVector([1f, 1f], requiresGrad: true);
        SetGrad(a, float.NaN, 2f);
        Assert.True(float.IsNaN(GradientClipping.ClipGradNorm([a], 1f)));
        Assert.Equal(2f, a.Grad[1]);
    }

    [Fact]
    public void Polyak_moves_the_target_tau_of_the_way()
    {
        var target = Tensor.FromVector([0f, 10f]);
        var online = Tensor.FromVector([1f, 20f]);
        Polyak.Update([target], [online], 0.25f);
        Assert.Equal([0.25f, 12.5f], target.ToArray());
        Assert.Equal([1f, 20f], online.ToArray());
    }

    [Fact]
    public void ZeroGrad_clears_and_backward_accumulates_as_PyTorch()
    {
        var w = Tensor.FromVector([2f], requiresGrad: true);
        var adam = new Adam([w]);
        var tape = new Tape();
        for (var i = 0; i < 2; i++)
        {
            tape.Reset();
            tape.Backward(tape.Sum(tape.Mul(w, 3f)));
        }
        Assert.Equal(6f, w.Grad[0]);
        adam.ZeroGrad();
        Assert.Equal(0f, w.Grad[0]);
    }

    private static void SetGrad(Tensor p, params float[] g)
    {
        // Produce the gradient through the tape: d/dp Σ p·g = g.
        p.ZeroGrad();
        var tape = new Tape();
        var c = p.Rank == 1 ? Tensor.FromVector(g) : Tensor.FromValues(p.Rows, p.Cols, g);
        tape.Backward(tape.Sum(tape.Mul(p, c)));
    }
}
