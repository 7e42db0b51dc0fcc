using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors.Tests;

public class GemmTests
{
    /// <summary>One product: sizes, orientations, extra stride beyond each operand's width, accumulate, row bias, cores,
    /// and whether it takes the path of hosts without AVX-512 (which every host can run).</summary>
    public sealed record Case(int M, int N, int K, bool TransA, bool TransB, bool Accumulate, bool Bias, int Threads,
        int PadA = 0, int PadB = 0, int PadC = 0, bool Portable = false);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_fast_product_matches_the_triple_loop_for_random_shapes_and_transpositions(bool portable)
    {
        var cases = from m in Gen.Choose(1, 70)
                    from n in Gen.Choose(1, 90)
                    from k in Gen.Choose(1, 80)
                    from ta in Gen.Elements(false, true)
                    from tb in Gen.Elements(false, true)
                    from acc in Gen.Elements(false, true)
                    from threads in Gen.Elements(1, 2)
                    from bias in Gen.Elements(false, true)
                    select new Case(m, n, k, ta, tb, acc, bias, threads, Portable: portable);
        Prop.ForAll(Arb.From(cases), s => CompareWithReference(s)).Check(Config.QuickThrowOnFailure.WithMaxTest(150));
    }

    /// <summary>A tall product whose A has rows of zeros (a gradient masked per row) multiplies only the other rows: those
    /// come out bit for bit as the product of the other rows alone, and each zero row's C row is what an empty product
    /// gives (C kept or cleared, plus the bias).</summary>
    [Theory]
    [InlineData(200, 64, 48, false, false, 1, 0.5)]
    [InlineData(200, 96, 300, true, true, 1, 0.3)]
    [InlineData(513, 256, 256, true, false, 2, 0.5)]
    [InlineData(130, 40, 20, false, true, 2, 1.0)]
    [InlineData(100, 33, 17, true, true, 1, 0.1)]
    [InlineData(200, 64, 300, false, true, 1, 0.5, true)]
    [InlineData(150, 45, 20, true, false, 1, 0.4, true)]
    public void Rows_of_zeros_are_skipped_without_changing_any_value(int m, int n, int k, bool accumulate, bool bias, int threads, double zeroShare,
        bool portable = false)
    {
        var rng = new Random(m + n + k);
        float[] Random(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        var a = Random(m * k);
        var zero = Enumerable.Range(0, m).Select(_ => rng.NextDouble() < zeroShare).ToArray();
        for (var i = 0; i < m; i++)
            if (zero[i]) a.AsSpan(i * k, k).Fill(i % 2 == 0 ? 0f : -0f);
        var b = Random(k * n);
        var c0 = Random(m * n);
        var rowBias = bias ? Random(n) : [];
        var before = Gemm.Threads;
        Gemm.Threads = threads;
        Gemm.PortableOnly = portable;
        try
        {
            var c = (float[])c0.Clone();
            Gemm.Multiply(m, n, k, a, k, false, b, n, false, c, n, accumulate, rowBias);
            var kept = Enumerable.Range(0, m).Where(i => !zero[i]).ToArray();
            var denseA = kept.SelectMany(i => a.AsSpan(i * k, k).ToArray()).ToArray();
            var denseC = kept.SelectMany(i => c0.AsSpan(i * n, n).ToArray()).ToArray();
            if (kept.Length > 0) Gemm.Multiply(kept.Length, n, k, denseA, k, false, b, n, false, denseC, n, accumulate, rowBias);
            for (var q = 0; q < kept.Length; q++)
                Assert.Equal(denseC.AsSpan(q * n, n).ToArray(), c.AsSpan(kept[q] * n, n).ToArray());
            for (var i = 0; i < m; i++)
            {
                if (!zero[i]) continue;
                for (var j = 0; j < n; j++)
                    Assert.Equal((accumulate ? c0[i * n + j] : 0f) + (bias ? rowBias[j] : 0f), c[i * n + j]);
            }
            var reference = (float[])c0.Clone();
            Gemm.Reference(m, n, k, a, k, false, b, n, false, reference, n, accumulate, rowBias);
            for (var i = 0; i < c.Length; i++) Assert.Equal(reference[i], c[i], 1e-3f);
        }
        finally
        {
            Gemm.Threads = before;
            Gemm.PortableOnly = false;
        }
    }

    /// <summary>A seed is where C starts: the product equals accumulating onto a copy of it, bit for bit, on every path
    /// (the tiles over one and several k blocks, rows of zeros skipped, k = 0 and 1, a few columns, transposed A).</summary>
    [Theory]
    [InlineData(1000, 256, 3, false, false, 0.0)]
    [InlineData(300, 64, 300, false, true, 0.0)]
    [InlineData(200, 64, 48, false, true, 0.5)]
    [InlineData(100, 256, 1, false, true, 0.5)]
    [InlineData(50, 3, 256, false, false, 0.0)]
    [InlineData(20, 7, 0, false, true, 0.0)]
    [InlineData(70, 40, 30, true, true, 0.0)]
    public void A_seed_starts_the_product_as_accumulating_onto_a_copy_of_it(int m, int n, int k, bool transA, bool bias, double zeroShare)
    {
        var rng = new Random(m + 7 * n + k);
        float[] Random(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        var a = Random(Math.Max(1, m * k));
        for (var i = 0; i < m; i++)
            if (!transA && rng.NextDouble() < zeroShare) a.AsSpan(i * k, k).Clear();
        var b = Random(Math.Max(1, k * n));
        var seed = Random(m * n);
        var rowBias = bias ? Random(n) : [];
        var lda = transA ? m : k;
        var expected = (float[])seed.Clone();
        Gemm.Multiply(m, n, k, a, lda, transA, b, n, false, expected, n, accumulate: true, rowBias);
        var c = Random(m * n);
        Gemm.Multiply(m, n, k, a, lda, transA, b, n, false, c, n, accumulate: false, rowBias, seed);
        Assert.Equal(expected, c);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(m, n, k, a, lda, transA, b, n, false, c, n, accumulate: true, rowBias, seed));
    }

    /// <summary>Narrow outputs (edge panels, the 16-wide tile, the n = 1 dot product), short and long k (k = 0 included,
    /// several k blocks), row strides wider than the rows, row bias.</summary>
    [Fact]
    public void Narrow_strided_and_biased_products_match_the_triple_loop()
    {
        var cases = from m in Gen.Choose(1, 40)
                    from n in Gen.Choose(1, 40)
                    from k in Gen.Frequency((1, Gen.Constant(0)), (6, Gen.Choose(1, 64)), (3, Gen.Choose(65, 300)))
                    from ta in Gen.Elements(false, true)
                    from tb in Gen.Elements(false, true)
                    from acc in Gen.Elements(false, true)
                    from bias in Gen.Elements(false, true)
                    from threads in Gen.Elements(1, 2)
                    from pads in Gen.Choose(0, 5).Three()
                    select new Case(m, n, k, ta, tb, acc, bias, threads, pads.Item1, pads.Item2, pads.Item3);
        Prop.ForAll(Arb.From(cases), s => CompareWithReference(s)).Check(Config.QuickThrowOnFailure.WithMaxTest(300));
    }

    [Theory]
    [InlineData(256, 256, 256)]
    [InlineData(512, 64, 14)]
    [InlineData(512, 64, 64)]
    [InlineData(256, 256, 11)]
    [InlineData(64, 14, 512)]
    [InlineData(300, 260, 270)]
    [InlineData(256, 256, 376)]
    [InlineData(256, 1, 256)]
    [InlineData(256, 17, 64)]
    [InlineData(512, 3, 64)]
    [InlineData(1, 256, 256)]
    [InlineData(17, 64, 512)]
    [InlineData(256, 256, 1)]
    [InlineData(1000, 256, 1)]
    [InlineData(1000, 3, 256)]
    public void Training_shapes_match_the_triple_loop_on_one_and_two_threads(int m, int n, int k)
    {
        foreach (var threads in new[] { 1, 2 })
        foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
        foreach (var bias in new[] { false, true })
            Assert.True(CompareWithReference(new Case(m, n, k, ta, tb, true, bias, threads)), $"threads {threads}, transA {ta}, transB {tb}, bias {bias}");
    }

    /// <summary>Linear's forward on column slices of a wider weight [64, 17 + 376]: ldb exceeds k, and the second slice
    /// starts 17 columns in; the input gradient's slice writes C with ldc wider than n.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Column_slices_of_a_weight_match_the_triple_loop(int threads)
    {
        Assert.True(CompareWithReference(new Case(512, 64, 17, false, true, false, true, threads, PadB: 376)));
        Assert.True(CompareWithReference(new Case(256, 64, 376, false, true, false, true, threads, PadB: 17), bOffset: 17));
        Assert.True(CompareWithReference(new Case(64, 17, 512, true, false, true, false, threads, PadC: 376)));
        // A critic's input gradient over its 3 action columns, g · W[:, 11..14) of a weight [256, 14].
        Assert.True(CompareWithReference(new Case(1000, 3, 256, false, false, false, false, threads, PadB: 11), bOffset: 11));
    }

    [Fact]
    public void A_row_bias_of_the_wrong_length_is_rejected()
    {
        var a = new float[6];
        var b = new float[6];
        var c = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(2, 2, 3, a, 3, false, b, 2, false, c, 2, false, new float[3]));
        Assert.Throws<ArgumentException>(() => Gemm.Reference(2, 2, 3, a, 3, false, b, 2, false, c, 2, false, new float[1]));
    }

