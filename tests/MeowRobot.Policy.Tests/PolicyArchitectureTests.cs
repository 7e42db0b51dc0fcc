using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Testing;

namespace MeowRobot.Policy.Tests;

/// <summary>Architectures other than the golden ones (widths that are not whole vectors, no LayerNorm, deeper nets, more
/// couplings), checked against <see cref="ScalarFlow"/>, which is itself checked against the golden cases.</summary>
public class PolicyArchitectureTests
{
    public static TheoryData<string> Cases => SharedMaterial.GoldenCaseNames();

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void The_scalar_peer_agrees_with_the_golden_actions(string name)
    {
        var golden = GoldenCase.Load(name);
        var policy = PolicyFile.Load(golden.Weights);
        for (var row = 0; row < golden.Obs.Length; row++)
        {
            var a = ScalarFlow.Act(policy, golden.Obs[row]);
            for (var j = 0; j < golden.ActDim; j++) Assert.True(Math.Abs(a[j] - golden.DeterministicAction[row][j]) <= 1e-5, $"{name} row {row} [{j}]");
        }
    }

    public static TheoryData<int, int, int, int, int, bool> Architectures => new()
    {
        { 11, 3, 64, 2, 2, true },
        { 376, 17, 64, 2, 2, true },
        { 7, 2, 48, 2, 2, true },    // hidden not a multiple of 16: padded lanes must stay out of LayerNorm
        { 5, 4, 20, 3, 1, false },   // no LayerNorm, three hidden layers, one pair of couplings
        { 3, 1, 33, 1, 3, true },    // one action: half the couplings are the identity
        { 9, 6, 70, 2, 3, false },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void The_runtime_agrees_with_the_scalar_peer(int obsDim, int actDim, int hidden, int hiddenLayers, int flowLayers, bool layerNorm)
    {
        var metadata = new PolicyMetadata
        {
            ObsDim = obsDim, ActDim = actDim, Hidden = hidden, HiddenLayers = hiddenLayers, FlowLayers = flowLayers, LayerNorm = layerNorm,
            ShiftHidden = 16,
        };
        var initial = PolicyFile.Initialized(metadata, seed: obsDim * 31 + actDim);
        // Like the golden files, perturb everything (LayerNorm and beta included) so no parameter sits at its default.
        var rng = new Random(7);
        var policy = new PolicyFile(metadata with
        {
            ObsNorm = new ObservationNormalization(Enumerable.Range(0, obsDim).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(),
                Enumerable.Range(0, obsDim).Select(_ => (float)rng.NextDouble() + 0.1f).ToArray(), 1e-8f, 3f),
            ActionScale = new ActionScaling(Enumerable.Repeat(-1.5f, actDim).ToArray(), Enumerable.Range(0, actDim).Select(j => 0.5f + j).ToArray()),
        }, initial.Tensors.Select(t => t with
        {
            Values = t.Name.EndsWith(".b", StringComparison.Ordinal) ? t.Values : t.Values.Select(v => v + (float)(rng.NextDouble() - 0.5) * 0.6f).ToArray(),
        }));
        foreach (var lanes in new[] { 4, 8, 16 })
        {
            var runtime = FlowPolicyRuntime.Create(policy, lanes);
            var action = new float[actDim];
            for (var trial = 0; trial < 20; trial++)
            {
                var obs = Enumerable.Range(0, obsDim).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
                runtime.Act(obs, action);
                var expected = ScalarFlow.Act(policy, obs);
                for (var j = 0; j < actDim; j++)
                    Assert.True(Math.Abs(action[j] - expected[j]) <= 2e-5 * (1 + j), $"lanes {lanes} trial {trial} action[{j}] = {action[j]}, peer {expected[j]}");
            }
        }
    }

    [Fact]
    public void An_initialised_policy_is_valid_seeded_and_within_the_PyTorch_bounds()
    {
        var metadata = new PolicyMetadata { ObsDim = 376, ActDim = 17 };
        var a = PolicyFile.Initialized(metadata, 3);
        Assert.Equal(a.ToBytes(), PolicyFile.Initialized(metadata, 3).ToBytes());
        Assert.NotEqual(a.ToBytes(), PolicyFile.Initialized(metadata, 4).ToBytes());
        Assert.All(a["flows.0.t.net.0.weight"].Values, v => Assert.InRange(v, -1 / MathF.Sqrt(393), 1 / MathF.Sqrt(393)));
        Assert.All(a["flows.0.t.net.0.bias"].Values, v => Assert.InRange(v, -1 / MathF.Sqrt(393), 1 / MathF.Sqrt(393)));
        Assert.All(a["flows.4.scale1.net.3.weight"].Values, v => Assert.InRange(v, -1 / 16f, 1 / 16f));
        Assert.Equal(PolicyLayout.Mask(1, 17), a["flows.1.b"].Values);
        Assert.All(a["flows.2.t.net.5.weight"].Values, v => Assert.Equal(1f, v));
        Assert.Equal(a.ToBytes(), PolicyFile.Parse(a.ToBytes()).ToBytes());
    }
}
