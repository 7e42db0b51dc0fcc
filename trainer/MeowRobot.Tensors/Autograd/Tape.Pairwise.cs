namespace MeowRobot.Tensors;

/// <summary>
/// Operations within groups of consecutive rows: a tensor [G·P, C] holds G groups of P rows (the P particles of one
/// state, state-major). They build an RBF kernel between a state's particles and apply it, without [G, P, P, C] tensors:
/// pairwise squared distances [G·P, P] and per-group matrix products.
/// </summary>
public sealed partial class Tape
{
    /// <summary>d[g·P + i, j] = |x_{g·P+i} − x_{g·P+j}|², the squared distances between the rows of each group of
    /// <paramref name="groupSize"/> rows of x [G·P, C]; result [G·P, P].</summary>
    public Tensor PairwiseSquaredDistances(Tensor x, int groupSize)
    {
        Use(x);
        CheckGroups(x, groupSize, "PairwiseSquaredDistances");
        var o = Alloc(x.Rows, groupSize);
        int p = groupSize, c = x.Cols;
        var xv = Val(x);
        var ov = Val(o);
        for (var g0 = 0; g0 < x.Rows; g0 += p)
        for (var i = 0; i < p; i++)
        {
            var xi = xv.Slice((g0 + i) * c, c);
            for (var j = 0; j < p; j++)
            {
                var xj = xv.Slice((g0 + j) * c, c);
                var d = 0f;
                for (var k = 0; k < c; k++)
                {
                    var diff = xi[k] - xj[k];
                    d += diff * diff;
                }
                ov[(g0 + i) * p + j] = d;
            }
        }
        if (Tracks(x)) Record(Op.PairwiseSquaredDistances, o, x).I0 = groupSize;
        return o;
    }

    /// <summary>
    /// out_i = Σ_j k_ij (x_i − x_j) ⊙ w_j within each group of P rows (w all ones when null): k [G·P, P], x and w
    /// [G·P, C]; result [G·P, C]. An RBF kernel's gradient term Σ_j ∇k(x_j, x_i) and its trace against the score are
    /// this with w = 1 and w = score, computed from the differences themselves (no cancellation between large sums).
    /// </summary>
    public Tensor WeightedPairwiseDifferences(Tensor k, Tensor x, Tensor? w, int groupSize)
    {
        Use(k);
        Use(x);
        CheckGroups(x, groupSize, "WeightedPairwiseDifferences");
        if (k.Rows != x.Rows || k.Cols != groupSize)
            throw new ArgumentException($"WeightedPairwiseDifferences: kernel {k.ShapeString} does not pair the rows of {x.ShapeString} in groups of {groupSize}");
        if (w is not null)
        {
            Use(w);
            if (w.Rows != x.Rows || w.Cols != x.Cols) throw new ArgumentException($"WeightedPairwiseDifferences: weights {w.ShapeString} do not match {x.ShapeString}");
        }
        var o = AllocLike(x);
        int p = groupSize, c = x.Cols;
        ReadOnlySpan<float> kv = Val(k), xv = Val(x), wv = w is null ? default : Val(w);
        var ov = Val(o);
        for (var g0 = 0; g0 < x.Rows; g0 += p)
        for (var i = 0; i < p; i++)
        for (var a = 0; a < c; a++)
        {
            var s = 0f;
            var xi = xv[(g0 + i) * c + a];
            for (var j = 0; j < p; j++)
            {
                var term = kv[(g0 + i) * p + j] * (xi - xv[(g0 + j) * c + a]);
                s += w is null ? term : term * wv[(g0 + j) * c + a];
            }
            ov[(g0 + i) * c + a] = s;
        }
        if (Tracks(k, x, w))
        {
            ref var n = ref Record(Op.WeightedPairwiseDifferences, o, k, x, w);
            n.I0 = groupSize;
        }
        return o;
    }

    private void WeightedPairwiseDifferencesBackward(ref Node n)
    {
        Tensor k = n.A, x = n.B!;
        var w = n.C;
        int p = n.I0, c = x.Cols;
        var g = OutGrad(ref n);
        ReadOnlySpan<float> kv = Val(k), xv = Val(x), wv = w is null ? default : Val(w);
        var gk = k.requiresGrad ? GradOf(k) : default;
        var gx = x.requiresGrad ? GradOf(x) : default;
        var gw = w is { requiresGrad: true } ? GradOf(w) : default;
        for (var g0 = 0; g0 < x.Rows; g0 += p)
        for (var i = 0; i < p; i++)
        for (var j = 0; j < p; j++)
        {
            var kij = kv[(g0 + i) * p + j];
            var dk = 0f;
            for (var a = 0; a < c; a++)
            {
                int ia = (g0 + i) * c + a, ja = (g0 + j) * c + a;
                var wja = w is null ? 1f : wv[ja];
                var diff = xv[ia] - xv[ja];
                dk += g[ia] * diff * wja;
                if (!gx.IsEmpty)
                {
                    gx[ia] += g[ia] * kij * wja;
                    gx[ja] -= g[ia] * kij * wja;
                }
                if (!gw.IsEmpty) gw[ja] += g[ia] * kij * diff;
            }
            if (!gk.IsEmpty) gk[(g0 + i) * p + j] += dk;
        }
    }

