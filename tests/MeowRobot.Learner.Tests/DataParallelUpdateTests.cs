using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Learner.Tests;

/// <summary>The two-thread (data-parallel) <see cref="SoftQUpdate"/> against the one-thread one.</summary>
public sealed class DataParallelUpdateTests
{
    private static readonly FlowShape Small = new() { ObsDim = 5, ActDim = 2, Hidden = 16, ShiftHidden = 32, Alpha = 0.3f };

    /// <summary>An update of a policy whose every parameter is random (the official init leaves some layers at zero, and
    /// zero layers would hide a gradient that is not summed).</summary>
    internal static SoftQUpdate Update(FlowShape shape, int threads, int batchSize = 32, ulong seed = 3)
    {
        var rng = new Rng(seed);
        var online = new FlowPolicy(shape, rng);
        foreach (var p in online.Parameters()) rng.FillNormal(p.Values, 0f, 0.3f);
        var target = new FlowPolicy(shape, new Rng(0));
        target.CopyStateFrom(online);
        foreach (var p in target.Parameters()) p.Values[0] += 0.1f; // the target differs from the online network
        return new SoftQUpdate(online, new MeowOptions { Threads = threads, Seed = 7 }, target);
    }

    internal static ReplayBatch Batch(FlowShape shape, int size, Rng rng)
    {
        var batch = new ReplayBatch(size, shape.ObsDim, shape.ActDim);
        rng.FillNormal(batch.Obs);
        rng.FillNormal(batch.NextObs);
        rng.FillUniform(batch.Act, -0.95f, 0.95f);
        rng.FillNormal(batch.Reward);
        for (var i = 0; i < size; i++) batch.Done[i] = rng.NextFloat() < 0.2f ? 1f : 0f;
        return batch;
    }

    private static float[] Weights(FlowPolicy policy) => policy.Parameters().SelectMany(p => p.ToArray()).ToArray();

    private static void AssertClose(float[] expected, float[] actual, float tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tolerance * (1f + MathF.Abs(expected[i])),
                $"{what}[{i}]: one thread {expected[i]}, two threads {actual[i]}");
    }

    [Theory]
    [InlineData(32)]
    [InlineData(33)] // halves of 16 and 17 rows
    public void Without_dropout_two_threads_give_the_one_thread_update(int batchSize)
    {
        var shape = Small with { Dropout = 0f };
        var one = Update(shape, 1, batchSize);
        var two = Update(shape, 2, batchSize);
        var data = new Rng(11);
        for (var step = 0; step < 4; step++)
        {
            var batch = Batch(shape, batchSize, data);
            var a = one.Step(batch);
            var b = two.Step(batch);
            Assert.Equal(a.Loss, b.Loss, 1e-4f * (1f + MathF.Abs(a.Loss)));
            Assert.Equal(a.GradNorm, b.GradNorm, 1e-4f * (1f + a.GradNorm));
            Assert.Equal(a.MeanQ, b.MeanQ, 1e-4f * (1f + MathF.Abs(a.MeanQ)));
            Assert.Equal(a.MeanTarget, b.MeanTarget, 1e-5f * (1f + MathF.Abs(a.MeanTarget)));
            AssertClose(one.LastTarget.ToArray(), two.LastTarget.ToArray(), 1e-5f, $"step {step} target y");
            AssertClose(Weights(one.Online), Weights(two.Online), 1e-4f, $"step {step} online");
            AssertClose(Weights(one.Target), Weights(two.Target), 1e-4f, $"step {step} target network");
        }
    }

    [Fact]
    public void With_dropout_a_seeded_two_thread_run_is_reproducible()
    {
        (float[] Stats, float[] Weights) Run()
        {
            var update = Update(Small, 2);
            var data = new Rng(12);
            var stats = new List<float>();
            for (var step = 0; step < 3; step++)
            {
                var s = update.Step(Batch(Small, 32, data));
                stats.AddRange([s.Loss, s.GradNorm, s.MeanQ, s.MeanTarget]);
            }
            return ([.. stats], [.. Weights(update.Online), .. Weights(update.Target)]);
        }
        var first = Run();
        var second = Run();
        Assert.Equal(first.Stats, second.Stats);
        Assert.Equal(first.Weights, second.Weights);
    }

    [Fact]
    public void The_update_finishes_both_halves_when_the_second_core_is_held_elsewhere()
    {
        var batch = Batch(Small, 32, new Rng(14));
        var free = Update(Small, 2);
        var expected = free.Step(batch);

        var held = Update(Small, 2);
        SpinWait.SpinUntil(SecondCore.Shared.TryAcquire); // as a product on another thread would hold it
        UpdateStats actual;
        try { actual = held.Step(batch); }
        finally { SecondCore.Shared.Release(); }

        // Both halves ran here, with the same masks and the same arithmetic as when they were shared.
        Assert.Equal(expected, actual);
        Assert.Equal(Weights(free.Online), Weights(held.Online));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Options_reject_thread_counts_other_than_one_or_two(int threads)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MeowOptions { Threads = threads }.Validate());
        Assert.Equal(nameof(MeowOptions.Threads), e.ParamName);
        Assert.Contains("must be 1 or 2", e.Message);
    }
}

[CollectionDefinition(nameof(WholeProcessAllocations), DisableParallelization = true)]
public sealed class WholeProcessAllocations;

/// <summary>Counts every thread's allocations, so it runs while no other test does.</summary>
[Collection(nameof(WholeProcessAllocations))]
public sealed class DataParallelAllocationTests
{
    [Fact]
    public void A_warm_two_thread_update_allocates_nothing_on_any_thread()
    {
        var shape = new FlowShape { ObsDim = 11, ActDim = 3 };
        var update = DataParallelUpdateTests.Update(shape, 2, batchSize: 256);
        var batch = DataParallelUpdateTests.Batch(shape, 256, new Rng(15));
        for (var i = 0; i < 20; i++) update.Step(batch);
        // Whichever thread runs a half, its thread-local scratch is warm by now. The count covers the whole process, where
        // tiered JIT keeps allocating a little for a while (idle windows show it too): look for a clean round of steps.
        // An allocation of the update itself shows in every round.
        var best = long.MaxValue;
        for (var round = 0; round < 200 && best != 0; round++)
        {
            var start = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < 3; i++) update.Step(batch);
            best = Math.Min(best, (GC.GetTotalAllocatedBytes(precise: true) - start) / 3);
        }
        Assert.True(best == 0, $"{best} bytes allocated per two-thread update");
    }
}
