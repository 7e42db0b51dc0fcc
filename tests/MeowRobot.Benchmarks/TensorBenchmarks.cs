using BenchmarkDotNet.Attributes;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;
using MeowRobot.Tensors.Modules;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Benchmarks;

/// <summary>
/// A training-shaped step of the tensor engine alone: the MEow networks for Hopper (obs 11, action 3) at batch 256 —
/// four coupling MLPs (14 → 64 → 64 → 3, LayerNorm, Swish, Dropout 0.1) on the doubled batch of 512 rows, the prior MLP
/// (11 → 64 → 64 → 3) and two reward-shift MLPs (11 → 256 → 256 → 1) — forward, squared-error loss, backward, clipping
/// and Adam. Allocated bytes per step come from MemoryDiagnoser (expected 0).
/// <c>dotnet run -c Release --project tests/MeowRobot.Benchmarks -- --filter '*TensorBenchmarks*'</c>
/// </summary>
[Config(typeof(GemmBenchmarks.ShortConfig))]
public class TensorBenchmarks
{
    private readonly Tape tape = new();
    private Mlp[] couplings = [];
    private Mlp prior = null!, shift1 = null!, shift2 = null!;
    private Adam adam = null!;
    private IReadOnlyList<Tensor> parameters = [];
    private readonly float[] obs = new float[512 * 11];
    private readonly float[] act = new float[512 * 3];
    private readonly Tensor mask = Tensor.FromValues(1, 3, [1f, 0f, 1f]);

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        Gemm.Threads = Threads;
        var rng = new Rng(1);
        couplings = Enumerable.Range(0, 4).Select(_ => new Mlp([14, 64, 64, 3], rng, new MlpOptions { LayerNorm = true, Dropout = 0.1f })).ToArray();
        prior = new Mlp([11, 64, 64, 3], rng);
        shift1 = new Mlp([11, 256, 256, 1], rng, new MlpOptions { Dropout = 0f });
        shift2 = new Mlp([11, 256, 256, 1], rng, new MlpOptions { Dropout = 0f });
        parameters = couplings.SelectMany(c => c.Parameters()).Concat(prior.Parameters()).Concat(shift1.Parameters()).Concat(shift2.Parameters()).ToArray();
        adam = new Adam(parameters);
        rng.FillNormal(obs);
        rng.FillUniform(act, -0.9f, 0.9f);
    }

    [GlobalCleanup]
    public void Cleanup() => Gemm.Threads = 1;

    /// <summary>Forward + backward + clip + Adam: one update's worth of engine work.</summary>
    [Benchmark]
    public float TrainingStep()
    {
        tape.Reset();
        var s = tape.Input(obs, 512, 11);
        var z = tape.Input(act, 512, 3);
        foreach (var c in couplings)
        {
            var t = c.Forward(tape, tape.Concat(1, tape.Mul(z, mask), s));
            z = tape.Add(z, tape.Mul(t, mask));
        }
        var half = tape.Narrow(s, 0, 0, 256);
        var logScale = prior.Forward(tape, s);
        var q = tape.Sum(tape.Square(tape.Div(z, tape.Exp(logScale))), 1);
        var b1 = shift1.Forward(tape, half);
        var b2 = shift2.Forward(tape, half);
        var loss = tape.Add(tape.Mean(q), tape.Mean(tape.Square(tape.Sub(b1, b2))));
        adam.ZeroGrad();
        tape.Backward(loss);
        var norm = GradientClipping.ClipGradNorm(parameters, 30f);
        adam.Step();
        return norm;
    }
}
