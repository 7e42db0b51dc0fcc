using System.Runtime.InteropServices;
using MeowRobot.Bridge.Sim;
using MeowRobot.Learner.Sac;
using MeowRobot.Tasks;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.Tests;

/// <summary>SAC's losses against a plain double-precision evaluation of CleanRL's formulas on tiny networks, their
/// gradients against finite differences of that evaluation, and the update's schedule (delayed actor, α, Polyak).</summary>
public sealed class SacTests
{
    private const int S = 2, A = 2, N = 5;
    private static readonly SacOptions Tiny = new() { Hidden = 4 };

    private static SacAlgorithm Algorithm(SacOptions? options = null) => new(S, A, options ?? Tiny, new Rng(11));

    private static ReplayBatch Batch(ulong seed = 5)
    {
        var rng = new Rng(seed);
        var b = new ReplayBatch(N, S, A);
        rng.FillNormal(b.Obs);
        rng.FillNormal(b.NextObs);
        rng.FillUniform(b.Act, -0.9f, 0.9f);
        rng.FillNormal(b.Reward);
        b.Done[2] = 1f;
        return b;
    }

    private static float[] Normals(int count, ulong seed)
    {
        var v = new float[count];
        new Rng(seed).FillNormal(v);
        return v;
    }

    // ---- the reference: CleanRL's formulas in double, reading the modules' current weights ----

    private static double[] Dense(Linear l, double[] x, bool relu)
    {
        var w = l.Weight.Values;
        var b = l.Bias!.Values;
        var y = new double[l.OutFeatures];
        for (var o = 0; o < y.Length; o++)
        {
            var sum = (double)b[o];
            for (var i = 0; i < x.Length; i++) sum += w[o * x.Length + i] * x[i];
            y[o] = relu ? Math.Max(0, sum) : sum;
        }
        return y;
    }

    private static double Q(SoftQNetwork q, double[] s, double[] a) =>
        Dense(q.Fc3, Dense(q.Fc2, Dense(q.Fc1, [.. s, .. a], true), true), false)[0];

    private static (double[] Action, double LogPi) Sample(SacActor actor, double[] s, double[] eps)
    {
        var h = Dense(actor.Fc2, Dense(actor.Fc1, s, true), true);
        var mean = Dense(actor.FcMean, h, false);
        var raw = Dense(actor.FcLogStd, h, false);
        var a = new double[A];
        var logPi = 0.0;
        for (var j = 0; j < A; j++)
        {
            var logStd = -5 + 0.5 * (2 - -5) * (Math.Tanh(raw[j]) + 1);
            var u = mean[j] + Math.Exp(logStd) * eps[j];
            a[j] = Math.Tanh(u);
            // Normal(mean, std).log_prob(u) − log(1 − a² + 1e-6)
            logPi += -0.5 * eps[j] * eps[j] - logStd - 0.5 * Math.Log(2 * Math.PI) - Math.Log(1 - a[j] * a[j] + 1e-6);
        }
        return (a, logPi);
    }

    private static double[] Row(ReadOnlySpan<float> values, int row, int cols) =>
        [.. values.Slice(row * cols, cols).ToArray().Select(v => (double)v)];

    private static double ReferenceCriticLoss(SacAlgorithm sac, ReplayBatch b, float[] nextNoise, double gamma = 0.99)
    {
        double l1 = 0, l2 = 0;
        for (var i = 0; i < N; i++)
        {
            var (a2, logPi2) = Sample(sac.Networks.Actor, Row(b.NextObs, i, S), Row(nextNoise, i, A));
            var next = Math.Min(Q(sac.Qf1Target, Row(b.NextObs, i, S), a2), Q(sac.Qf2Target, Row(b.NextObs, i, S), a2)) - sac.Alpha * logPi2;
            var y = b.Reward[i] + (1 - b.Done[i]) * gamma * next;
            l1 += Math.Pow(Q(sac.Networks.Qf1, Row(b.Obs, i, S), Row(b.Act, i, A)) - y, 2);
            l2 += Math.Pow(Q(sac.Networks.Qf2, Row(b.Obs, i, S), Row(b.Act, i, A)) - y, 2);
        }
        return l1 / N + l2 / N;
    }

    private static double ReferenceActorLoss(SacAlgorithm sac, ReplayBatch b, float[] noise)
    {
        var sum = 0.0;
        for (var i = 0; i < N; i++)
        {
            var s = Row(b.Obs, i, S);
            var (a, logPi) = Sample(sac.Networks.Actor, s, Row(noise, i, A));
            sum += sac.Alpha * logPi - Math.Min(Q(sac.Networks.Qf1, s, a), Q(sac.Networks.Qf2, s, a));
        }
        return sum / N;
    }

