using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Benchmarks;

/// <summary>
/// Products of one MEow update (see <see cref="Product"/> for the notation), the packed SIMD kernel on 1 and 2 threads
/// (alone, and with a row bias copied into C first or passed as the operand) beside a naive i-k-j loop over the same m, n, k (the peer for ratios: the machine is shared, so absolute figures drift
/// between runs, ratios much less).
/// <c>dotnet run -c Release --project tests/MeowRobot.Benchmarks -- --filter '*GemmBenchmarks*'</c>
/// </summary>
[Config(typeof(ShortConfig))]
public class GemmBenchmarks
{
    private float[] a = [], b = [], c = [], bias = [];
    private Product p;

    [Params("B 256x256x376", "B 256x1x256", "B 512x3x64", "B 512x64x17/393", "B 256x64x376/393+17",
        "N 256x256x256", "N 512x17x64", "A 256x376x256", "A 17x64x512", "B 256x256x11", "B 512x64x3")]
    public string Shape { get; set; } = "B 256x256x376";

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        p = Product.Parse(Shape);
        var rng = new Rng(1);
        a = new float[p.M * p.K];
        b = new float[p.BOffset + (p.Op == 'B' ? p.N * p.Ldb : p.K * p.N)];
        c = new float[p.M * p.N];
        bias = new float[p.N];
        rng.FillUniform(a, -1f, 1f);
        rng.FillUniform(b, -1f, 1f);
        rng.FillUniform(bias, -1f, 1f);
        Gemm.Threads = Threads;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Gemm.Threads = 1;
        coldC = [];
    }

    /// <summary>The peer: a plain i-k-j loop, single-threaded whatever <see cref="Threads"/> says.</summary>
    [Benchmark(Baseline = true)]
    public void Naive() => NaiveProduct(p.M, p.N, p.K, a, b, c);

    [Benchmark]
    public void Packed() => Gemm.Multiply(p.M, p.N, p.K, a, p.Op == 'A' ? p.M : p.K, p.Op == 'A', b.AsSpan(p.BOffset), p.Ldb, p.Op == 'B',
        c, p.N, accumulate: false);

    /// <summary>
    /// <see cref="Packed"/> writing each call into the next of many C buffers (96 MiB in all): C out of cache, as an
    /// update's arena tensor is (last touched a step ago). The peer is <see cref="Packed"/> in the same run (C in cache).
    /// </summary>
    [Benchmark]
    public void PackedColdC()
    {
        if (coldC.Length == 0) coldC = Enumerable.Range(0, Math.Max(2, (96 << 20) / (4 * p.M * p.N))).Select(_ => new float[p.M * p.N]).ToArray();
        var target = coldC[nextC++ % coldC.Length];
        Gemm.Multiply(p.M, p.N, p.K, a, p.Op == 'A' ? p.M : p.K, p.Op == 'A', b.AsSpan(p.BOffset), p.Ldb, p.Op == 'B', target, p.N, accumulate: false);
    }

    private float[][] coldC = [];
    private int nextC;

    /// <summary>Plus a bias on every row the way callers added it before the row-bias operand: copied into each row of C,
    /// then accumulated onto.</summary>
    [Benchmark]
    public void BiasCopiedIntoC()
    {
        for (var i = 0; i < p.M; i++) bias.CopyTo(c.AsSpan(i * p.N, p.N));
        Gemm.Multiply(p.M, p.N, p.K, a, p.Op == 'A' ? p.M : p.K, p.Op == 'A', b.AsSpan(p.BOffset), p.Ldb, p.Op == 'B', c, p.N, accumulate: true);
    }

    /// <summary>Plus a bias on every row through the row-bias operand (the tiles start from it).</summary>
    [Benchmark]
    public void BiasOperand() => Gemm.Multiply(p.M, p.N, p.K, a, p.Op == 'A' ? p.M : p.K, p.Op == 'A', b.AsSpan(p.BOffset), p.Ldb, p.Op == 'B',
        c, p.N, accumulate: false, bias);

    internal static void NaiveProduct(int m, int n, int k, float[] a, float[] b, float[] c)
    {
        Array.Clear(c);
        for (var i = 0; i < m; i++)
        for (var q = 0; q < k; q++)
        {
            var aiq = a[i * k + q];
            for (var j = 0; j < n; j++) c[i * n + j] += aiq * b[q * n + j];
        }
    }

    /// <summary>
    /// "op MxNxK[/ld[+offset]]": C[M, N] = op(A) op(B) with inner size K. op N: both plain (an input gradient g·W);
    /// A: A stored [K, M] (a weight gradient gᵀ·x); B: B stored [N, K] (Linear's forward x·Wᵀ), optionally with row
    /// stride ld and starting offset columns in, i.e. a column slice of a wider weight.
    /// </summary>
    internal readonly record struct Product(char Op, int M, int N, int K, int Ldb, int BOffset)
    {
        public double Flops => 2.0 * M * N * K;

        public static Product Parse(string shape)
        {
            var op = shape[0];
            var rest = shape[2..].Split('/');
            var d = rest[0].Split('x').Select(int.Parse).ToArray();
            var place = rest.Length > 1 ? rest[1].Split('+').Select(int.Parse).ToArray() : [];
            var ldb = place.Length > 0 ? place[0] : op == 'B' ? d[2] : d[1];
            return new Product(op, d[0], d[1], d[2], ldb, place.Length > 1 ? place[1] : 0);
        }
    }

    /// <summary>Few, short iterations, in process (building BenchmarkDotNet's separate boilerplate project takes over its
    /// 2-minute timeout on the shared build machine): the whole suite finishes in a few minutes.</summary>
    internal sealed class ShortConfig : ManualConfig
    {
        public ShortConfig()
        {
            AddJob(Job.ShortRun.WithWarmupCount(3).WithIterationCount(5).WithLaunchCount(1)
                .WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance));
            // The box is shared: Min (the least-disturbed iteration) says more about the kernel than Mean.
            AddColumn(StatisticColumn.Min, new GflopsColumn(useMin: false), new GflopsColumn(useMin: true));
            AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default);
        }
    }

    /// <summary>2·m·n·k / mean (or minimum) time.</summary>
    private sealed class GflopsColumn(bool useMin) : IColumn
    {
        public string Id => useMin ? "GFLOPsAtMin" : "GFLOPs";
        public string ColumnName => useMin ? "GFLOP/s (min)" : "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "2·m·n·k floating-point operations per second, 1e9, from the " + (useMin ? "minimum" : "mean") + " time";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var shape = benchmarkCase.Parameters["Shape"] as string;
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (shape is null || stats is null) return "-";
            return (Product.Parse(shape).Flops / (useMin ? stats.Min : stats.Mean)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
