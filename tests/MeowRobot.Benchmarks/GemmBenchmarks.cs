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
/// The four MEow-shaped products, packed SIMD kernel on 1 and 2 threads beside a naive i-k-j loop (the peer for ratios:
/// the machine is shared, so absolute figures drift between runs, ratios much less).
/// <c>dotnet run -c Release --project tests/MeowRobot.Benchmarks -- --filter '*Gemm*'</c>
/// </summary>
[Config(typeof(ShortConfig))]
public class GemmBenchmarks
{
    private float[] a = [], b = [], c = [];
    private int m, n, k;

    [Params("256x256x256", "512x14x64", "512x64x64", "256x11x256")]
    public string Shape { get; set; } = "256x256x256";

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        var d = Shape.Split('x').Select(int.Parse).ToArray();
        (m, k, n) = (d[0], d[1], d[2]); // [m x k] · [k x n]
        var rng = new Rng(1);
        a = new float[m * k];
        b = new float[k * n];
        c = new float[m * n];
        rng.FillUniform(a, -1f, 1f);
        rng.FillUniform(b, -1f, 1f);
        Gemm.Threads = Threads;
    }

    [GlobalCleanup]
    public void Cleanup() => Gemm.Threads = 1;

    /// <summary>The peer: a plain i-k-j loop, single-threaded whatever <see cref="Threads"/> says.</summary>
    [Benchmark(Baseline = true)]
    public void Naive() => NaiveProduct(m, n, k, a, b, c);

    [Benchmark]
    public void Packed() => Gemm.Multiply(m, n, k, a, k, false, b, n, false, c, n, accumulate: false);

    /// <summary>y = x Wᵀ as Linear computes it (B transposed, packed on every call).</summary>
    [Benchmark]
    public void PackedTransposedB() => Gemm.Multiply(m, n, k, a, k, false, b, k, true, c, n, accumulate: false);

    internal static void NaiveProduct(int m, int n, int k, float[] a, float[] b, float[] c)
    {
        Array.Clear(c);
        for (var i = 0; i < m; i++)
        for (var p = 0; p < k; p++)
        {
            var aip = a[i * k + p];
            for (var j = 0; j < n; j++) c[i * n + j] += aip * b[p * n + j];
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
            var d = shape.Split('x').Select(double.Parse).ToArray();
            return (2 * d[0] * d[1] * d[2] / (useMin ? stats.Min : stats.Mean)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