    /// <summary>The same as tape operations (W = 1 when absent): gk = (G⊙x)Wᵀ − G(x⊙W)ᵀ, gx = G⊙(kW) − W⊙(kᵀG),
    /// gW = kᵀ(G⊙x) − x⊙(kᵀG), each per group.</summary>
    private void WeightedPairwiseDifferencesDifferentiableBackward(in Node n, Tensor g, int pass)
    {
        Tensor k = n.A, x = n.B!;
        var p = n.I0;
        var w = n.C ?? Full(x.Rows, x.Cols, 1f);
        if (k.reachPass == pass)
            Accumulate(k, Sub(GroupMatMul(Mul(g, x), w, p, transposeB: true), GroupMatMul(g, Mul(x, w), p, transposeB: true)), pass);
        var ktg = GroupMatMul(k, g, p, transposeA: true);
        if (x.reachPass == pass) Accumulate(x, Sub(Mul(g, GroupMatMul(k, w, p)), Mul(w, ktg)), pass);
        if (n.C is { } weights && weights.reachPass == pass)
            Accumulate(weights, Sub(GroupMatMul(k, Mul(g, x), p, transposeA: true), Mul(x, ktg)), pass);
    }

    /// <summary>
    /// Per group of <paramref name="groupSize"/> rows, op(a_g) · op(b_g) where a_g, b_g are the group's rows of a and b
    /// (same number of rows) and op transposes when asked; the result stacks the groups' products. The product must have
    /// P rows per group: a [G·P, P] · b [G·P, C] → [G·P, C] (a kernel applied to the particles), a [G·P, C] · bᵀ → [G·P, P]
    /// (an outer product), aᵀ [G·P, P] · b → [G·P, C]; both transposed is not supported.
    /// </summary>
    public Tensor GroupMatMul(Tensor a, Tensor b, int groupSize, bool transposeA = false, bool transposeB = false)
    {
        Use(a);
        Use(b);
        CheckGroups(a, groupSize, "GroupMatMul");
        if (b.Rows != a.Rows) throw new ArgumentException($"GroupMatMul: {a.ShapeString} and {b.ShapeString} have different row counts");
        if (transposeA && transposeB) throw new NotSupportedException("GroupMatMul: both operands transposed");
        var cols = GroupProductCols(a, b, groupSize, transposeA, transposeB);
        var o = Alloc(a.Rows, cols);
        GroupProduct(Val(a), a.Cols, transposeA, Val(b), b.Cols, transposeB, groupSize, Val(o), cols, accumulate: false);
        if (Tracks(a, b))
        {
            ref var n = ref Record(Op.GroupMatMul, o, a, b);
            n.I0 = groupSize;
            n.I1 = (transposeA ? 1 : 0) | (transposeB ? 2 : 0);
        }
        return o;
    }

    private static int GroupProductCols(Tensor a, Tensor b, int p, bool ta, bool tb)
    {
        var (inner, other) = tb ? (b.Cols, p) : (p, b.Cols);
        if (ta ? a.Cols != p : a.Cols != inner)
            throw new ArgumentException($"GroupMatMul: {a.ShapeString}{(ta ? "^T" : "")} · {b.ShapeString}{(tb ? "^T" : "")} per group of {p} rows do not match");
        return other;
    }

    /// <summary>c_g (+)= op(a_g) op(b_g) per group of p rows (the shapes checked by the caller; the sizes are small:
    /// particles × action dims).</summary>
    private static void GroupProduct(ReadOnlySpan<float> a, int ac, bool ta, ReadOnlySpan<float> b, int bc, bool tb, int p,
        Span<float> c, int cc, bool accumulate)
    {
        var rows = c.Length / cc;
        var inner = ta ? p : tb ? bc : p;
        for (var g0 = 0; g0 < rows; g0 += p)
        for (var i = 0; i < p; i++)
        for (var j = 0; j < cc; j++)
        {
            var s = 0f;
            for (var k = 0; k < inner; k++)
            {
                var x = ta ? a[(g0 + k) * ac + i] : a[(g0 + i) * ac + k];
                var y = tb ? b[(g0 + j) * bc + k] : b[(g0 + k) * bc + j];
                s += x * y;
            }
            ref var dst = ref c[(g0 + i) * cc + j];
            dst = accumulate ? dst + s : s;
        }
    }

