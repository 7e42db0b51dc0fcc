using System.Text.Json;
using MeowRobot.Testing;

namespace MeowRobot.Policy.Tests;

/// <summary>One golden case folder: its weights file and the inputs/expected outputs of cases.json.</summary>
internal sealed record GoldenCase(string Dir, int ObsDim, int ActDim, float[][] Obs, float[][] DeterministicAction)
{
    public string Weights => Path.Combine(Dir, "weights.safetensors");

    public static GoldenCase Load(string name)
    {
        var dir = Path.Combine(SharedMaterial.GoldenDir, name);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "cases.json")));
        var root = doc.RootElement;
        static float[][] Rows(JsonElement e) => e.EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetSingle()).ToArray()).ToArray();
        return new GoldenCase(dir, root.GetProperty("obs_dim").GetInt32(), root.GetProperty("act_dim").GetInt32(),
            Rows(root.GetProperty("obs")), Rows(root.GetProperty("expected").GetProperty("deterministic_action")));
    }

    /// <summary>Every discovered case's weights file (empty when the golden root is absent).</summary>
    public static IEnumerable<string> AllWeightFiles() =>
        SharedMaterial.GoldenCases().SelectMany(d => new[] { "weights.safetensors", "after_train.safetensors", "after_train_target.safetensors" }
            .Select(f => Path.Combine(d, f))).Where(File.Exists);
}
