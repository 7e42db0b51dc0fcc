using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors;

/// <summary>
/// Gradients as tape tensors (<c>torch.autograd.grad</c>), optionally differentiable themselves (<c>create_graph=True</c>).
/// <para>
/// <see cref="Grad"/> walks the recorded operations backwards like <see cref="Backward(Tensor)"/>, but each operation's
/// backward step runs as ordinary tape operations (a Linear's input gradient is a MatMul, ELU's is an EluGrad op, a
/// sum's is an Expand), only on the paths from the requested inputs to the output, and leaves every leaf's
/// <see cref="Tensor.Grad"/> alone. Asked to create a graph, those operations are recorded like any other, so a later
/// <see cref="Backward(Tensor)"/> differentiates through the gradient (a score ∇ₐQ(s, a) inside a loss); otherwise they
/// run under NoGrad. The first-order <see cref="Backward(Tensor)"/> keeps its fused kernels and is untouched by this.
/// </para>
/// </summary>
public sealed partial class Tape
{
    // Pass numbers are unique across tapes: a leaf keeps the marks of the last pass that reached it, whichever tape ran it.
    private static int gradPassCounter;

    /// <summary>d Σ(<paramref name="output"/>) / d <paramref name="input"/> (seed all ones) as a tape tensor of the input's
    /// shape; see <see cref="Grad(Tensor, ReadOnlySpan{Tensor}, Span{Tensor}, bool, Tensor?)"/>.</summary>
    public Tensor Grad(Tensor output, Tensor input, bool createGraph = false)
    {
        Span<Tensor> result = [null!];
        Grad(output, [input], result, createGraph);
        return result[0];
    }

    /// <summary>
    /// The vector-Jacobian products d (<paramref name="outputGrad"/> · <paramref name="output"/>) / d inputs[k] (seed all
    /// ones when <paramref name="outputGrad"/> is null), written to <paramref name="gradients"/> as tape tensors; an input
    /// the output does not depend on gets zeros. Leaves' accumulated gradients are not touched. With
    /// <paramref name="createGraph"/> the backward pass is recorded, so the gradients carry history (to each tensor on the
    /// paths that requires a gradient: the inputs, and weights that require gradients) and can be differentiated again.
    /// Supported along the differentiated paths: every unary, scalar, binary, reduce and matrix operation, Concat, Expand
    /// Reshape and the pairwise ops; not RepeatEachRow, LinearColumns' partial weight or repeated addend, Narrow, RepeatRows, IndexColumns, the
    /// LayerNorm/Swish/Dropout activation, nor a gradient of a gradient of a gradient through ELU (third order).
    /// Two threads may not take gradients with respect to the same leaf at once (tape tensors are per thread anyway).
    /// </summary>
    public void Grad(Tensor output, ReadOnlySpan<Tensor> inputs, Span<Tensor> gradients, bool createGraph = false, Tensor? outputGrad = null)
    {
        Use(output);
        if (gradients.Length != inputs.Length) throw new ArgumentException("one gradient slot per input", nameof(gradients));
        if (outputGrad is not null)
        {
            Use(outputGrad);
            if (outputGrad.Rows != output.Rows || outputGrad.Cols != output.Cols)
                throw new ArgumentException($"outputGrad {outputGrad.ShapeString} does not match the output {output.ShapeString}", nameof(outputGrad));
        }
        var pass = Interlocked.Increment(ref gradPassCounter);
        foreach (var x in inputs)
        {
            Use(x);
            x.reachPass = pass;
        }
        var recorded = nodeCount;
        for (var i = 0; i < recorded; i++)
        {
            ref var n = ref nodes[i];
            if (Reaches(ref n, pass)) n.Out.reachPass = pass;
        }
        if (!createGraph) noGradDepth++;
        try
        {
            if (output.reachPass == pass)
            {
                output.gradTensor = outputGrad ?? Alloc(output.Rows, output.Cols, output.Rank);
                if (outputGrad is null) Val(output.gradTensor).Fill(1f);
                output.gradPass = pass;
                for (var i = recorded - 1; i >= 0; i--)
                {
                    var n = nodes[i]; // a copy: recording during the step may grow the node array
                    if (n.Out.reachPass != pass || n.Out.gradPass != pass) continue;
                    DifferentiableBackward(in n, n.Out.gradTensor!, pass);
                }
            }
            for (var k = 0; k < inputs.Length; k++)
            {
                var x = inputs[k];
                gradients[k] = x.gradPass == pass ? x.gradTensor! : Alloc(x.Rows, x.Cols, x.Rank);
                if (x.gradPass != pass) Val(gradients[k]).Clear();
            }
        }
        finally
        {
            if (!createGraph) noGradDepth--;
        }
    }