    private void GroupMatMulBackward(ref Node n)
    {
        Tensor a = n.A, b = n.B!;
        int p = n.I0, cc = n.Out.Cols;
        bool ta = (n.I1 & 1) != 0, tb = (n.I1 & 2) != 0;
        var g = OutGrad(ref n);
        // (F,F): ga = g bᵀ, gb = aᵀ g; (F,T): ga = g b, gb = gᵀ a; (T,F): ga = b gᵀ, gb = a g.
        if (a.requiresGrad)
        {
            var ga = GradOf(a);
            if (ta) GroupProduct(Val(b), b.Cols, false, g, cc, true, p, ga, a.Cols, accumulate: true);
            else GroupProduct(g, cc, false, Val(b), b.Cols, !tb, p, ga, a.Cols, accumulate: true);
        }
        if (b.requiresGrad)
        {
            var gb = GradOf(b);
            if (ta) GroupProduct(Val(a), a.Cols, false, g, cc, false, p, gb, b.Cols, accumulate: true);
            else if (tb) GroupProduct(g, cc, true, Val(a), a.Cols, false, p, gb, b.Cols, accumulate: true);
            else GroupProduct(Val(a), a.Cols, true, g, cc, false, p, gb, b.Cols, accumulate: true);
        }
    }

    private void GroupMatMulDifferentiableBackward(in Node n, Tensor g, int pass)
    {
        Tensor a = n.A, b = n.B!;
        var p = n.I0;
        bool ta = (n.I1 & 1) != 0, tb = (n.I1 & 2) != 0;
        if (a.reachPass == pass) Accumulate(a, ta ? GroupMatMul(b, g, p, false, true) : GroupMatMul(g, b, p, false, !tb), pass);
        if (b.reachPass == pass)
            Accumulate(b, ta ? GroupMatMul(a, g, p) : tb ? GroupMatMul(g, a, p, transposeA: true) : GroupMatMul(a, g, p, transposeA: true), pass);
    }

    /// <summary>gx_i += 2 Σ_j (G_ij + G_ji)(x_i − x_j) within each group.</summary>
    private void PairwiseSquaredDistancesBackward(ref Node n)
    {
        var x = n.A;
        if (!x.requiresGrad) return;
        int p = n.I0, c = x.Cols;
        var g = OutGrad(ref n);
        var xv = Val(x);
        var gx = GradOf(x);
        for (var g0 = 0; g0 < x.Rows; g0 += p)
        for (var i = 0; i < p; i++)
        for (var j = 0; j < p; j++)
        {
            var w = 2f * (g[(g0 + i) * p + j] + g[(g0 + j) * p + i]);
            for (var k = 0; k < c; k++) gx[(g0 + i) * c + k] += w * (xv[(g0 + i) * c + k] - xv[(g0 + j) * c + k]);
        }
    }

    /// <summary>The same as tape operations: 2 (x ⊙ (rowsum G + colsum G) − G x − Gᵀ x), per group.</summary>
    private void PairwiseSquaredDistancesDifferentiableBackward(in Node n, Tensor g, int pass)
    {
        var x = n.A;
        var p = n.I0;
        var ones = Full(x.Rows, 1, 1f);
        var weight = Add(Sum(g, 1), GroupMatMul(g, ones, p, transposeA: true));
        var mixed = Add(GroupMatMul(g, x, p), GroupMatMul(g, x, p, transposeA: true));
        Accumulate(x, Mul(Sub(Mul(x, weight), mixed), 2f), pass);
    }

    /// <summary>Each row of x [G, C] repeated <paramref name="groupSize"/> times in place, [G·P, C] (a state's
    /// values for each of its particles; <c>x.repeat_interleave(P, 0)</c>); the gradient sums each group.</summary>
    public Tensor RepeatEachRow(Tensor x, int groupSize)
    {
        Use(x);
        if (groupSize < 1) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "RepeatEachRow: the group size must be ≥ 1");
        var o = Alloc(x.Rows * groupSize, x.Cols);
        var xv = Val(x);
        var ov = Val(o);
        var c = x.Cols;
        for (var i = 0; i < x.Rows; i++)
        for (var k = 0; k < groupSize; k++)
            xv.Slice(i * c, c).CopyTo(ov.Slice((i * groupSize + k) * c, c));
        if (Tracks(x)) Record(Op.RepeatEachRow, o, x).I0 = groupSize;
        return o;
    }

    private void RepeatEachRowBackward(ref Node n)
    {
        var x = n.A;
        if (!x.requiresGrad) return;
        var g = OutGrad(ref n);
        var gx = GradOf(x);
        int c = x.Cols, p = n.I0;
        for (var i = 0; i < x.Rows; i++)
        for (var k = 0; k < p; k++)
            AddTo(gx.Slice(i * c, c), g.Slice((i * p + k) * c, c));
    }

    private static void CheckGroups(Tensor x, int groupSize, string op)
    {
        if (groupSize < 1 || x.Rows % groupSize != 0)
            throw new ArgumentException($"{op}: {x.ShapeString} does not split into groups of {groupSize} rows", nameof(groupSize));
    }
}