    private static float CriticLoss(SacAlgorithm sac, Tape tape, ReplayBatch b, float[] nextNoise) =>
        sac.CriticLoss(tape, b, tape.Input(nextNoise, N, A)).Loss.Item();

    private static Tensor ActorLoss(SacAlgorithm sac, Tape tape, ReplayBatch b, float[] noise) =>
        sac.ActorLoss(tape, tape.Input(b.Obs, N, S), tape.Input(noise, N, A));

    /// <summary>Central differences of the double reference, one parameter entry at a time; NaN where two step sizes
    /// disagree (a ReLU changes side within the step: the loss is not differentiable there).</summary>
    private static double FiniteDifference(Tensor parameter, int index, Func<double> loss)
    {
        var (coarse, fine) = (Central(parameter, index, loss, 1e-3f), Central(parameter, index, loss, 1e-4f));
        return Math.Abs(coarse - fine) <= 1e-3 + 1e-2 * Math.Abs(fine) ? fine : double.NaN;
    }

    private static double Central(Tensor parameter, int index, Func<double> loss, float h)
    {
        var v = parameter.Values[index];
        parameter.Values[index] = v + h;
        var up = loss();
        parameter.Values[index] = v - h;
        var down = loss();
        parameter.Values[index] = v;
        return (up - down) / ((double)(v + h) - (v - h));
    }

    [Fact]
    public void The_critic_loss_is_the_soft_Bellman_error_of_both_critics()
    {
        var sac = Algorithm();
        var b = Batch();
        var noise = Normals(N * A, 3);
        var tape = new Tape();
        var expected = ReferenceCriticLoss(sac, b, noise);
        Assert.Equal(expected, CriticLoss(sac, tape, b, noise), Math.Abs(expected) * 1e-5);
    }

    [Fact]
    public void The_actor_loss_is_alpha_log_pi_minus_the_smaller_critic()
    {
        var sac = Algorithm(Tiny with { Autotune = false, Alpha = 0.37f });
        var b = Batch();
        var noise = Normals(N * A, 4);
        var tape = new Tape();
        var expected = ReferenceActorLoss(sac, b, noise);
        Assert.Equal(expected, ActorLoss(sac, tape, b, noise).Item(), Math.Abs(expected) * 1e-5 + 1e-6);
    }

    [Fact]
    public void Gradients_match_finite_differences_of_the_reference()
    {
        var sac = Algorithm(Tiny with { Autotune = false, Alpha = 0.37f });
        var b = Batch();
        var noise = Normals(N * A, 4);
        var nextNoise = Normals(N * A, 3);
        var tape = new Tape();
        int compared = 0, kinks = 0;
        void Check(string what, int i, float backward, double fd)
        {
            if (double.IsNaN(fd))
            {
                kinks++;
                return;
            }
            compared++;
            Assert.True(Math.Abs(fd - backward) <= 1e-3 + 1e-2 * Math.Abs(fd), $"{what}[{i}]: backward {backward}, finite difference {fd}");
        }

        // Actor loss w.r.t. the actor: through the reparameterised sample, log σ's tanh bounds and the tanh correction.
        foreach (var p in sac.Networks.Parameters()) p.ZeroGrad();
        tape.Backward(ActorLoss(sac, tape, b, noise));
        var actor = sac.Networks.Actor;
        foreach (var (parameter, name) in new[] { (actor.FcMean.Weight, "fc_mean"), (actor.FcLogStd.Weight, "fc_logstd"), (actor.Fc1.Weight, "fc1"), (actor.Fc1.Bias!, "fc1.bias") })
        {
            var grad = parameter.Grad.ToArray();
            for (var i = 0; i < parameter.Length; i++)
            {
                Check("actor " + name, i, grad[i], FiniteDifference(parameter, i, () => ReferenceActorLoss(sac, b, noise)));
            }
        }

        // Critic loss w.r.t. the critics, with y held fixed (no gradient through the target).
        tape.Reset();
        foreach (var p in sac.Networks.Parameters()) p.ZeroGrad();
        var (loss, _, _, _) = sac.CriticLoss(tape, b, tape.Input(nextNoise, N, A));
        tape.Backward(loss);
        Assert.True(actor.Fc1.Weight.Grad.IsEmpty || actor.Fc1.Weight.Grad.ToArray().All(g => g == 0f), "the critic loss reached the actor");
        foreach (var (parameter, name) in new[] { (sac.Networks.Qf1.Fc1.Weight, "qf1.fc1"), (sac.Networks.Qf2.Fc3.Weight, "qf2.fc3"), (sac.Networks.Qf1.Fc2.Bias!, "qf1.fc2.bias") })
        {
            var grad = parameter.Grad.ToArray();
            for (var i = 0; i < parameter.Length; i++)
            {
                Check("critic " + name, i, grad[i], FiniteDifference(parameter, i, () => ReferenceCriticLoss(sac, b, nextNoise)));
            }
        }
        Assert.True(kinks * 10 <= compared, $"{kinks} entries at a ReLU kink, {compared} compared");
    }

