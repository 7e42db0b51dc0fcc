using MeowRobot.Tensors;

namespace MeowRobot.Learner.Tests;

public sealed class ReplayBufferTests
{
    private static void AddNumbered(ReplayBuffer buffer, int k) =>
        buffer.Add([k, -k], [k / 100f], k, [k + 0.5f, -k - 0.5f], terminated: k % 3 == 0);

    [Fact]
    public void Overwrites_the_oldest_transition_once_full_and_samples_only_held_ones()
    {
        var buffer = new ReplayBuffer(capacity: 5, obsDim: 2, actDim: 1);
        for (var k = 1; k <= 7; k++) AddNumbered(buffer, k);
        Assert.Equal(5, buffer.Count);
        Assert.Equal(2, buffer.Position);

        var batch = new ReplayBatch(400, 2, 1);
        buffer.Sample(new Rng(3), batch);
        var seen = new HashSet<int>();
        for (var b = 0; b < batch.Size; b++)
        {
            var k = (int)batch.Reward[b];
            seen.Add(k);
            // Every field of a row comes from the same transition.
            Assert.Equal(k, batch.Obs[2 * b]);
            Assert.Equal(-k, batch.Obs[2 * b + 1]);
            Assert.Equal(k + 0.5f, batch.NextObs[2 * b]);
            Assert.Equal(k / 100f, batch.Act[b]);
            Assert.Equal(k % 3 == 0 ? 1f : 0f, batch.Done[b]);
        }
        // 1 and 2 were overwritten by 6 and 7; 400 uniform draws over 5 rows hit every row.
        Assert.Equal([3, 4, 5, 6, 7], seen.Order());
    }

    [Fact]
    public void Sampling_is_reproducible_from_the_seed()
    {
        var buffer = new ReplayBuffer(100, 2, 1);
        for (var k = 0; k < 100; k++) AddNumbered(buffer, k);
        var a = new ReplayBatch(64, 2, 1);
        var b = new ReplayBatch(64, 2, 1);
        buffer.Sample(new Rng(9), a);
        buffer.Sample(new Rng(9), b);
        Assert.Equal(a.Reward, b.Reward);
        buffer.Sample(new Rng(10), b);
        Assert.NotEqual(a.Reward, b.Reward);
    }

    [Fact]
    public void Save_and_load_restore_contents_and_position()
    {
        var buffer = new ReplayBuffer(8, 2, 1);
        for (var k = 1; k <= 11; k++) AddNumbered(buffer, k);
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) buffer.Save(w);
        stream.Position = 0;
        var restored = new ReplayBuffer(8, 2, 1);
        using (var r = new BinaryReader(stream)) restored.Load(r);
        Assert.Equal(buffer.Count, restored.Count);
        Assert.Equal(buffer.Position, restored.Position);
        var a = new ReplayBatch(50, 2, 1);
        var b = new ReplayBatch(50, 2, 1);
        buffer.Sample(new Rng(1), a);
        restored.Sample(new Rng(1), b);
        Assert.Equal(a.Obs, b.Obs);
        Assert.Equal(a.NextObs, b.NextObs);
        Assert.Equal(a.Done, b.Done);
    }

    [Fact]
    public void Load_rejects_a_checkpoint_of_another_shape()
    {
        var buffer = new ReplayBuffer(8, 2, 1);
        AddNumbered(buffer, 1);
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) buffer.Save(w);
        stream.Position = 0;
        using var r = new BinaryReader(stream);
        Assert.Throws<InvalidDataException>(() => new ReplayBuffer(8, 3, 1).Load(r));
    }

    [Fact]
    public void Rejects_rows_of_the_wrong_width_and_sampling_when_empty()
    {
        var buffer = new ReplayBuffer(4, 2, 1);
        Assert.Throws<ArgumentException>(() => buffer.Add([1f], [0f], 0, [1f, 2f], false));
        Assert.Throws<ArgumentException>(() => buffer.Add([1f, 2f], [0f, 1f], 0, [1f, 2f], false));
        Assert.Throws<InvalidOperationException>(() => buffer.Sample(new Rng(1), new ReplayBatch(1, 2, 1)));
    }
}
