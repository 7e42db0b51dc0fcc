using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MeowRobot.Bridge.Numerics;

namespace MeowRobot.Tensors.Kernels;

/// <summary>
/// Column sums of a row-major matrix (a bias's gradient, a sum over rows): each block of columns is summed over all rows
/// in registers and added to the destination once, instead of one read-modify-write of the whole sum row per input row.
/// </summary>
public static class ColumnSums
{
    /// <summary>sums[j] += Σᵢ x[i · sums.Length + j] over the rows of <paramref name="x"/> (its length a multiple of the width).</summary>
    public static void AddTo(ReadOnlySpan<float> x, Span<float> sums)
    {
        var cols = sums.Length;
        if (cols == 0) return;
        if (x.Length % cols != 0) throw new ArgumentException($"{x.Length} values are not whole rows of {cols}", nameof(x));
        var j = 0;
        if (Vector512.IsHardwareAccelerated) j = AddTo<Vector512<float>, Lanes512>(x, sums);
        else if (Vector256.IsHardwareAccelerated) j = AddTo<Vector256<float>, Lanes256>(x, sums);
        AddTo<float, Lanes1>(x, sums, j);
    }

    /// <summary>Columns [start, …) in whole vectors of <typeparamref name="TL"/>'s width, four at a time while they last;
    /// returns the first column not done.</summary>
    private static int AddTo<TVec, TL>(ReadOnlySpan<float> x, Span<float> sums, int start = 0)
        where TVec : struct
        where TL : ILanes<TVec>
    {
        int cols = sums.Length, rows = x.Length / cols, w = TL.Count, j = start;
        for (; j + 4 * w <= cols; j += 4 * w)
        {
            TVec s0 = TL.Splat(0f), s1 = s0, s2 = s0, s3 = s0;
            for (var i = 0; i < rows; i++)
            {
                var at = i * cols + j;
                s0 = TL.Add(s0, TL.Load(x, at));
                s1 = TL.Add(s1, TL.Load(x, at + w));
                s2 = TL.Add(s2, TL.Load(x, at + 2 * w));
                s3 = TL.Add(s3, TL.Load(x, at + 3 * w));
            }
            Add(sums, j, s0);
            Add(sums, j + w, s1);
            Add(sums, j + 2 * w, s2);
            Add(sums, j + 3 * w, s3);
        }
        for (; j + w <= cols; j += w)
        {
            var s = TL.Splat(0f);
            for (var i = 0; i < rows; i++) s = TL.Add(s, TL.Load(x, i * cols + j));
            Add(sums, j, s);
        }
        return j;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Add(Span<float> sums, int at, TVec s) => TL.Store(TL.Add(TL.Load(sums, at), s), sums, at);
    }
}
