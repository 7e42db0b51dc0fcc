using System.Diagnostics;
using System.Text.Json;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Testing;
using MeowRobot.Trainer.Export;
using MeowRobot.Trainer.Export.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace MeowRobot.Export.Tests;

/// <summary>The exported MEow model, run by ONNX Runtime, gives the controller's runtime's action (FlowPolicyRuntime) to
/// 1e-5 on every golden case and on random states, with observation normalisation and action scaling baked in; Debian's
/// python3-onnx accepts every model, MEow, SAC and amortized S2AC (onnx.checker, full check).</summary>
public sealed class OnnxExportTests
{
    private const float Tolerance = 1e-5f;

    public static TheoryData<string> GoldenCases => SharedMaterial.GoldenCaseNames();

    private static PolicyFile Golden(string name) => PolicyFile.Load(Path.Combine(GoldenRoot.Meow.Case(name), "weights.safetensors"));

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(GoldenCases))]
    public void The_exported_golden_policy_gives_the_official_and_the_runtime_action(string name)
    {
        var policy = Golden(name);
        var m = policy.Metadata;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(GoldenRoot.Meow.Case(name), "cases.json")));
        var rows = doc.RootElement.GetProperty("obs").EnumerateArray().Select(Floats).ToArray();
        var official = doc.RootElement.GetProperty("expected").GetProperty("deterministic_action").EnumerateArray().Select(Floats).ToArray();
        var obs = rows.SelectMany(r => r).Concat(RandomStates(m.ObsDim, 64, 3f, seed: 1)).ToArray();

        var onnx = Run(PolicyExport.ToOnnx(policy), obs, m.ObsDim, m.ActDim);
        AssertMatchesRuntime(policy, obs, onnx);
        for (var r = 0; r < official.Length; r++)
        for (var j = 0; j < m.ActDim; j++)
            Assert.True(Math.Abs(onnx[r * m.ActDim + j] - official[r][j]) <= Tolerance, $"{name} row {r} [{j}]: onnx {onnx[r * m.ActDim + j]}, official {official[r][j]}");
    }

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(GoldenCases))]
    public void Observation_normalisation_and_action_scaling_are_baked_in(string name)
    {
        var plain = Golden(name);
        var m = plain.Metadata;
        var rng = new Random(2);
        float[] Draw(int n, double lo, double hi) => Enumerable.Range(0, n).Select(_ => (float)(lo + rng.NextDouble() * (hi - lo))).ToArray();
        var low = Draw(m.ActDim, -3, -0.5);
        var policy = new PolicyFile(m with
        {
            // Clip 2 so that some of the states below are clipped.
            ObsNorm = new ObservationNormalization(Draw(m.ObsDim, -1, 1), Draw(m.ObsDim, 0.2, 4), 1e-8f, 2f),
            ActionScale = new ActionScaling(low, low.Select(l => l + (float)(0.5 + rng.NextDouble() * 2)).ToArray()),
        }, plain.Tensors);
        var obs = RandomStates(m.ObsDim, 64, 6f, seed: 3);
        var onnx = Run(PolicyExport.ToOnnx(policy), obs, m.ObsDim, m.ActDim);
        AssertMatchesRuntime(policy, obs, onnx);
        // The metadata changes the output (else the comparison above would not show that it is baked in).
        Assert.NotEqual(onnx, Run(PolicyExport.ToOnnx(plain), obs, m.ObsDim, m.ActDim));
    }

    [Theory]
    [InlineData(7, 4, 20, 3, 1, false)] // widths that are not whole vectors, no LayerNorm, deeper, one pair of couplings
    [InlineData(3, 1, 16, 1, 3, true)]  // A = 1: even couplings pass z through
    [InlineData(2, 5, 8, 2, 2, true)]
    public void Architectures_without_a_golden_case_match_the_runtime(int obsDim, int actDim, int hidden, int hiddenLayers, int flowLayers, bool layerNorm)
    {
        var policy = PolicyFile.Initialized(new PolicyMetadata
        {
            ObsDim = obsDim, ActDim = actDim, Hidden = hidden, HiddenLayers = hiddenLayers, FlowLayers = flowLayers, LayerNorm = layerNorm,
        }, seed: obsDim * 10 + actDim);
        var obs = RandomStates(obsDim, 64, 3f, seed: 4);
        AssertMatchesRuntime(policy, obs, Run(PolicyExport.ToOnnx(policy), obs, obsDim, actDim));
    }

    [Fact]
    public void The_model_declares_opset_17_a_symbolic_batch_and_carries_the_policy_metadata()
    {
        var policy = PolicyFile.Initialized(new PolicyMetadata { ObsDim = 5, ActDim = 2, Task = "pendulum", Version = 42 }, 1);
        using var session = new InferenceSession(PolicyExport.ToOnnx(policy), Options());
        var input = Assert.Single(session.InputMetadata);
        Assert.Equal(PolicyExport.ObservationInput, input.Key);
        Assert.Equal([-1, 5], input.Value.Dimensions);
        Assert.Equal(OnnxGraph.BatchDimension, input.Value.SymbolicDimensions[0]);
        var output = Assert.Single(session.OutputMetadata);
        Assert.Equal(PolicyExport.ActionOutput, output.Key);
        Assert.Equal([-1, 2], output.Value.Dimensions);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("pendulum", meta["meow.task"]);
        Assert.Equal("42", meta["meow.version"]);
        Assert.Equal("MeowRobot", session.ModelMetadata.ProducerName);
    }

    [RequiresFact(Requirement.PythonOnnx, Requirement.GoldenVectors)]
    public void Debians_onnx_checker_accepts_every_exported_model()
    {
        var dir = Directory.CreateTempSubdirectory("meow-onnx-check-");
        try
        {
            var models = SharedMaterial.GoldenCases().Select(c => Path.GetFileName(c)).Select(name => (name, Golden(name))).ToList();
            models.Add(("initialised-7x4", PolicyFile.Initialized(new PolicyMetadata { ObsDim = 7, ActDim = 4, LayerNorm = false, HiddenLayers = 3 }, 1)));
            models.Add(("sac-5x2", new Learner.Sac.SacAlgorithm(5, 2, new Learner.Sac.SacOptions { Hidden = 16 }, new Rng(1)).ExportPolicy(m => m)));
            models.Add(("s2ac-amortized-6x1", MlpActorExportTests.AmortizedS2ac(6, 1, 20, 2, 2.5)));
            var paths = new List<string>();
            foreach (var (name, policy) in models)
            {
                var path = Path.Combine(dir.FullName, name + ".onnx");
                File.WriteAllBytes(path, PolicyExport.ToOnnx(policy));
                paths.Add(path);
            }
            // Full check: the schema of every node at its opset, and strict shape inference through the graph.
            const string script = """
                import sys, onnx
                for path in sys.argv[1:]:
                    m = onnx.load(path)
                    onnx.checker.check_model(m, full_check=True)
                    out = m.graph.output[0].type.tensor_type.shape.dim
                    print(path, m.ir_version, m.opset_import[0].version, out[0].dim_param, out[1].dim_value)
                """;
            var psi = new ProcessStartInfo(Requirements.DebianPython) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(script);
            foreach (var p in paths) psi.ArgumentList.Add(p);
            using var process = Process.Start(psi)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var lines = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, "onnx.checker: " + stderr.Result);
            Assert.Equal(paths.Count, lines.Length);
            for (var i = 0; i < paths.Count; i++)
                Assert.Equal($"{paths[i]} {OnnxGraph.IrVersion} {OnnxGraph.Opset} {OnnxGraph.BatchDimension} {models[i].Item2.Metadata.ActDim}", lines[i]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_policy_export_command_writes_the_model_and_refuses_a_bad_policy_file_leaving_nothing()
    {
        var dir = Directory.CreateTempSubdirectory("meow-onnx-cli-");
        try
        {
            var policy = PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1 }, 5);
            var weights = Path.Combine(dir.FullName, "policy.safetensors");
            policy.Save(weights);
            var model = Path.Combine(dir.FullName, "policy.onnx");
            Assert.Equal(0, Trainer.Program.Main(["policy", "export", "--weights", weights, "--format", "onnx", "--output", model]));
            var obs = RandomStates(3, 16, 3f, seed: 6);
            AssertMatchesRuntime(policy, obs, Run(File.ReadAllBytes(model), obs, 3, 1));

            var damaged = Path.Combine(dir.FullName, "damaged.safetensors");
            File.WriteAllBytes(damaged, File.ReadAllBytes(weights)[..100]);
            var refused = Path.Combine(dir.FullName, "refused.onnx");
            Assert.Equal(2, Trainer.Program.Main(["policy", "export", "--weights", damaged, "--output", refused]));
            Assert.NotEqual(0, Trainer.Program.Main(["policy", "export", "--weights", weights, "--format", "tflite", "--output", refused]));
            Assert.Equal(["damaged.safetensors", "policy.onnx", "policy.safetensors"], dir.EnumerateFiles().Select(f => f.Name).Order(StringComparer.Ordinal));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static void AssertMatchesRuntime(PolicyFile policy, float[] obs, float[] onnx)
    {
        var runtime = FlowPolicyRuntime.Create(policy);
        int s = policy.Metadata.ObsDim, a = policy.Metadata.ActDim;
        var action = new float[a];
        var worst = 0f;
        for (var r = 0; r < obs.Length / s; r++)
        {
            runtime.Act(obs.AsSpan(r * s, s), action);
            for (var j = 0; j < a; j++)
            {
                var d = Math.Abs(onnx[r * a + j] - action[j]);
                Assert.True(d <= Tolerance, $"row {r} [{j}]: onnx {onnx[r * a + j]:R}, runtime {action[j]:R}");
                worst = Math.Max(worst, d);
            }
        }
        Assert.True(float.IsFinite(worst));
    }

    /// <summary>Runs the model on rows of <paramref name="obs"/> as one batch.</summary>
    internal static float[] Run(byte[] model, float[] obs, int obsDim, int actDim)
    {
        using var session = new InferenceSession(model, Options());
        using var input = OrtValue.CreateTensorValueFromMemory(obs, [obs.Length / obsDim, obsDim]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [PolicyExport.ObservationInput], [input], [PolicyExport.ActionOutput]);
        var result = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(obs.Length / obsDim * actDim, result.Length);
        return result;
    }

    // One thread: the suite runs beside other test projects on two cores.
    private static SessionOptions Options() => new() { IntraOpNumThreads = 1, InterOpNumThreads = 1 };

    internal static float[] RandomStates(int obsDim, int rows, float scale, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, rows * obsDim).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(x => x.GetSingle()).ToArray();
}
