using System.Text;
using System.Text.Json;
using MeowRobot.Policy.Files;
using MeowRobot.Testing;

namespace MeowRobot.Learner.Tests;

public sealed class PolicyQueryTests
{
    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Query_output_matches_the_golden_values(string name)
    {
        var c = GoldenCase.Load(name);
        var json = JsonSerializer.SerializeToUtf8Bytes(new { obs = Rows(c.Obs), act = Rows(c.Act) });
        var output = PolicyQuery.Run(PolicyFile.Load(c.Weights), PolicyQuery.Parse(json, c.ObsDim, c.ActDim));
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Near(c.Q1, root.GetProperty("q1"));
        Near(c.Q2, root.GetProperty("q2"));
        Near(c.V1, root.GetProperty("v1"));
        Near(c.V2, root.GetProperty("v2"));
        Near(c.LogProb, root.GetProperty("log_prob"));
        var action = root.GetProperty("action").EnumerateArray().SelectMany(r => r.EnumerateArray()).Select(v => v.GetSingle()).ToArray();
        var expected = Rows(c.DeterministicAction).SelectMany(r => r).ToArray();
        Assert.Equal(expected.Length, action.Length);
        for (var i = 0; i < action.Length; i++) Assert.Equal(expected[i], action[i], 1e-4f);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Without_actions_there_is_no_log_prob_and_Q_is_at_the_deterministic_action()
    {
        var c = GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0]));
        var json = JsonSerializer.SerializeToUtf8Bytes(new { obs = Rows(c.Obs) });
        using var doc = JsonDocument.Parse(PolicyQuery.Run(PolicyFile.Load(c.Weights), PolicyQuery.Parse(json, c.ObsDim, c.ActDim)));
        Assert.False(doc.RootElement.TryGetProperty("log_prob", out _));
        // Q and V at a_det = f(E[z]|s): (Q1 − V1)/α = log π(a_det | s), which is the golden deterministic_log_prob less
        // 2 Σ log(1 − a² + ε) (the official forward path's tanh-term sign, see GoldenParityTests).
        double[] Values(string key) => doc.RootElement.GetProperty(key).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        double[] q1 = Values("q1"), v1 = Values("v1"), q2 = Values("q2"), v2 = Values("v2");
        for (var i = 0; i < q1.Length; i++)
        {
            var squash = 0.0;
            for (var j = 0; j < c.ActDim; j++) squash += Math.Log(1 - (double)c.DeterministicAction[i, j] * c.DeterministicAction[i, j] + 1.1920929e-7);
            var expected = c.DeterministicLogProb[i] - 2 * squash;
            Assert.Equal(expected, (q1[i] - v1[i]) / c.Alpha, 2e-3);
            Assert.Equal(expected, (q2[i] - v2[i]) / c.Alpha, 2e-3);
        }
    }

    [Fact]
    public void Observations_are_normalised_when_the_file_carries_statistics()
    {
        var policy = new FlowPolicy(new FlowShape { ObsDim = 2, ActDim = 2, Hidden = 8, ShiftHidden = 8 }, new Rng(4));
        foreach (var p in policy.Parameters()) new Rng(5).FillNormal(p.Values, 0f, 0.3f);
        var plain = policy.ToFile();
        var normalised = policy.ToFile(m => m with { ObsNorm = new ObservationNormalization([1f, -2f], [4f, 0.25f], Epsilon: 1e-8f, Clip: 3f) });
        // (x − mean) / sqrt(var + 1e-8), clipped to ±3 (the 1e-8 vanishes in float32 here): (3, −2) → (1, 0); (1, 10) → (0, 24) → (0, 3).
        var raw = PolicyQuery.Parse("{\"obs\": [[3, -2], [1, 10]]}"u8, 2, 2);
        var scaled = PolicyQuery.Parse("{\"obs\": [[1, 0], [0, 3]]}"u8, 2, 2);
        Assert.Equal(Encoding.UTF8.GetString(PolicyQuery.Run(plain, scaled)), Encoding.UTF8.GetString(PolicyQuery.Run(normalised, raw)));
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{}", "no \"obs\"")]
    [InlineData("{\"obs\": []}", "no rows")]
    [InlineData("{\"obs\": [[1, 2]]}", "has 2 values")]
    [InlineData("{\"obs\": [[1, 2, 3, 4]]}", "more than 3 values")]
    [InlineData("{\"obs\": [[1, 2, \"x\"]]}", "not a finite float32")]
    [InlineData("{\"obs\": [[1, 2, 1e39]]}", "not a finite float32")]
    [InlineData("{\"obs\": [1, 2, 3]}", "row 0 is not an array")]
    [InlineData("{\"obs\": [[1, 2, 3]], \"act\": [[0.1], [0.2]]}", "\"act\" has 2 rows")]
    [InlineData("{\"obs\": [[1, 2, 3]], \"obs\": [[1, 2, 3]]}", "given twice")]
    [InlineData("{\"obs\": [[1, 2, 3]]} {}", "not valid JSON")]
    [InlineData("{\"obs\": [[1, 2, 3]]", "not valid JSON")]
    public void Malformed_input_is_refused_with_a_reason(string json, string reason)
    {
        var e = Assert.Throws<PolicyQueryException>(() => PolicyQuery.Parse(Encoding.UTF8.GetBytes(json), 3, 1));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Arbitrary_bytes_are_parsed_or_refused_but_never_crash()
    {
        var seed = Encoding.UTF8.GetBytes("{\"obs\": [[1, 2, 3], [4, 5, 6]], \"act\": [[0.5], [-0.5]], \"note\": {\"x\": [1, {}]}}");
        var rng = new Random(17);
        for (var trial = 0; trial < 3000; trial++)
        {
            var bytes = (byte[])seed.Clone();
            var flips = rng.Next(1, 4);
            for (var f = 0; f < flips; f++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            var cut = rng.Next(3) == 0 ? rng.Next(bytes.Length) : bytes.Length;
            try
            {
                var q = PolicyQuery.Parse(bytes.AsSpan(0, cut), 3, 1);
                Assert.Equal(q.Rows * 3, q.Obs.Length);
                Assert.True(q.Act is null || q.Act.Length == q.Rows);
            }
            catch (PolicyQueryException)
            {
            }
        }
    }

    public static TheoryData<string> Cases() => SharedMaterial.GoldenCaseNames();

    private static float[][] Rows(float[,] m) =>
        Enumerable.Range(0, m.GetLength(0)).Select(i => Enumerable.Range(0, m.GetLength(1)).Select(j => m[i, j]).ToArray()).ToArray();

    private static void Near(float[] expected, JsonElement actual)
    {
        var a = actual.EnumerateArray().Select(v => v.GetSingle()).ToArray();
        Assert.Equal(expected.Length, a.Length);
        for (var i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - expected[i]) <= Math.Max(1e-4f, 1e-4f * Math.Abs(expected[i])), $"[{i}] expected {expected[i]}, got {a[i]}");
    }
}
