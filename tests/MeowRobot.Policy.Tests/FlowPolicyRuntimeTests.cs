using System.Runtime.CompilerServices;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Testing;

namespace MeowRobot.Policy.Tests;

public class FlowPolicyRuntimeTests
{
    private const float Tolerance = 1e-5f;

    public static TheoryData<string> Cases => SharedMaterial.GoldenCaseNames();

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Deterministic_action_matches_the_official_one_at_every_vector_width(string name)
    {
        var golden = GoldenCase.Load(name);
        var policy = PolicyFile.Load(golden.Weights);
        foreach (var lanes in new[] { 4, 8, 16 })
        {
            var runtime = FlowPolicyRuntime.Create(policy, lanes);
            var action = new float[golden.ActDim];
            for (var row = 0; row < golden.Obs.Length; row++)
            {
                runtime.Act(golden.Obs[row], action);
                for (var j = 0; j < golden.ActDim; j++)
                    Assert.True(Math.Abs(action[j] - golden.DeterministicAction[row][j]) <= Tolerance,
                        $"{name} lanes {lanes} row {row} action[{j}] = {action[j]}, expected {golden.DeterministicAction[row][j]}");
            }
        }
    }

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Observation_normalisation_and_action_scaling_are_applied_around_the_flow(string name)
    {
        var golden = GoldenCase.Load(name);
        var plain = PolicyFile.Load(golden.Weights);
        var mean = Enumerable.Range(0, golden.ObsDim).Select(i => 0.25f * i - 1f).ToArray();
        var variance = Enumerable.Range(0, golden.ObsDim).Select(i => 0.5f + 0.125f * i).ToArray();
        var low = Enumerable.Range(0, golden.ActDim).Select(j => -2f - j).ToArray();
        var high = Enumerable.Range(0, golden.ActDim).Select(j => 0.5f + 2f * j).ToArray();
        var policy = new PolicyFile(plain.Metadata with
        {
            ObsNorm = new ObservationNormalization(mean, variance, Epsilon: 1e-8f, Clip: 10f),
            ActionScale = new ActionScaling(low, high),
        }, plain.Tensors);
        var runtime = FlowPolicyRuntime.Create(policy);
        var action = new float[golden.ActDim];
        for (var row = 0; row < golden.Obs.Length; row++)
        {
            // A raw observation that normalises to the golden one, so the flow sees the golden input.
            var raw = golden.Obs[row].Select((x, i) => (float)(x * Math.Sqrt(variance[i] + 1e-8) + mean[i])).ToArray();
            runtime.Act(raw, action);
            for (var j = 0; j < golden.ActDim; j++)
            {
                var expected = low[j] + (golden.DeterministicAction[row][j] + 1f) * (high[j] - low[j]) / 2f;
                Assert.True(Math.Abs(action[j] - expected) <= 1e-4f * (high[j] - low[j]), $"{name} row {row} action[{j}] = {action[j]}, expected {expected}");
            }
        }
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Observations_beyond_the_clip_are_clamped_before_the_flow()
    {
        var golden = GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0]));
        var plain = PolicyFile.Load(golden.Weights);
        var zeros = new float[golden.ObsDim];
        var ones = Enumerable.Repeat(1f, golden.ObsDim).ToArray();
        var clipped = FlowPolicyRuntime.Create(new PolicyFile(plain.Metadata with { ObsNorm = new ObservationNormalization(zeros, ones, 1e-8f, Clip: 0.5f) }, plain.Tensors));
        var direct = FlowPolicyRuntime.Create(plain);
        var big = Enumerable.Range(0, golden.ObsDim).Select(i => i % 2 == 0 ? 7f : -7f).ToArray();
        var atClip = big.Select(x => Math.Sign(x) * 0.5f).ToArray();
        var a = new float[golden.ActDim];
        var b = new float[golden.ActDim];
        clipped.Act(big, a);
        direct.Act(atClip, b);
        Assert.Equal(b, a);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Act_allocates_nothing_after_warm_up()
    {
        foreach (var dir in SharedMaterial.GoldenCases())
        {
            var golden = GoldenCase.Load(Path.GetFileName(dir));
            var plain = PolicyFile.Load(golden.Weights);
            var withExtras = new PolicyFile(plain.Metadata with
            {
                ObsNorm = new ObservationNormalization(new float[golden.ObsDim], Enumerable.Repeat(1f, golden.ObsDim).ToArray()),
                ActionScale = new ActionScaling(Enumerable.Repeat(-2f, golden.ActDim).ToArray(), Enumerable.Repeat(2f, golden.ActDim).ToArray()),
            }, plain.Tensors);
            foreach (var runtime in new[] { FlowPolicyRuntime.Create(plain), FlowPolicyRuntime.Create(withExtras) })
            {
                var action = new float[golden.ActDim];
                _ = AllocatedBy(runtime, golden.Obs, action, 1000); // warm-up
                Assert.Equal(0, AllocatedBy(runtime, golden.Obs, action, 10_000));
            }
        }
    }

    // The measuring loop is compiled fully optimised up front: a tier-0 loop would be replaced on the stack (OSR) partway,
    // and the JIT's own bookkeeping would be counted against this thread.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long AllocatedBy(FlowPolicyRuntime runtime, float[][] observations, float[] action, int calls)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < calls; i++) runtime.Act(observations[i % observations.Length], action);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void A_clone_computes_the_same_actions_with_its_own_scratch()
    {
        var golden = GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[^1]));
        var runtime = FlowPolicyRuntime.Create(PolicyFile.Load(golden.Weights));
        var clone = runtime.Clone();
        var a = new float[golden.ActDim];
        var b = new float[golden.ActDim];
        runtime.Act(golden.Obs[0], a);
        clone.Act(golden.Obs[1], b); // interleaved calls must not disturb each other
        runtime.Act(golden.Obs[0], b);
        Assert.Equal(a, b);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Wrong_span_lengths_are_rejected()
    {
        var golden = GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0]));
        var runtime = FlowPolicyRuntime.Create(PolicyFile.Load(golden.Weights));
        Assert.Throws<ArgumentException>(() => runtime.Act(new float[golden.ObsDim + 1], new float[golden.ActDim]));
        Assert.Throws<ArgumentException>(() => runtime.Act(new float[golden.ObsDim], new float[golden.ActDim + 1]));
    }
}