    [Fact]
    public void The_alpha_loss_gradient_is_minus_alpha_times_the_entropy_gap()
    {
        var sac = Algorithm();
        var tape = new Tape();
        var logPi = tape.Input([0.5f, -1.5f, 2.5f], 3, 1);
        var loss = sac.AlphaLoss(tape, logPi);
        tape.Backward(loss);
        // α = 1 at the start; mean(log π + H̄) = (0.5 − 1.5 + 2.5)/3 − 2 = −1.5; loss = 1.5, d loss / d log α = 1.5
        Assert.Equal(1.5f, loss.Item(), 1e-6f);
        Assert.Equal(1.5f, sac.LogAlpha.Grad[0], 1e-6f);
    }

    [Fact]
    public void The_actor_and_alpha_step_every_second_update_twice_and_the_targets_every_update()
    {
        var sac = Algorithm();
        var b = Batch();
        var target0 = sac.Qf1Target.Fc2.Weight.ToArray();
        var actor0 = sac.Networks.Actor.Fc1.Weight.ToArray();

        sac.Update(b);
        Assert.Equal(1, sac.QOptimizer.States[0].Step);
        Assert.Equal(0, sac.ActorOptimizer.States[0].Step);
        Assert.Equal(actor0, sac.Networks.Actor.Fc1.Weight.ToArray());
        Assert.Equal(1f, sac.Alpha);
        var online = sac.Networks.Qf1.Fc2.Weight.Values;
        var target = sac.Qf1Target.Fc2.Weight.Values;
        for (var i = 0; i < target.Length; i++) Assert.Equal(0.005f * online[i] + (1 - 0.005f) * target0[i], target[i]);

        sac.Update(b);
        Assert.Equal(2, sac.QOptimizer.States[0].Step);
        Assert.Equal(2, sac.ActorOptimizer.States[0].Step);
        Assert.Equal(2, sac.AlphaOptimizer.States[0].Step);
        Assert.NotEqual(actor0, sac.Networks.Actor.Fc1.Weight.ToArray());
        // A fresh policy's entropy is far above the target −|A| (log π + H̄ < 0), so both Adam steps lower log α by ~lr.
        Assert.InRange(sac.LogAlpha.Values[0], -2.05e-3f, -1.95e-3f);

        sac.Update(b);
        Assert.Equal(2, sac.ActorOptimizer.States[0].Step);
        sac.Update(b);
        Assert.Equal(4, sac.ActorOptimizer.States[0].Step);
    }

    [Fact]
    public void A_fixed_alpha_stays_and_its_log_is_not_stepped()
    {
        var sac = Algorithm(Tiny with { Autotune = false, Alpha = 0.05f });
        for (var k = 0; k < 4; k++) sac.Update(Batch((ulong)k));
        Assert.Equal(0.05f, sac.Alpha, 1e-7f);
        Assert.Equal(0, sac.AlphaOptimizer.States[0].Step);
    }

    [Fact]
    public void The_deterministic_action_is_tanh_of_the_mean()
    {
        var sac = Algorithm();
        var b = Batch();
        var actions = new float[N * A];
        sac.DeterministicActions(b.Obs, N, actions);
        for (var i = 0; i < N; i++)
        {
            var h = Dense(sac.Networks.Actor.Fc2, Dense(sac.Networks.Actor.Fc1, Row(b.Obs, i, S), true), true);
            var mean = Dense(sac.Networks.Actor.FcMean, h, false);
            for (var j = 0; j < A; j++) Assert.Equal(Math.Tanh(mean[j]), actions[i * A + j], 1e-6);
        }
    }

    // ---- the whole learner ----

    private static readonly LearnerOptions Loop = new() { Seed = 2, BatchSize = 16, LearningStarts = 40, BufferCapacity = 500, NormalizeObservations = true };

    private static OffPolicyLearner Learner(IVectorEnv env, IVectorEnv? evalEnv = null, LearnerOptions? loop = null, SacOptions? options = null) =>
        new(SacAlgorithm.Factory(env.Spec.ObsDim, env.Spec.ActDim, options ?? new SacOptions { Hidden = 16 }), loop ?? Loop, env, evalEnv);

