using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;
using MeowRobot.Tensors.Modules;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Tensors.Tests;

/// <summary>A MEow-shaped update (coupling network 14 -> 64 -> 64 -> 3 with LayerNorm, Swish, Dropout; batch 512;
/// masked concat input, squared error, clip, Adam, Polyak) used for allocation and reproducibility checks.</summary>
public class TrainingStepTests
{
    private sealed class Step
    {
        private readonly Mlp online;
        private readonly Mlp target;
        private readonly IReadOnlyList<Tensor> onlineParams;
        private readonly IReadOnlyList<Tensor> targetParams;
        private readonly Adam adam;
        private readonly Tape tape = new();
        private readonly float[] obs = new float[512 * 11];
        private readonly float[] act = new float[512 * 3];
        private readonly Tensor mask = Tensor.FromValues(1, 3, [1f, 0f, 1f]);
        private readonly Rng data;

        public Step(ulong seed)
        {
            var rng = new Rng(seed);
            online = new Mlp([14, 64, 64, 3], rng, new MlpOptions { LayerNorm = true, Dropout = 0.1f });
            target = new Mlp([14, 64, 64, 3], rng, new MlpOptions { LayerNorm = true, Dropout = 0.1f });
            target.CopyStateFrom(online);
            onlineParams = online.Parameters();
            targetParams = target.Parameters();
            adam = new Adam(onlineParams);
            data = rng.Split();
        }

        public float Run()
        {
            data.FillNormal(obs);
            data.FillUniform(act, -1f, 1f);
            tape.Reset();
            var s = tape.Input(obs, 512, 11);
            var a = tape.Input(act, 512, 3, requiresGrad: true);
            var input = tape.Concat(1, tape.Mul(a, mask), s);
            Tensor y;
            using (tape.NoGrad())
                y = tape.Tanh(target.Forward(tape, input));
            var q = online.Forward(tape, input);
            var loss = tape.Mean(tape.Square(tape.Sub(tape.Add(q, tape.Softplus(a)), y)));
            adam.ZeroGrad();
            tape.Backward(loss);
            var norm = GradientClipping.ClipGradNorm(onlineParams, 30f);
            adam.Step();
            Polyak.Update(targetParams, onlineParams, 0.005f);
            return loss.Item() + norm;
        }

        public float[] Weights() => online.StateDict().OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => kv.Value).ToArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_warm_training_step_allocates_nothing(int threads)
    {
        var before = Gemm.Threads;
        Gemm.Threads = threads;
        try
        {
            var step = new Step(1);
            for (var i = 0; i < 3; i++) step.Run();
            var start = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 5; i++) step.Run();
            var perStep = (GC.GetAllocatedBytesForCurrentThread() - start) / 5;
            Assert.True(perStep == 0, $"{perStep} bytes allocated per step");
        }
        finally { Gemm.Threads = before; }
    }

    [Fact]
    public void The_same_seed_gives_bit_identical_training()
    {
        var a = new Step(9);
        var b = new Step(9);
        for (var i = 0; i < 3; i++) Assert.Equal(BitConverter.SingleToInt32Bits(a.Run()), BitConverter.SingleToInt32Bits(b.Run()));
        Assert.Equal(a.Weights(), b.Weights());
        var c = new Step(10);
        c.Run();
        Assert.NotEqual(a.Weights(), c.Weights());
    }

    [Fact]
    public void Training_reduces_the_loss_of_a_fixed_regression()
    {
        var rng = new Rng(5);
        var net = new Mlp([2, 32, 1], rng, new MlpOptions { LayerNorm = true });
        var adam = new Adam(net.Parameters(), lr: 1e-2);
        var x = new float[64 * 2];
        rng.FillUniform(x, -1f, 1f);
        var y = new float[64];
        for (var i = 0; i < 64; i++) y[i] = MathF.Sin(3 * x[2 * i]) * x[2 * i + 1];
        var tape = new Tape();
        float first = 0, last = 0;
        for (var step = 0; step < 300; step++)
        {
            tape.Reset();
            var pred = net.Forward(tape, tape.Input(x, 64, 2));
            var loss = tape.Mean(tape.Square(tape.Sub(pred, tape.Input(y, 64, 1))));
            adam.ZeroGrad();
            tape.Backward(loss);
            adam.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.True(last < 0.1f * first, $"loss {first} -> {last}");
    }
}
