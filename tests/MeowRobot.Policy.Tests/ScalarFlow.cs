using MeowRobot.Policy.Files;

namespace MeowRobot.Policy.Tests;

/// <summary>An independent, deliberately plain reading of the golden README's deterministic action (double precision,
/// straight from the file's tensors by name, no packing or SIMD): the peer the runtime is checked against for
/// architectures that have no golden case. It is itself checked against the golden cases.</summary>
internal static class ScalarFlow
{
    public static double[] Act(PolicyFile policy, float[] obs)
    {
        var m = policy.Metadata;
        var s = obs.Select((x, i) => m.ObsNorm is { } n
            ? Math.Clamp((x - (double)n.Mean[i]) / Math.Sqrt(n.Var[i] + (double)n.Epsilon), -n.Clip, n.Clip)
            : x).ToArray();
        var z = new double[m.ActDim];
        for (var k = 0; k < m.Couplings; k++)
        {
            var b = policy[$"flows.{k}.b"].Values;
            var x = z.Select((v, j) => b[j] * v).Concat(s).ToArray();
            var net = PolicyLayout.CouplingNet(m, k);
            for (var l = 0; l < net.Count; l++)
            {
                var layer = net[l];
                var w = policy[layer.Weight].Values;
                var bias = policy[layer.Bias].Values;
                var y = new double[layer.Out];
                for (var o = 0; o < layer.Out; o++)
                {
                    y[o] = bias[o];
                    for (var i = 0; i < layer.In; i++) y[o] += w[o * layer.In + i] * x[i];
                }
                if (layer.NormWeight is not null)
                {
                    var mean = y.Average();
                    var variance = y.Select(v => (v - mean) * (v - mean)).Average();
                    var g = policy[layer.NormWeight].Values;
                    var beta = policy[layer.NormBias!].Values;
                    y = y.Select((v, o) => (v - mean) / Math.Sqrt(variance + 1e-5) * g[o] + beta[o]).ToArray();
                }
                if (layer.SwishBeta is not null)
                {
                    var sb = policy[layer.SwishBeta].Values;
                    y = y.Select((v, o) => v / (1 + Math.Exp(-sb[o] * v))).ToArray();
                }
                x = y;
            }
            z = z.Select((v, j) => b[j] * v + (1 - b[j]) * (v + x[j])).ToArray();
        }
        return z.Select((v, j) =>
        {
            var a = Math.Clamp(Math.Tanh(v), -1, 1);
            return m.ActionScale is { } sc ? sc.Low[j] + (a + 1) * (sc.High[j] - (double)sc.Low[j]) / 2 : a;
        }).ToArray();
    }
}
