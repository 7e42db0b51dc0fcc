using MeowRobot.Policy.Files;

namespace MeowRobot.Learner.Tests;

/// <summary>A new FlowPolicy starts as the official <c>init_Flow</c> starts one (cleanrl/cleanrl/nf/nets.py): every Linear's
/// weight re-initialised, zeros in the prior's and the reward shifts' MLPs, orthogonal in the couplings'; every bias left at
/// PyTorch's default uniform(±1/sqrt(fan_in)); LayerNorm 1 and 0, Swish beta 1.</summary>
public sealed class FlowInitialisationTests
{
    [Theory]
    [InlineData(5, 3, 2)] // the couplings' first layer is wide (8 → 16), the last narrow (16 → 3)
    [InlineData(3, 1, 1)]
    public void Every_tensor_starts_zero_orthogonal_or_default_as_in_the_official_code(int obs, int act, int hiddenLayers)
    {
        var shape = new FlowShape { ObsDim = obs, ActDim = act, Hidden = 16, ShiftHidden = 32, HiddenLayers = hiddenLayers };
        var policy = new FlowPolicy(shape, new Rng(1));
        var state = policy.StateDict();
        var m = policy.ToFile().Metadata;
        var checkedNames = new HashSet<string>(StringComparer.Ordinal);

        void Layers(IReadOnlyList<MlpLayer> layers, Action<string, float[], MlpLayer> weight)
        {
            foreach (var l in layers)
            {
                weight(l.Weight, state[l.Weight], l);
                DefaultBias(l.Bias, state[l.Bias], l.In);
                if (l.NormWeight is not null) Assert.All(state[l.NormWeight], v => Assert.Equal(1f, v));
                if (l.NormBias is not null) Assert.All(state[l.NormBias], v => Assert.Equal(0f, v));
                if (l.SwishBeta is not null) Assert.All(state[l.SwishBeta], v => Assert.Equal(1f, v));
                checkedNames.UnionWith(new[] { l.Weight, l.Bias, l.NormWeight, l.NormBias, l.SwishBeta }.OfType<string>());
            }
        }

        for (var k = 0; k < m.Couplings; k++)
        {
            Layers(PolicyLayout.CouplingNet(m, k), Orthogonal);
            Assert.Equal(PolicyLayout.Mask(k, act), state[PolicyLayout.MaskName(k)]);
            checkedNames.Add(PolicyLayout.MaskName(k));
        }
        Layers(PolicyLayout.ShiftNet(m, 1), Zero);
        Layers(PolicyLayout.ShiftNet(m, 2), Zero);
        Layers(PolicyLayout.PriorNet(m), Zero);
        Assert.Equal(state.Keys.Order(StringComparer.Ordinal), checkedNames.Order(StringComparer.Ordinal));

        // Every Linear draws its own bias (no two layers share a stream position).
        var firstBiases = PolicyLayout.CouplingNet(m, 0).Concat(PolicyLayout.CouplingNet(m, 1)).Concat(PolicyLayout.PriorNet(m))
            .Where(l => l.Out == shape.Hidden).Select(l => state[l.Bias]).ToArray();
        for (var i = 1; i < firstBiases.Length; i++) Assert.NotEqual(firstBiases[0], firstBiases[i]);
    }

    [Fact]
    public void At_initialisation_sigma_and_the_reward_shifts_are_the_same_for_every_state()
    {
        // Zero weights all through: the prior's h(s) and b_k(s) are their output biases pushed through, whatever s is.
        var shape = new FlowShape { ObsDim = 4, ActDim = 2, Hidden = 16, ShiftHidden = 32 };
        var policy = new FlowPolicy(shape, new Rng(3));
        policy.Eval();
        var tape = new Tensors.Tape();
        var obs = tape.Input([0f, 0f, 0f, 0f, 3f, -2f, 1f, 7f], 2, 4);
        var logSigma = policy.Prior.LogSigma(tape, obs);
        Assert.Equal(logSigma[0, 0], logSigma[1, 0]);
        Assert.Equal(logSigma[0, 1], logSigma[1, 1]);
        Assert.NotEqual(logSigma[0, 0], logSigma[0, 1]);
        var shift = policy.Shift.Shift(tape, obs, 1);
        Assert.Equal(shift[0, 0], shift[1, 0]);
        Assert.NotEqual(0f, shift[0, 0]);
    }

    private static void Zero(string name, float[] w, MlpLayer l) => Assert.True(w.All(v => v == 0f), $"{name} should start at zero");

    private static void Orthogonal(string name, float[] w, MlpLayer l)
    {
        // Rows orthonormal when the matrix is wide, columns when it is tall (nn.init.orthogonal_, gain 1).
        int rows = l.Out, cols = l.In, small = Math.Min(rows, cols), n = Math.Max(rows, cols);
        for (var p = 0; p < small; p++)
        for (var q = 0; q < small; q++)
        {
            double dot = 0;
            for (var i = 0; i < n; i++) dot += rows <= cols ? (double)w[p * cols + i] * w[q * cols + i] : (double)w[i * cols + p] * w[i * cols + q];
            Assert.True(Math.Abs(dot - (p == q ? 1 : 0)) < 1e-5, $"{name} is not orthogonal: ({p}, {q}) product {dot}");
        }
    }

    private static void DefaultBias(string name, float[] b, int fanIn)
    {
        var bound = 1 / Math.Sqrt(fanIn);
        Assert.All(b, v => Assert.InRange(v, -bound, bound));
        Assert.True(b.Any(v => Math.Abs(v) > 0.1 * bound), $"{name} should start at PyTorch's default uniform(±{bound:G3}), not zero");
    }
}
