using BenchmarkDotNet.Running;

namespace MeowRobot.Benchmarks;

/// <summary>BenchmarkDotNet entry: <c>./meow bench [--filter *Gemm*]</c>. Suites live beside this file, one per area.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
