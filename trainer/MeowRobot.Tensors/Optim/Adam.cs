using System.Runtime.Intrinsics;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Tensors.Optim;

/// <summary>The state Adam keeps for one parameter (PyTorch's <c>state['step']</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>).</summary>
public sealed class AdamState(int length)
{
    public long Step { get; set; }
    public float[] ExpAvg { get; } = new float[length];
    public float[] ExpAvgSq { get; } = new float[length];
}

/// <summary>
/// Adam exactly as <c>torch.optim.Adam</c> (amsgrad off): m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², then
/// p ← p - (lr / (1-β₁ᵗ)) · m / (sqrt(v) / sqrt(1-β₂ᵗ) + ε), with the same float32 operation order and the bias
/// corrections in double, as PyTorch computes them. Weight decay (L2, added to the gradient) is optional.
/// </summary>
public sealed class Adam
{
    private readonly Tensor[] parameters;
    private readonly AdamState[] states;

    public Adam(IReadOnlyList<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(lr >= 0) || !(beta1 is >= 0 and < 1) || !(beta2 is >= 0 and < 1) || !(eps >= 0) || !(weightDecay >= 0))
            throw new ArgumentOutOfRangeException(nameof(lr), "invalid Adam hyperparameters");
        this.parameters = parameters.ToArray();
        states = this.parameters.Select(p => new AdamState(p.Length)).ToArray();
        LearningRate = lr;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
    }

    public double LearningRate { get; set; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>Per-parameter state, same order as <see cref="Parameters"/>: read it to checkpoint, write it to resume.</summary>
    public IReadOnlyList<AdamState> States => states;

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters) p.ZeroGrad();
    }

    /// <summary>One update from the gradients now held by the parameters (parameters that never got one are skipped).</summary>
    public void Step() => Step(0, parameters.Length);

    /// <summary>The update of parameters [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>)
    /// only (each parameter's own step count and moments): disjoint ranges may be stepped on different threads, with
    /// exactly the result of <see cref="Step()"/>.</summary>
    public void Step(int first, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first + count, parameters.Length, nameof(count));
        var b1 = (float)Beta1;
        var oneMinusB1 = (float)(1 - Beta1);
        var b2 = (float)Beta2;
        var oneMinusB2 = (float)(1 - Beta2);
        var eps = (float)Eps;
        var wd = (float)WeightDecay;
        for (var i = first; i < first + count; i++)
        {
            var p = parameters[i];
            var g = p.Grad;
            if (g.IsEmpty) continue;
            var s = states[i];
            s.Step++;
            var stepSize = (float)-(LearningRate / (1 - Math.Pow(Beta1, s.Step)));
            var bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(Beta2, s.Step));
            Update(p.Values, g, s.ExpAvg, s.ExpAvgSq, b1, oneMinusB1, b2, oneMinusB2, eps, wd, stepSize, bc2Sqrt);
        }
    }

    // Every lane does exactly the scalar sequence (no fused multiply-add), so the vector widths and the tail agree bit for
    // bit with each other and with PyTorch's unfused float kernels.
    private static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float b1, float oneMinusB1,
        float b2, float oneMinusB2, float eps, float wd, float stepSize, float bc2Sqrt)
    {
        var i = 0;
        if (Vector512.IsHardwareAccelerated) i = Update<Vector512<float>, Lanes512>(p, g, m, v, b1, oneMinusB1, b2, oneMinusB2, eps, wd, stepSize, bc2Sqrt);
        else if (Vector256.IsHardwareAccelerated) i = Update<Vector256<float>, Lanes256>(p, g, m, v, b1, oneMinusB1, b2, oneMinusB2, eps, wd, stepSize, bc2Sqrt);
        Update<float, Lanes1>(p[i..], g[i..], m[i..], v[i..], b1, oneMinusB1, b2, oneMinusB2, eps, wd, stepSize, bc2Sqrt);
    }

    /// <summary>Updates whole vectors of <typeparamref name="TL"/>'s width from the start; returns how many elements it did.</summary>
    private static int Update<TVec, TL>(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float b1, float oneMinusB1,
        float b2, float oneMinusB2, float eps, float wd, float stepSize, float bc2Sqrt)
        where TVec : struct
        where TL : ILanes<TVec>
    {
        TVec vb1 = TL.Splat(b1), vOneMinusB1 = TL.Splat(oneMinusB1), vb2 = TL.Splat(b2), vOneMinusB2 = TL.Splat(oneMinusB2);
        TVec vEps = TL.Splat(eps), vWd = TL.Splat(wd), vStep = TL.Splat(stepSize), vBc2 = TL.Splat(bc2Sqrt);
        var i = 0;
        for (; i <= p.Length - TL.Count; i += TL.Count)
        {
            var pv = TL.Load(p, i);
            var gv = TL.Load(g, i);
            if (wd != 0f) gv = TL.Add(gv, TL.Multiply(vWd, pv));
            var mv = TL.Add(TL.Multiply(TL.Load(m, i), vb1), TL.Multiply(gv, vOneMinusB1));
            var vv = TL.Add(TL.Multiply(TL.Load(v, i), vb2), TL.Multiply(TL.Multiply(vOneMinusB2, gv), gv));
            var denom = TL.Add(TL.Divide(TL.Sqrt(vv), vBc2), vEps);
            TL.Store(mv, m, i);
            TL.Store(vv, v, i);
            TL.Store(TL.Add(pv, TL.Divide(TL.Multiply(vStep, mv), denom)), p, i);
        }
        return i;
    }
}