    private bool Reaches(ref Node n, int pass)
    {
        if (n.A.reachPass == pass || n.B?.reachPass == pass || n.C?.reachPass == pass || n.D?.reachPass == pass) return true;
        if (n.Op != Op.Concat) return false;
        for (var k = 0; k < n.I2; k++)
            if (savedLists[n.I1 + k].reachPass == pass) return true;
        return false;
    }

    /// <summary>Adds a gradient contribution to <paramref name="t"/>'s (summed over the dimensions it was broadcast along).</summary>
    private void Accumulate(Tensor t, Tensor contribution, int pass)
    {
        if (contribution.Rows != t.Rows) contribution = Sum(contribution, 0);
        if (contribution.Cols != t.Cols) contribution = Sum(contribution, 1);
        if (t.gradPass != pass)
        {
            t.gradTensor = contribution;
            t.gradPass = pass;
        }
        else t.gradTensor = Add(t.gradTensor!, contribution);
    }

    /// <summary>One operation's backward step as tape operations: its operands' gradient contributions from the output's
    /// gradient <paramref name="g"/>, for the operands on a path from the inputs.</summary>
    private void DifferentiableBackward(in Node n, Tensor g, int pass)
    {
        var a = n.A;
        var onA = a.reachPass == pass;
        var onB = n.B?.reachPass == pass;
        switch (n.Op)
        {
            case Op.Neg or Op.RSubScalar: Accumulate(a, Neg(g), pass); break;
            case Op.AddScalar: Accumulate(a, g, pass); break;
            case Op.MulScalar: Accumulate(a, Mul(g, n.S0), pass); break;
            case Op.Exp: Accumulate(a, Mul(g, n.Out), pass); break;
            case Op.Log: Accumulate(a, Div(g, a), pass); break;
            case Op.Tanh: Accumulate(a, Mul(g, Sub(1f, Square(n.Out))), pass); break;
            case Op.Atanh: Accumulate(a, Div(g, Sub(1f, Square(a))), pass); break;
            case Op.Sigmoid: Accumulate(a, Mul(g, Mul(n.Out, Sub(1f, n.Out))), pass); break;
            case Op.Softplus: Accumulate(a, Mul(g, Sigmoid(a)), pass); break;
            case Op.Square: Accumulate(a, Mul(g, Mul(a, 2f)), pass); break;
            case Op.Sqrt: Accumulate(a, Div(g, Mul(n.Out, 2f)), pass); break;
            case Op.Relu: Accumulate(a, Mul(g, PassMask(a, 0f, float.PositiveInfinity, openBelow: true)), pass); break;
            case Op.Clamp: Accumulate(a, Mul(g, PassMask(a, n.S0, n.S1, openBelow: false)), pass); break;
            case Op.Elu: Accumulate(a, EluGrad(g, a, n.Out), pass); break;
            case Op.Add:
                if (onA) Accumulate(a, g, pass);
                if (onB) Accumulate(n.B!, g, pass);
                break;
            case Op.Sub:
                if (onA) Accumulate(a, g, pass);
                if (onB) Accumulate(n.B!, Neg(g), pass);
                break;
            case Op.Mul:
                if (onA) Accumulate(a, Mul(g, n.B!), pass);
                if (onB) Accumulate(n.B!, Mul(g, a), pass);
                break;
            case Op.Div: // d(a/b)/db = −(a/b)/b
                if (onA) Accumulate(a, Div(g, n.B!), pass);
                if (onB) Accumulate(n.B!, Neg(Div(Mul(g, n.Out), n.B!)), pass);
                break;
            case Op.Minimum or Op.Maximum:
            {
                var sign = n.Op == Op.Minimum ? -1 : 1;
                if (onA) Accumulate(a, Mul(g, SelectionMask(a, n.B!, n.Out, sign)), pass);
                if (onB) Accumulate(n.B!, Mul(g, SelectionMask(n.B!, a, n.Out, sign)), pass);
                break;
            }
            case Op.Sum:
            {
                var spread = Expand(g, a.Rows, a.Cols);
                Accumulate(a, n.S0 == 1f ? spread : Mul(spread, n.S0), pass);
                break;
            }
            case Op.Expand: Accumulate(a, g, pass); break; // Accumulate sums over the broadcast dimensions
            case Op.MatMul:
            {
                bool ta = n.I0 == 1, tb = n.I1 == 1;
                var b = n.B!;
                if (onA) Accumulate(a, ta ? MatMul(b, g, tb, true) : MatMul(g, b, false, !tb), pass);
                if (onB) Accumulate(b, tb ? MatMul(g, a, true, ta) : MatMul(a, g, !ta, false), pass);
                break;
            }
            case Op.Linear: LinearDifferentiableBackward(in n, g, pass); break;
            case Op.Concat:
            {
                var offset = 0;
                for (var k = 0; k < n.I2; k++)
                {
                    var p = savedLists[n.I1 + k];
                    var size = n.I0 == 0 ? p.Rows : p.Cols;
                    if (p.reachPass == pass) Accumulate(p, Narrow(g, n.I0, offset, size), pass);
                    offset += size;
                }
                break;
            }
            case Op.PairwiseSquaredDistances: PairwiseSquaredDistancesDifferentiableBackward(in n, g, pass); break;
            case Op.GroupMatMul: GroupMatMulDifferentiableBackward(in n, g, pass); break;
            case Op.WeightedPairwiseDifferences: WeightedPairwiseDifferencesDifferentiableBackward(in n, g, pass); break;
            case Op.Reshape: Accumulate(a, Reshape(g, a.Rows, a.Cols), pass); break;
            default:
                throw new NotSupportedException($"Tape.Grad: {n.Op} has no differentiable backward step (see Grad's documentation for what is supported)");
        }
    }

