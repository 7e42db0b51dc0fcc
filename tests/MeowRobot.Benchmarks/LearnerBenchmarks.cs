using BenchmarkDotNet.Attributes;
using MeowRobot.Learner;
using MeowRobot.Tensors;

namespace MeowRobot.Benchmarks;

/// <summary>
/// One full MEow update (<see cref="SoftQUpdate.Step"/>: target V on s′, Q1/Q2 on the doubled batch with dropout 0.1,
/// loss, backward, clip, Adam, Polyak) of the default network at batch 256, for Hopper-sized (11, 3) and Humanoid-sized
/// (376, 17) tasks. The command-line twin is <c>./meow trainer bench update</c>; MemoryDiagnoser reports bytes per update.
/// <c>dotnet run -c Release --project tests/MeowRobot.Benchmarks -- --filter '*LearnerBenchmarks*'</c>
/// </summary>
[Config(typeof(GemmBenchmarks.ShortConfig))]
public class LearnerBenchmarks
{
    private SoftQUpdate update = null!;
    private ReplayBatch batch = null!;

    [Params("11x3", "376x17")]
    public string Dims { get; set; } = "11x3";

    /// <summary>Cores the update uses (<see cref="MeowOptions.Threads"/>: 2 splits the batch over both).</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Dims.Split('x');
        int obsDim = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), actDim = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        var rng = new Rng(1);
        update = new SoftQUpdate(new FlowPolicy(new FlowShape { ObsDim = obsDim, ActDim = actDim }, rng.Split()), new MeowOptions { Threads = Threads });
        batch = new ReplayBatch(256, obsDim, actDim);
        rng.FillNormal(batch.Obs);
        rng.FillNormal(batch.NextObs);
        rng.FillUniform(batch.Act, -0.99f, 0.99f);
        rng.FillNormal(batch.Reward);
    }

    [Benchmark]
    public float Update() => update.Step(batch).Loss;
}
