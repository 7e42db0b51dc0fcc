using MeowRobot.Learner.Sac;
using MeowRobot.Policy.Files;
using MeowRobot.Trainer.Export;
using static MeowRobot.Export.Tests.OnnxExportTests;

namespace MeowRobot.Export.Tests;

/// <summary>SAC's tanh μ(s) and amortized S2AC's act_limit · tanh f(s, 0) exported: ONNX Runtime's action equals the
/// trainer's SAC actor and a plain double-precision reading of the S2AC network to 1e-5.</summary>
public sealed class MlpActorExportTests
{
    [Fact]
    public void A_sac_policy_exports_the_trainers_deterministic_action_and_cleanrls_action_buffers()
    {
        var sac = new SacAlgorithm(5, 2, new SacOptions { Hidden = 24 }, new Rng(7));
        var obs = RandomStates(5, 64, 3f, seed: 8);
        var expected = new float[64 * 2];
        sac.DeterministicActions(obs, 64, expected);

        var plain = sac.ExportPolicy(m => m);
        AssertClose(expected, Run(PolicyExport.ToOnnx(plain), obs, 5, 2), "tanh box");

        // With an action box: CleanRL's action_scale · tanh(μ) + action_bias, from the file's own buffers.
        var boxed = sac.ExportPolicy(m => m with { ActionScale = new ActionScaling([-2f, 0f], [2f, 0.5f]) });
        var scale = boxed[SacLayout.ActionScale].Values;
        var bias = boxed[SacLayout.ActionBias].Values;
        var scaled = expected.Select((a, i) => scale[i % 2] * a + bias[i % 2]).ToArray();
        AssertClose(scaled, Run(PolicyExport.ToOnnx(boxed), obs, 5, 2), "action box");
    }

    [Theory]
    [InlineData(4, 3, 16, 3, 1.0)]
    [InlineData(6, 1, 20, 1, 2.5)] // act_limit scales the action as in the official code
    public void An_amortized_s2ac_policy_exports_act_limit_tanh_f_of_s_and_zero_noise(int obsDim, int actDim, int hidden, int layers, double actLimit)
    {
        var policy = AmortizedS2ac(obsDim, actDim, hidden, layers, actLimit);
        var m = policy.Metadata;
        var obs = RandomStates(obsDim, 32, 3f, seed: 9);
        var expected = new float[32 * actDim];
        var net = S2acLayout.AmortizedActor(m);
        for (var r = 0; r < 32; r++)
        {
            // f(concat(s, ξ = 0)): ELU after each hidden Linear, then act_limit · tanh.
            var x = obs.Skip(r * obsDim).Take(obsDim).Select(v => (double)v).Concat(new double[actDim]).ToArray();
            for (var l = 0; l < net.Count; l++)
            {
                var (w, b) = (policy[net[l].Weight].Values, policy[net[l].Bias].Values);
                var y = new double[net[l].Out];
                for (var o = 0; o < y.Length; o++)
                {
                    double sum = b[o];
                    for (var i = 0; i < x.Length; i++) sum += (double)w[o * x.Length + i] * x[i];
                    y[o] = l < net.Count - 1 && sum < 0 ? Math.Exp(sum) - 1 : sum;
                }
                x = y;
            }
            for (var j = 0; j < actDim; j++) expected[r * actDim + j] = (float)(actLimit * Math.Tanh(x[j]));
        }
        AssertClose(expected, Run(PolicyExport.ToOnnx(policy), obs, obsDim, actDim), "amortized S2AC");
    }

    [Fact]
    public void An_s2ac_policy_with_the_svgd_actor_is_refused_with_the_reason()
    {
        var m = new PolicyMetadata { Algorithm = PolicyAlgorithm.S2ac, ObsDim = 2, ActDim = 2, S2ac = new S2acArchitecture { Hidden = 8 } };
        var policy = new PolicyFile(m, PolicyLayout.Tensors(m).Select(t => new PolicyTensor(t.Name, t.Shape, new float[t.ElementCount])));
        var e = Assert.Throws<NotSupportedException>(() => PolicyExport.ToOnnx(policy));
        Assert.Contains("SVGD actor", e.Message, StringComparison.Ordinal);
        Assert.Contains("amortized", e.Message, StringComparison.Ordinal);
    }

    /// <summary>An amortized S2AC policy file with every tensor uniform in ±0.5.</summary>
    internal static PolicyFile AmortizedS2ac(int obsDim, int actDim, int hidden, int layers, double actLimit)
    {
        var m = new PolicyMetadata
        {
            Algorithm = PolicyAlgorithm.S2ac, ObsDim = obsDim, ActDim = actDim,
            S2ac = new S2acArchitecture { Hidden = hidden, ActorLayers = layers, CriticLayers = 1, ActLimit = actLimit, Actor = S2acActor.Amortized },
        };
        var rng = new Random(obsDim);
        return new PolicyFile(m, PolicyLayout.Tensors(m).Select(t =>
            new PolicyTensor(t.Name, t.Shape, Enumerable.Range(0, t.ElementCount).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray())));
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"{what} [{i}]: expected {expected[i]:R}, onnx {actual[i]:R}");
    }
}
