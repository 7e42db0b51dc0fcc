namespace MeowRobot.Tensors;

/// <summary>Joining, slicing and selecting. Results are copies in the arena (gradients scatter back on backward).</summary>
public sealed partial class Tape
{
    /// <summary>Joins tensors along dim 0 (stacking rows; column counts must match) or dim 1 (side by side; row counts
    /// must match), as <c>torch.cat</c>.</summary>
    public Tensor Concat(int dim, params ReadOnlySpan<Tensor> parts)
    {
        CheckDim(dim);
        if (parts.Length == 0) throw new ArgumentException("Concat needs at least one tensor", nameof(parts));
        int rows = 0, cols = 0;
        var tracks = false;
        var allVectors = true;
        foreach (var p in parts)
        {
            Use(p);
            tracks |= p.requiresGrad;
            allVectors &= p.Rank == 1;
            if (dim == 0)
            {
                if (cols != 0 && p.Cols != cols) throw new ArgumentException($"Concat(dim 0): column counts differ ({cols} vs {p.Cols})");
                cols = p.Cols;
                rows += p.Rows;
            }
            else
            {
                if (rows != 0 && p.Rows != rows) throw new ArgumentException($"Concat(dim 1): row counts differ ({rows} vs {p.Rows})");
                rows = p.Rows;
                cols += p.Cols;
            }
        }
        var o = Alloc(rows, cols, allVectors && dim == 1 ? 1 : 2);
        var ov = Val(o);
        var offset = 0;
        foreach (var p in parts)
        {
            var pv = Val(p);
            if (dim == 0) pv.CopyTo(ov.Slice(offset * cols));
            else
                for (var i = 0; i < rows; i++) pv.Slice(i * p.Cols, p.Cols).CopyTo(ov.Slice(i * cols + offset, p.Cols));
            offset += dim == 0 ? p.Rows : p.Cols;
        }
        if (tracks && noGradDepth == 0)
        {
            ref var n = ref Record(Op.Concat, o, parts[0]);
            n.I0 = dim;
            n.I1 = savedLists.Count;
            n.I2 = parts.Length;
            foreach (var p in parts) savedLists.Add(p);
        }
        return o;
    }

    /// <summary><paramref name="length"/> rows (dim 0) or columns (dim 1) of <paramref name="x"/> from
    /// <paramref name="start"/>, as <c>torch.narrow</c>.</summary>
    public Tensor Narrow(Tensor x, int dim, int start, int length)
    {
        Use(x);
        CheckDim(dim);
        var extent = dim == 0 ? x.Rows : x.Cols;
        if (start < 0 || length <= 0 || start + length > extent)
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: [{start}, {start + length}) outside 0..{extent} of {x.ShapeString} along dim {dim}");
        var o = dim == 0 ? Alloc(length, x.Cols) : Alloc(x.Rows, length, x.Rank);
        var xv = Val(x);
        if (dim == 0) xv.Slice(start * x.Cols, length * x.Cols).CopyTo(Val(o));
        else
            for (var i = 0; i < x.Rows; i++) xv.Slice(i * x.Cols + start, length).CopyTo(Val(o).Slice(i * length, length));
        if (Tracks(x))
        {
            ref var n = ref Record(Op.Narrow, o, x);
            n.I0 = dim;
            n.I1 = start;
        }
        return o;
    }

    /// <summary>The same values, row-major, as a [rows, cols] matrix (<c>x.reshape(rows, cols)</c>; a copy).</summary>
    public Tensor Reshape(Tensor x, int rows, int cols)
    {
        Use(x);
        if ((long)rows * cols != x.Length) throw new ArgumentException($"Reshape: {x.ShapeString} has {x.Length} values, not [{rows}, {cols}]");
        var o = Alloc(rows, cols);
        Val(x).CopyTo(Val(o));
        if (Tracks(x)) Record(Op.Reshape, o, x);
        return o;
    }

    /// <summary>Splits along <paramref name="dim"/> into consecutive pieces of the given sizes (which must add up to the
    /// extent), written to <paramref name="pieces"/>; as <c>torch.split</c>.</summary>
    public void Split(Tensor x, int dim, ReadOnlySpan<int> sizes, Span<Tensor> pieces)
    {
        CheckDim(dim);
        if (pieces.Length != sizes.Length) throw new ArgumentException("one destination per size", nameof(pieces));
        var total = 0;
        foreach (var s in sizes) total += s;
        if (total != (dim == 0 ? x.Rows : x.Cols)) throw new ArgumentException($"Split: sizes add up to {total}, not the extent of {x.ShapeString} along dim {dim}", nameof(sizes));
        var start = 0;
        for (var i = 0; i < sizes.Length; i++)
        {
            pieces[i] = Narrow(x, dim, start, sizes[i]);
            start += sizes[i];
        }
    }