    private static List<int> Stats(OffPolicyLearner learner, long until)
    {
        var bits = new List<int>();
        void Record(LearnerEvent e)
        {
            if (e is not Updated u) return;
            bits.Add(BitConverter.SingleToInt32Bits(u.Stats.Loss));
            bits.Add(BitConverter.SingleToInt32Bits(u.Stats.ActorLoss));
            bits.Add(BitConverter.SingleToInt32Bits(u.Stats.Alpha));
        }
        learner.Reported += Record;
        learner.Run(until);
        learner.Reported -= Record;
        return bits;
    }

    private static int[] Bits(OffPolicyLearner learner) =>
        [.. ((SacAlgorithm)learner.Algorithm).Networks.StateEntries().SelectMany(e => MemoryMarshal.Cast<float, int>(e.Tensor.Values).ToArray())];

    [Fact]
    public void A_resumed_sac_learner_continues_bit_for_bit()
    {
        using var env1 = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
        using var env2 = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
        var original = Learner(env1);
        var resumed = Learner(env2);
        original.Run(100);
        using var saved = new MemoryStream();
        original.SaveCheckpoint(saved);
        var checkpoint = saved.ToArray();
        // Both continue from the checkpoint (a resumed run starts new episodes).
        original.LoadCheckpoint(new MemoryStream(checkpoint));
        resumed.LoadCheckpoint(new MemoryStream(checkpoint));
        Assert.Equal(100, resumed.EnvSteps);
        Assert.Equal(original.Updates, resumed.Updates);
        Assert.Equal(Bits(original), Bits(resumed));

        Assert.Equal(Stats(original, 180), Stats(resumed, 180));
        Assert.Equal(Bits(original), Bits(resumed));
        Assert.Equal(((SacAlgorithm)original.Algorithm).Alpha, ((SacAlgorithm)resumed.Algorithm).Alpha);
    }

    [Fact]
    public void A_checkpoint_of_another_algorithm_or_truncated_is_refused()
    {
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
        var sac = Learner(env);
        sac.Run(60);
        using var saved = new MemoryStream();
        sac.SaveCheckpoint(saved);
        var bytes = saved.ToArray();
        for (var length = 0; length < bytes.Length; length += 37)
            Assert.Throws<InvalidDataException>(() => sac.LoadCheckpoint(new MemoryStream(bytes[..length])));

        using var env2 = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
        var meow = MeowLearners.Create(new FlowShape { ObsDim = 3, ActDim = 1, Hidden = 8, ShiftHidden = 8 }, new MeowOptions(), Loop, env2);
        var e = Assert.Throws<InvalidDataException>(() => meow.LoadCheckpoint(new MemoryStream(bytes)));
        Assert.Contains("sac", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_short_pendulum_run_beats_the_random_policy_clearly()
    {
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1, baseSeed: 3);
        using var evalEnv = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1, baseSeed: 4);
        var learner = Learner(env, evalEnv, new LearnerOptions { Seed = 3, BatchSize = 128, LearningStarts = 500, EvalEvery = 0, EvalEpisodes = 5, BufferCapacity = 10_000 },
            new SacOptions { Hidden = 64 });
        var before = learner.Evaluate().MeanReturn;
        var after = learner.Run(4000)[^1];
        Assert.True(after.MeanReturn > -400 && after.MeanReturn > before + 400,
            $"deterministic return after 4000 steps {after.MeanReturn:F0} (untrained {before:F0}); SAC learning is broken");
    }

    [Fact]
    public void Its_policy_file_has_cleanrl_names_and_the_task_box_in_the_action_buffers()
    {
        using var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
        var learner = Learner(env);
        learner.Run(60);
        var file = learner.ExportPolicy();
        Assert.Equal(Policy.Files.PolicyAlgorithm.Sac, file.Metadata.Algorithm);
        Assert.Equal([2f], file[Policy.Files.SacLayout.ActionScale].Values); // Pendulum's torque box [−2, 2]
        Assert.Equal([0f], file[Policy.Files.SacLayout.ActionBias].Values);
        Assert.Equal([16, 3], file["actor.fc1.weight"].Shape);
        Assert.Equal([1, 16], file["qf2.fc3.weight"].Shape);
        Assert.Contains(file.Metadata.ToEntries(), kv => kv.Key == "sac.format");
        var back = Policy.Files.PolicyFile.Parse(file.ToBytes());
        Assert.Equal(file.ToBytes(), back.ToBytes());
    }
}