    private void LinearDifferentiableBackward(in Node n, Tensor g, int pass)
    {
        Tensor x = n.A, w = n.B!;
        var whole = n.I0 == 0 && x.Cols == w.Cols;
        if (x.reachPass == pass) Accumulate(x, MatMul(g, whole ? w : Narrow(w, 1, n.I0, x.Cols)), pass);
        if (w.reachPass == pass)
        {
            if (!whole) throw new NotSupportedException("Tape.Grad: the gradient of a LinearColumns weight block (use Linear on the whole input)");
            Accumulate(w, MatMul(g, x, transposeA: true), pass);
        }
        if (n.C is { } bias && bias.reachPass == pass) Accumulate(bias, Sum(g, 0), pass);
        if (n.D is { } addend && addend.reachPass == pass)
        {
            if (addend.Rows != g.Rows) throw new NotSupportedException("Tape.Grad: a LinearColumns addend repeated over copies of the batch");
            Accumulate(addend, g, pass);
        }
    }

    /// <summary>A constant: 1 where x passes a Relu/Clamp (x in [min, max], or x above min when open below), else 0.</summary>
    private Tensor PassMask(Tensor x, float min, float max, bool openBelow)
    {
        var m = AllocLike(x);
        var xv = Val(x);
        var mv = Val(m);
        for (var i = 0; i < mv.Length; i++) mv[i] = (openBelow ? xv[i] > min : xv[i] >= min) && xv[i] <= max ? 1f : 0f;
        return m;
    }

    /// <summary>A constant of the result's shape: the share of min (sign −1) / max (+1)'s gradient that goes to
    /// <paramref name="self"/>: 1 where it wins, ½ at ties, 0 where it loses (as the first-order backward).</summary>
    private Tensor SelectionMask(Tensor self, Tensor other, Tensor result, int sign)
    {
        var m = AllocLike(result);
        var mv = Val(m);
        var c = result.Cols;
        for (var i = 0; i < result.Rows; i++)
        for (var j = 0; j < c; j++)
        {
            var d = (At(self, i, j) - At(other, i, j)) * sign;
            mv[i * c + j] = d > 0 ? 1f : d == 0 ? 0.5f : 0f;
        }
        return m;
    }

    /// <summary>Element (i, j) of a broadcast operand.</summary>
    private static float At(Tensor x, int i, int j) => x.data[(x.Rows == 1 ? 0 : i) * x.Cols + (x.Cols == 1 ? 0 : j)];
}
