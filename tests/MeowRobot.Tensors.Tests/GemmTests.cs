using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors.Tests;

public class GemmTests
{
    [Fact]
    public void The_fast_product_matches_the_triple_loop_for_random_shapes_and_transpositions()
    {
        var shapes = from m in Gen.Choose(1, 70)
                     from n in Gen.Choose(1, 90)
                     from k in Gen.Choose(1, 80)
                     from ta in Gen.Elements(false, true)
                     from tb in Gen.Elements(false, true)
                     from acc in Gen.Elements(false, true)
                     from threads in Gen.Elements(1, 2)
                     select (m, n, k, ta, tb, acc, threads);
        Prop.ForAll(Arb.From(shapes), s => CompareWithReference(s.m, s.n, s.k, s.ta, s.tb, s.acc, s.threads))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(150));
    }

    [Theory]
    [InlineData(256, 256, 256)]
    [InlineData(512, 64, 14)]
    [InlineData(512, 64, 64)]
    [InlineData(256, 256, 11)]
    [InlineData(64, 14, 512)]
    [InlineData(300, 260, 270)]
    public void Training_shapes_match_the_triple_loop_on_one_and_two_threads(int m, int n, int k)
    {
        foreach (var threads in new[] { 1, 2 })
        foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            Assert.True(CompareWithReference(m, n, k, ta, tb, accumulate: true, threads), $"threads {threads}, transA {ta}, transB {tb}");
    }

    private static bool CompareWithReference(int m, int n, int k, bool ta, bool tb, bool accumulate, int threads)
    {
        var rng = new Rng((ulong)(m * 7919 + n * 31 + k));
        var a = new float[m * k];
        var b = new float[k * n];
        var c = new float[m * n];
        rng.FillUniform(a, -1f, 1f);
        rng.FillUniform(b, -1f, 1f);
        rng.FillUniform(c, -1f, 1f);
        var expected = (float[])c.Clone();
        Gemm.Reference(m, n, k, a, ta ? m : k, ta, b, tb ? k : n, tb, expected, n, accumulate);
        var before = Gemm.Threads;
        Gemm.Threads = threads;
        try { Gemm.Multiply(m, n, k, a, ta ? m : k, ta, b, tb ? k : n, tb, c, n, accumulate); }
        finally { Gemm.Threads = before; }
        // float32 accumulation of k products of magnitude <= 1: error well below 1e-6 * k.
        for (var i = 0; i < c.Length; i++)
            if (Math.Abs(c[i] - expected[i]) > 2e-6f * (k + 1)) return false;
        return true;
    }
}