    /// <summary>The rows of <paramref name="x"/> stacked <paramref name="times"/> times, [times·R, C], as
    /// <c>x.repeat(times, 1)</c>; the gradient sums the copies.</summary>
    public Tensor RepeatRows(Tensor x, int times)
    {
        Use(x);
        if (times < 1) throw new ArgumentOutOfRangeException(nameof(times), times, "RepeatRows: times must be ≥ 1");
        var o = Alloc(x.Rows * times, x.Cols);
        Repeat(Val(x), Val(o));
        if (Tracks(x)) Record(Op.RepeatRows, o, x).I0 = times;
        return o;
    }

    /// <summary>Fills <paramref name="copies"/> (a whole number of blocks) with copies of <paramref name="block"/>.</summary>
    private static void Repeat(ReadOnlySpan<float> block, Span<float> copies)
    {
        for (var at = 0; at < copies.Length; at += block.Length) block.CopyTo(copies[at..]);
    }

    /// <summary>The gradient of <see cref="Repeat"/>: the blocks of <paramref name="copies"/> summed into
    /// <paramref name="block"/>, overwriting it or added to it.</summary>
    private static void SumCopies(ReadOnlySpan<float> copies, Span<float> block, bool overwrite)
    {
        for (var at = 0; at < copies.Length; at += block.Length)
        {
            var copy = copies.Slice(at, block.Length);
            if (at == 0 && overwrite) copy.CopyTo(block);
            else AddTo(block, copy);
        }
    }

    /// <summary>The columns of <paramref name="x"/> listed in <paramref name="columns"/> (in that order; repeats allowed),
    /// as <c>x[:, columns]</c>. The array is kept until backward: do not change it within the step.</summary>
    public Tensor IndexColumns(Tensor x, int[] columns)
    {
        Use(x);
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Length == 0) throw new ArgumentException("no columns selected", nameof(columns));
        foreach (var c in columns)
            if ((uint)c >= (uint)x.Cols) throw new ArgumentOutOfRangeException(nameof(columns), $"column {c} outside {x.ShapeString}");
        var o = Alloc(x.Rows, columns.Length, x.Rank);
        var xv = Val(x);
        var ov = Val(o);
        for (var i = 0; i < x.Rows; i++)
        for (var j = 0; j < columns.Length; j++)
            ov[i * columns.Length + j] = xv[i * x.Cols + columns[j]];
        if (Tracks(x)) Record(Op.IndexColumns, o, x).Index = columns;
        return o;
    }

    private void ShapeBackward(ref Node n)
    {
        var g = OutGrad(ref n);
        var o = n.Out;
        switch (n.Op)
        {
            case Op.Concat:
            {
                var offset = 0;
                for (var k = 0; k < n.I2; k++)
                {
                    var p = savedLists[n.I1 + k];
                    if (p.requiresGrad)
                    {
                        var gp = GradOf(p);
                        if (n.I0 == 0) AddTo(gp, g.Slice(offset * o.Cols, p.Length));
                        else
                            for (var i = 0; i < o.Rows; i++) AddTo(gp.Slice(i * p.Cols, p.Cols), g.Slice(i * o.Cols + offset, p.Cols));
                    }
                    offset += n.I0 == 0 ? p.Rows : p.Cols;
                }
                break;
            }
            case Op.Narrow:
            {
                var x = n.A;
                var gx = GradOf(x);
                if (n.I0 == 0) AddTo(gx.Slice(n.I1 * x.Cols, o.Length), g);
                else
                    for (var i = 0; i < x.Rows; i++) AddTo(gx.Slice(i * x.Cols + n.I1, o.Cols), g.Slice(i * o.Cols, o.Cols));
                break;
            }
            case Op.RepeatRows:
            {
                var gx = GradOf(n.A, out var overwrite);
                SumCopies(g, gx, overwrite);
                break;
            }
            case Op.IndexColumns:
            {
                var x = n.A;
                var gx = GradOf(x);
                var cols = n.Index!;
                for (var i = 0; i < x.Rows; i++)
                for (var j = 0; j < cols.Length; j++)
                    gx[i * x.Cols + cols[j]] += g[i * cols.Length + j];
                break;
            }
            default: throw new InvalidOperationException(n.Op.ToString());
        }
    }

    private static void AddTo(Span<float> dst, ReadOnlySpan<float> src) => System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);
}
