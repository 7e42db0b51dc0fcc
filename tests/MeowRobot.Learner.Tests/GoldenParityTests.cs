using MeowRobot.Policy.Files;
using MeowRobot.Tensors;
using MeowRobot.Testing;

namespace MeowRobot.Learner.Tests;

/// <summary>Parity with the official PyTorch MEow on every golden case (../shared/golden/README.md): forward outputs and
/// K training steps, within the README's tolerances (parameters: <see cref="ParameterTolerance"/>).</summary>
public sealed class GoldenParityTests
{
    private const float ForwardRel = 1e-4f, ForwardAbs = 1e-4f, TrainRel = 1e-4f;

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Forward_outputs_match_the_official_implementation(string name)
    {
        var c = GoldenCase.Load(name);
        var policy = FlowPolicy.FromFile(PolicyFile.Load(c.Weights));
        policy.Eval();
        Assert.Equal(c.Alpha, policy.Shape.Alpha);
        var tape = new Tape();
        var n = c.Obs.GetLength(0);
        var obs = tape.Input(Flat(c.Obs), n, c.ObsDim);
        var act = tape.Input(Flat(c.Act), n, c.ActDim);

        var (q1, q2) = policy.SoftQ(tape, obs, act);
        var (v1, v2) = policy.SoftValue(tape, obs);
        Close(c.Q1, q1.Values, "q1");
        Close(c.Q2, q2.Values, "q2");
        Close(c.V1, v1.Values, "v1");
        Close(c.V2, v2.Values, "v2");
        Close(c.LogProb, policy.LogProb(tape, obs, act).Values, "log_prob");
        // The single-k operations agree with the paired ones.
        Close(c.Q2, policy.SoftQ(tape, obs, act, 2).Values, "q2 (single)");
        Close(c.V1, policy.SoftValue(tape, obs, 1).Values, "v1 (single)");

        var det = policy.DeterministicAction(tape, obs);
        Close(Flat(c.DeterministicAction), det.Values, "deterministic_action");
        // The official code reports this from its sampling (forward) path, whose tanh term is +Σ log(1 − a² + ε): the
        // opposite sign of its inverse path, which gives log_prob and Q above (and is the correct change of variables).
        // So the golden value is our log π(a_det | s) plus twice Σ log(1 − a² + ε).
        var forwardPath = tape.Sub(policy.LogProb(tape, obs, det), tape.Mul(Flow.Squash.LogDet(tape, det), 2f));
        Close(c.DeterministicLogProb, forwardPath.Values, "deterministic_log_prob");
    }

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Training_steps_match_the_official_implementation(string name)
    {
        var c = GoldenCase.Load(name);
        var t = c.Train;
        var file = PolicyFile.Load(c.Weights);
        var online = new FlowPolicy(FlowPolicy.ShapeOf(file.Metadata) with { Dropout = t.Dropout }, new Rng(1));
        online.Load(file);
        var update = new SoftQUpdate(online, new MeowOptions
        {
            Gamma = t.Gamma, Tau = t.Tau, LearningRate = t.Lr, AdamBeta1 = t.Beta1, AdamBeta2 = t.Beta2, AdamEps = t.AdamEps, GradClip = t.GradClip,
        });

        for (var k = 0; k < t.Steps.Length; k++)
        {
            var s = t.Steps[k];
            var batch = new ReplayBatch(s.Reward.Length, c.ObsDim, c.ActDim);
            Flat(s.Obs).CopyTo(batch.Obs, 0);
            Flat(s.NextObs).CopyTo(batch.NextObs, 0);
            Flat(s.Act).CopyTo(batch.Act, 0);
            s.Reward.CopyTo(batch.Reward, 0);
            s.Done.CopyTo(batch.Done, 0);
            var stats = update.Step(batch);
            Close(s.Target, update.LastTarget, $"step {k} target");
            Relative(s.Loss, stats.Loss, $"step {k} loss");
            Relative(s.GradNormBeforeClip, stats.GradNorm, $"step {k} grad norm");
        }

        ParamsClose(PolicyFile.Load(c.AfterTrain), online, ParameterTolerance.AfterTraining, "after_train");
        ParamsClose(PolicyFile.Load(c.AfterTrainTarget), update.Target, ParameterTolerance.Target, "after_train_target");
    }

    public static TheoryData<string> Cases() => SharedMaterial.GoldenCaseNames();

    /// <summary>The README's rule for parameters after training (<see cref="ParameterTolerance"/>).</summary>
    private static void ParamsClose(PolicyFile expected, FlowPolicy actual, ParameterTolerance tolerance, string what)
    {
        var result = tolerance.Compare(expected.Tensors.Select(t => (t.Name, t.Values)), actual.StateDict());
        Assert.True(result.Passes, $"{what}: {result}");
    }

    private static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var tol = Math.Max(ForwardAbs, ForwardRel * Math.Abs(expected[i]));
            if (!(Math.Abs(actual[i] - expected[i]) <= tol))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (tolerance {tol:G3})");
        }
    }

    private static void Relative(float expected, float actual, string what)
    {
        if (!(Math.Abs(actual - expected) <= TrainRel * Math.Abs(expected)))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R} (relative {Math.Abs(actual - expected) / Math.Abs(expected):G3} > {TrainRel})");
    }

    private static float[] Flat(float[,] m)
    {
        var f = new float[m.Length];
        Buffer.BlockCopy(m, 0, f, 0, m.Length * sizeof(float));
        return f;
    }
}
