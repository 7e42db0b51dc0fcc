using BenchmarkDotNet.Attributes;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace MeowRobot.Benchmarks;

/// <summary>
/// The element-wise work of a hidden block at the two shapes one MEow update runs most: a coupling layer (LayerNorm →
/// Swish → Dropout 0.1 over 512 rows of 64) and a reward-shift layer (Swish over 256 rows of 256). The fused op
/// (<see cref="Tape.HiddenActivation"/>) forward, and forward + backward, beside the same stages as separate tape ops
/// (the peer); and a bias gradient (the column sums of the output gradient) by <see cref="ColumnSums"/> beside a
/// row-by-row vector add.
/// <c>dotnet run -c Release --project tests/MeowRobot.Benchmarks -- --filter '*ActivationBenchmarks*'</c>
/// </summary>
[Config(typeof(GemmBenchmarks.ShortConfig))]
public class ActivationBenchmarks
{
    private readonly Tape tape = new();
    private float[] x = [], outputGrad = [], columnSums = [];
    private Tensor weight = null!, bias = null!, beta = null!;
    private readonly Rng dropout = new(7);
    private int rows, cols;
    private bool layerNorm;
    private float p;

    [Params("LayerNorm+Swish+Dropout 512x64", "Swish 256x256")]
    public string Block { get; set; } = "LayerNorm+Swish+Dropout 512x64";

    [GlobalSetup]
    public void Setup()
    {
        layerNorm = Block.StartsWith("LayerNorm", StringComparison.Ordinal);
        p = layerNorm ? 0.1f : 0f;
        var dims = Block.Split(' ')[1].Split('x');
        (rows, cols) = (int.Parse(dims[0]), int.Parse(dims[1]));
        var rng = new Rng(1);
        x = new float[rows * cols];
        outputGrad = new float[rows * cols];
        columnSums = new float[cols];
        rng.FillNormal(x);
        rng.FillNormal(outputGrad);
        weight = new Tensor(cols, requiresGrad: true);
        bias = new Tensor(cols, requiresGrad: true);
        beta = new Tensor(cols, requiresGrad: true);
        weight.Fill(1f);
        beta.Fill(1f);
    }

    [Benchmark]
    public Tensor FusedForward()
    {
        tape.Reset();
        var input = tape.Input(x, rows, cols, requiresGrad: true);
        return Fused(input);
    }

    [Benchmark]
    public void FusedForwardBackward()
    {
        tape.Reset();
        var input = tape.Input(x, rows, cols, requiresGrad: true);
        tape.Backward(Fused(input), outputGrad);
    }

    /// <summary>The peer: the stages as separate ops, each its own pass and its own saved tensors.</summary>
    [Benchmark(Baseline = true)]
    public void SeparateForwardBackward()
    {
        tape.Reset();
        var y = tape.Input(x, rows, cols, requiresGrad: true);
        if (layerNorm) y = tape.LayerNorm(y, weight, bias);
        y = tape.Swish(y, beta);
        if (p > 0f) y = tape.Dropout(y, p, dropout);
        tape.Backward(y, outputGrad);
    }

    [Benchmark]
    public void BiasGradientColumnSums() => ColumnSums.AddTo(outputGrad, columnSums);

    /// <summary>The peer for <see cref="BiasGradientColumnSums"/>: one vector add of each row into the sums.</summary>
    [Benchmark]
    public void BiasGradientRowByRow()
    {
        for (var i = 0; i < rows; i++) TensorPrimitives.Add(columnSums, outputGrad.AsSpan(i * cols, cols), columnSums);
    }

    private Tensor Fused(Tensor input) => tape.HiddenActivation(input, layerNorm, layerNorm ? weight : null, layerNorm ? bias : null, 1e-5f, beta, p, dropout);
}
