using System.Text.Json;
using MeowRobot.Testing;

namespace MeowRobot.Learner.Tests;

/// <summary>One training step of a golden case: its batch and what the official code computed.</summary>
internal sealed record GoldenTrainStep(
    float[,] Obs, float[,] NextObs, float[,] Act, float[] Reward, float[] Done, float[] Target, float Loss, float GradNormBeforeClip);

/// <summary>The `train` section of cases.json.</summary>
internal sealed record GoldenTraining(
    float Gamma, float Tau, float Lr, float GradClip, float Beta1, float Beta2, float AdamEps, float Dropout, GoldenTrainStep[] Steps);

/// <summary>A golden case folder (../shared/golden/README.md): inputs, expected forward outputs and K training steps.</summary>
internal sealed record GoldenCase(
    string Dir, int ObsDim, int ActDim, float Alpha, float SigmaMin, float SigmaMax,
    float[,] Obs, float[,] Act,
    float[] Q1, float[] Q2, float[] V1, float[] V2, float[,] DeterministicAction, float[] DeterministicLogProb, float[] LogProb,
    GoldenTraining Train)
{
    public string Weights => Path.Combine(Dir, "weights.safetensors");
    public string AfterTrain => Path.Combine(Dir, "after_train.safetensors");
    public string AfterTrainTarget => Path.Combine(Dir, "after_train_target.safetensors");

    public static GoldenCase Load(string name)
    {
        var dir = Path.Combine(SharedMaterial.GoldenDir, name);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "cases.json")));
        var root = doc.RootElement;
        var expected = root.GetProperty("expected");
        var train = root.GetProperty("train");
        var betas = Vector(train.GetProperty("adam_betas"));
        var steps = train.GetProperty("steps").EnumerateArray().Select(s => new GoldenTrainStep(
            Matrix(s.GetProperty("obs")), Matrix(s.GetProperty("next_obs")), Matrix(s.GetProperty("act")),
            Vector(s.GetProperty("reward")), Vector(s.GetProperty("done")), Vector(s.GetProperty("target")),
            s.GetProperty("loss").GetSingle(), s.GetProperty("grad_norm_before_clip").GetSingle())).ToArray();
        return new GoldenCase(
            dir, root.GetProperty("obs_dim").GetInt32(), root.GetProperty("act_dim").GetInt32(),
            root.GetProperty("alpha").GetSingle(), root.GetProperty("sigma_min").GetSingle(), root.GetProperty("sigma_max").GetSingle(),
            Matrix(root.GetProperty("obs")), Matrix(root.GetProperty("act")),
            Vector(expected.GetProperty("q1")), Vector(expected.GetProperty("q2")),
            Vector(expected.GetProperty("v1")), Vector(expected.GetProperty("v2")),
            Matrix(expected.GetProperty("deterministic_action")), Vector(expected.GetProperty("deterministic_log_prob")),
            Vector(expected.GetProperty("log_prob")),
            new GoldenTraining(
                train.GetProperty("gamma").GetSingle(), train.GetProperty("tau").GetSingle(), train.GetProperty("lr").GetSingle(),
                train.GetProperty("grad_clip").GetSingle(), betas[0], betas[1], train.GetProperty("adam_eps").GetSingle(),
                train.GetProperty("dropout").GetSingle(), steps));
    }

    private static float[] Vector(JsonElement e) => e.EnumerateArray().Select(x => x.GetSingle()).ToArray();

    private static float[,] Matrix(JsonElement e)
    {
        var rows = e.EnumerateArray().Select(Vector).ToArray();
        var m = new float[rows.Length, rows.Length == 0 ? 0 : rows[0].Length];
        for (var i = 0; i < rows.Length; i++)
        {
            if (rows[i].Length != m.GetLength(1)) throw new InvalidDataException($"ragged matrix row {i}");
            for (var j = 0; j < rows[i].Length; j++) m[i, j] = rows[i][j];
        }
        return m;
    }
}