    [Fact]
    public void With_k_zero_the_product_is_the_bias_or_adds_it()
    {
        float[] c = [1, 2, 3, 4, 5, 6];
        Gemm.Multiply(2, 3, 0, [], 1, false, [], 3, false, c, 3, accumulate: true, rowBias: [10, 20, 30]);
        Assert.Equal([11f, 22, 33, 14, 25, 36], c);
        Gemm.Multiply(2, 3, 0, [], 1, false, [], 3, false, c, 3, accumulate: false, rowBias: [10, 20, 30]);
        Assert.Equal([10f, 20, 30, 10, 20, 30], c);
    }

    private static bool CompareWithReference(Case s, int bOffset = 0)
    {
        var (m, n, k) = (s.M, s.N, s.K);
        var lda = (s.TransA ? m : k) + s.PadA;
        var ldb = (s.TransB ? k : n) + s.PadB;
        var ldc = n + s.PadC;
        var rng = new Rng((ulong)(m * 7919 + n * 31 + k));
        // Exactly as long as the strides need (no slack past the last row), so reads past an operand's end would show.
        var a = new float[Math.Max(1, (s.TransA ? k : m) * lda)];
        var b = new float[bOffset + Math.Max(1, (s.TransB ? n : k) * ldb)];
        var c = new float[(m - 1) * ldc + n];
        var bias = new float[s.Bias ? n : 0];
        rng.FillUniform(a, -1f, 1f);
        rng.FillUniform(b, -1f, 1f);
        rng.FillUniform(c, -1f, 1f);
        rng.FillUniform(bias, -1f, 1f);
        var expected = (float[])c.Clone();
        Gemm.Reference(m, n, k, a, lda, s.TransA, b.AsSpan(bOffset), ldb, s.TransB, expected, ldc, s.Accumulate, bias);
        var before = Gemm.Threads;
        Gemm.Threads = s.Threads;
        Gemm.PortableOnly = s.Portable;
        try { Gemm.Multiply(m, n, k, a, lda, s.TransA, b.AsSpan(bOffset), ldb, s.TransB, c, ldc, s.Accumulate, bias); }
        finally { Gemm.Threads = before; Gemm.PortableOnly = false; }
        // float32 accumulation of k products of magnitude <= 1: error well below 1e-6 * k. The gaps between rows
        // (ldc > n) must come back untouched: the reference leaves them as they were.
        for (var i = 0; i < c.Length; i++)
            if (Math.Abs(c[i] - expected[i]) > 2e-6f * (k + 1)) return false;
        return true;
    }
}
