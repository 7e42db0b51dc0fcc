using System.Text.Json;
using MeowRobot.Learner.S2ac;
using MeowRobot.Policy.Safetensors;
using MeowRobot.Tensors;
using MeowRobot.Testing;

namespace MeowRobot.Learner.Tests;

/// <summary>
/// Parity with the official S2AC code (ActorSvgd svgd_p0_pram, MaxEntrRL.update) on every case under the S2AC golden
/// root (../shared/golden/README.md, section S2AC): the actor's forward outputs, the actor gradient through the SVGD steps
/// (second order) and the training steps, within the README's tolerances.
/// </summary>
public sealed class S2acGoldenParityTests
{
    private const float ActionAbs = 2e-5f, Rel = 1e-4f, NearZeroAbs = 1e-4f, GradPiRelL2 = 1e-4f;

    public static TheoryData<string> Cases() => GoldenRoot.S2ac.CaseNames();

    [RequiresTheory(Requirement.S2acGoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Forward_outputs_match_the_official_implementation(string name)
    {
        var c = S2acCase.Load(name);
        var policy = c.Policy();
        var tape = new Tape();
        var obs = tape.Input(c.Obs, c.States, c.Options.ObsDim);
        var loss = S2acUpdate.ActorLoss(tape, policy, obs, c.Eps, out var sample, out var qPi);

        Absolute(c.Expected("action"), sample.Action.Values, ActionAbs, "action");
        Absolute(c.Expected("pre_tanh"), sample.PreTanh.Values, ActionAbs, "pre_tanh");
        Relative(c.Expected("log_prob_initial"), sample.LogProbInitial!.Values, "log_prob_initial");
        Relative(c.Expected("log_prob_svgd"), sample.LogProbSvgd!.Values, "log_prob_svgd");
        Relative(c.Expected("log_prob_tanh"), sample.LogProbTanh!.Values, "log_prob_tanh");
        Relative(c.Expected("log_prob"), sample.LogProb!.Values, "log_prob");
        Relative(c.Expected("q_pi"), qPi.Values, "q_pi");
        Relative([c.ExpectedScalar("loss_pi")], loss.Values, "loss_pi");
    }

    [RequiresTheory(Requirement.S2acGoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Actor_gradient_through_the_svgd_steps_matches_the_official_implementation(string name)
    {
        var c = S2acCase.Load(name);
        var policy = c.Policy();
        foreach (var p in policy.Q1.Parameters().Concat(policy.Q2.Parameters())) p.RequiresGrad = false; // as the official update
        var tape = new Tape();
        var loss = S2acUpdate.ActorLoss(tape, policy, tape.Input(c.Obs, c.States, c.Options.ObsDim), c.Eps, out _, out _);
        tape.Backward(loss);

        var expected = Tensors(c.File("grad_pi.safetensors"));
        var actual = policy.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Grad.IsEmpty ? new float[p.Tensor.Length] : p.Tensor.Grad.ToArray());
        double err = 0, norm = 0;
        foreach (var (tensorName, want) in expected)
        {
            Assert.True(actual.TryGetValue(tensorName, out var got), $"no parameter {tensorName}");
            Assert.Equal(want.Length, got.Length);
            for (var i = 0; i < want.Length; i++)
            {
                err += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
                norm += (double)want[i] * want[i];
            }
        }
        Assert.True(norm > 0, "the golden gradient is zero");
        var rel = Math.Sqrt(err / norm);
        Assert.True(rel <= GradPiRelL2, $"grad_pi: relative L2 error {rel:G3} > {GradPiRelL2}");
    }

    [RequiresTheory(Requirement.S2acGoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Training_steps_match_the_official_implementation(string name)
    {
        var c = S2acCase.Load(name);
        var online = c.Policy();
        var update = new S2acUpdate(online);
        for (var k = 0; k < c.Steps.Count; k++)
        {
            var s = c.Steps[k];
            var batch = new ReplayBatch(s.Reward.Length, c.Options.ObsDim, c.Options.ActDim);
            s.Obs.CopyTo(batch.Obs, 0);
            s.NextObs.CopyTo(batch.NextObs, 0);
            s.Act.CopyTo(batch.Act, 0);
            s.Reward.CopyTo(batch.Reward, 0);
            s.Done.CopyTo(batch.Done, 0);
            var stats = update.Step(batch, s.EpsNext, s.EpsPi, []);
            Relative(s.Target, update.LastTarget, $"step {k} target");
            Relative([s.LossQ], [stats.CriticLoss], $"step {k} loss_q");
            Relative([s.GradNormQ], [stats.CriticGradNorm], $"step {k} grad_norm_q");
            Relative([s.LossPi], [stats.ActorLoss], $"step {k} loss_pi");
            Relative([s.GradNormPi], [stats.ActorGradNorm], $"step {k} grad_norm_pi");
        }
        ParamsClose(c.File("after_train.safetensors"), online, ParameterTolerance.AfterTraining, "after_train");
        ParamsClose(c.File("after_train_target.safetensors"), update.Target, ParameterTolerance.Target, "after_train_target");
    }

    private static void ParamsClose(string file, S2acPolicy actual, ParameterTolerance tolerance, string what)
    {
        var result = tolerance.Compare(Tensors(file).Select(kv => (kv.Key, kv.Value)), actual.StateDict());
        Assert.True(result.Passes, $"{what}: {result}");
    }

    internal static Dictionary<string, float[]> Tensors(string path)
    {
        var f = SafetensorsFile.Read(path, 1 << 30);
        return f.Header.Tensors.ToDictionary(t => t.Name, t => f.ReadF32(t.Name), StringComparer.Ordinal);
    }

    private static void Absolute(float[] expected, ReadOnlySpan<float> actual, float tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            if (!(Math.Abs(actual[i] - expected[i]) <= tol))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (|diff| {Math.Abs(actual[i] - expected[i]):G3} > {tol:G3})");
    }

    private static void Relative(float[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var tol = Math.Max(NearZeroAbs, Rel * Math.Abs(expected[i]));
            if (!(Math.Abs(actual[i] - expected[i]) <= tol))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (|diff| {Math.Abs(actual[i] - expected[i]):G3} > {tol:G3})");
        }
    }
}

/// <summary>One training step of an S2AC golden case.</summary>
internal sealed record S2acStep(
    float[] Obs, float[] NextObs, float[] Act, float[] Reward, float[] Done, float[] EpsNext, float[] EpsPi,
    float[] Target, float LossQ, float GradNormQ, float LossPi, float GradNormPi);

/// <summary>An S2AC golden case folder: the networks' options (from its weights' metadata and cases.json), inputs,
/// expected outputs and training steps.</summary>
internal sealed class S2acCase
{
    private readonly JsonElement _expected;

    private S2acCase(string dir, JsonElement root)
    {
        Dir = dir;
        var meta = SafetensorsFile.Read(File("weights.safetensors"), 1 << 30).Header.MetadataEntries.ToDictionary(e => e.Key, e => e.Value);
        var train = root.GetProperty("train");
        var betas = Floats(train.GetProperty("adam_betas"));
        Options = S2acOptions.FromMetadata(meta, new S2acOptions
        {
            ObsDim = 1, ActDim = 1, Amortized = false,
            Gamma = train.GetProperty("gamma").GetSingle(), Polyak = train.GetProperty("polyak").GetSingle(),
            CriticLearningRate = train.GetProperty("lr_critic").GetSingle(), ActorLearningRate = train.GetProperty("lr_actor").GetSingle(),
            AdamBeta1 = betas[0], AdamBeta2 = betas[1], AdamEps = train.GetProperty("adam_eps").GetSingle(),
        });
        // cases.json states the sampler's settings too; they must agree with the weights' metadata
        Assert.Equal(root.GetProperty("particles").GetInt32(), Options.Particles);
        Assert.Equal(root.GetProperty("svgd_steps").GetInt32(), Options.SvgdSteps);
        Assert.Equal(root.GetProperty("alpha").GetSingle(), Options.Alpha);
        Obs = Floats(root.GetProperty("obs"));
        Eps = Floats(root.GetProperty("eps"));
        States = root.GetProperty("obs").GetArrayLength();
        _expected = root.GetProperty("expected").Clone();
        Steps = train.GetProperty("steps").EnumerateArray().Select(s => new S2acStep(
            Floats(s.GetProperty("obs")), Floats(s.GetProperty("next_obs")), Floats(s.GetProperty("act")),
            Floats(s.GetProperty("reward")), Floats(s.GetProperty("done")), Floats(s.GetProperty("eps_next")), Floats(s.GetProperty("eps_pi")),
            Floats(s.GetProperty("target")), s.GetProperty("loss_q").GetSingle(), s.GetProperty("grad_norm_q").GetSingle(),
            s.GetProperty("loss_pi").GetSingle(), s.GetProperty("grad_norm_pi").GetSingle())).ToArray();
    }

    public string Dir { get; }
    public S2acOptions Options { get; }
    public int States { get; }
    public float[] Obs { get; }
    public float[] Eps { get; }
    public IReadOnlyList<S2acStep> Steps { get; }

    public string File(string name) => Path.Combine(Dir, name);

    public float[] Expected(string key) => Floats(_expected.GetProperty(key));

    public float ExpectedScalar(string key) => _expected.GetProperty(key).GetSingle();

    /// <summary>The case's networks with its weights loaded as they are (strict: every official name, nothing else).</summary>
    public S2acPolicy Policy()
    {
        var policy = new S2acPolicy(Options, new Rng(1));
        policy.LoadStateDict(S2acGoldenParityTests.Tensors(File("weights.safetensors")));
        return policy;
    }

    public static S2acCase Load(string name)
    {
        var dir = GoldenRoot.S2ac.Case(name);
        using var doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(Path.Combine(dir, "cases.json")));
        return new S2acCase(dir, doc.RootElement);
    }

    /// <summary>A number, vector or matrix flattened row-major.</summary>
    private static float[] Floats(JsonElement e)
    {
        var list = new List<float>();
        Flatten(e, list);
        return [.. list];

        static void Flatten(JsonElement e, List<float> into)
        {
            if (e.ValueKind == JsonValueKind.Array)
                foreach (var x in e.EnumerateArray()) Flatten(x, into);
            else into.Add(e.GetSingle());
        }
    }
}
