using BenchmarkDotNet.Attributes;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;

namespace MeowRobot.Benchmarks;

/// <summary>The deterministic action at the two sizes, Vector256 against Vector512 side by side, and loading a
/// policy file (parse + validate + pack). <c>./meow bench --filter *PolicyBenchmarks*</c>.</summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private FlowPolicyRuntime _runtime = null!;
    private PolicyFile _policy = null!;
    private byte[] _bytes = null!;
    private float[] _obs = null!;
    private float[] _action = null!;

    [Params("11x3", "376x17")]
    public string Shape { get; set; } = "11x3";

    /// <summary>Floats per vector the weights are packed for (8 = Vector256, 16 = Vector512).</summary>
    [Params(8, 16)]
    public int Lanes { get; set; } = 16;

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        _policy = PolicyFile.Initialized(new PolicyMetadata { ObsDim = dims[0], ActDim = dims[1] }, seed: 1);
        _bytes = _policy.ToBytes();
        _runtime = FlowPolicyRuntime.Create(_policy, Lanes);
        var rng = new Random(2);
        _obs = Enumerable.Range(0, dims[0]).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        _action = new float[dims[1]];
    }

    [Benchmark]
    public float Act()
    {
        _runtime.Act(_obs, _action);
        return _action[0];
    }

    [Benchmark]
    public FlowPolicyRuntime LoadAndPack() => FlowPolicyRuntime.Create(PolicyFile.Parse(_bytes), Lanes);
}
