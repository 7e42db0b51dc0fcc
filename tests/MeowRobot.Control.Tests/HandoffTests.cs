using MeowRobot.Control.Handoff;

namespace MeowRobot.Control.Tests;

public class HandoffTests
{
    [Fact]
    public void LatestValue_reader_never_sees_a_torn_or_older_value_while_two_writers_publish()
    {
        const int length = 64;
        const int perWriter = 100_000;
        var value = new LatestValue<long>(length);
        using var go = new Barrier(3);
        var writers = Enumerable.Range(0, 2).Select(w => new Thread(() =>
        {
            var buffer = new long[length];
            go.SignalAndWait();
            for (long k = 1; k <= perWriter; k++)
            {
                Array.Fill(buffer, ((long)w << 32) + k);   // every element carries the same stamp: a torn read mixes stamps
                value.Publish(buffer, k);
            }
        })).ToArray();
        foreach (var t in writers) t.Start();
        go.SignalAndWait();

        long torn = 0, reads = 0, lastSequence = 0, backwards = 0;
        var lastPerWriter = new long[2];
        while (writers.Any(t => t.IsAlive) || reads == 0)
        {
            var v = value.Read(out var stamp, out var sequence);
            if (sequence == 0) continue;
            reads++;
            for (var i = 1; i < length; i++)
                if (v[i] != v[0]) torn++;
            var writer = (int)(v[0] >> 32);
            var k = v[0] & 0xffffffff;
            if (k != stamp) torn++;
            if (sequence < lastSequence || k < lastPerWriter[writer]) backwards++;
            lastSequence = sequence;
            lastPerWriter[writer] = k;
        }
        foreach (var t in writers) t.Join();

        Assert.Equal(0, torn);
        Assert.Equal(0, backwards);
        Assert.Equal(2L * perWriter, value.PublishedCount);
        var final = value.Read(out _, out var finalSequence);
        Assert.Equal(2L * perWriter, finalSequence);
        Assert.Equal(perWriter, final[0] & 0xffffffff);   // the last value published is the one that remains
    }

    [Fact]
    public void LatestValue_reports_nothing_until_the_first_publish_and_rejects_wrong_lengths()
    {
        var value = new LatestValue<float>(3);
        Assert.False(value.TryRead(new float[3], out _, out _));
        Assert.Throws<ArgumentException>(() => value.Publish(new float[2], 0));
        value.Publish([1, 2, 3], 42);
        var into = new float[3];
        Assert.True(value.TryRead(into, out var stamp, out var seq));
        Assert.Equal([1f, 2f, 3f], into);
        Assert.Equal(42, stamp);
        Assert.Equal(1, seq);
    }

    private sealed class Versioned(long version) : IDisposable
    {
        public long Version { get; } = version;
        public int Disposals;
        public void Dispose() => Interlocked.Increment(ref Disposals);
    }

    [Fact]
    public void SwapSlot_under_load_adopts_only_newer_offers_and_releases_every_replaced_one_exactly_once()
    {
        const int offers = 50_000;
        var slot = new SwapSlot<Versioned>();
        var all = Enumerable.Range(1, offers).Select(i => new Versioned(i)).ToArray();
        var done = 0;
        var offerer = new Thread(() =>
        {
            foreach (var v in all)
            {
                slot.Offer(v)?.Dispose();             // displaced before the loop took it
                slot.TakeRetired()?.Dispose();        // the non-real-time side releases what the loop let go of
            }
            Volatile.Write(ref done, 1);
        });
        offerer.Start();

        Versioned? current = null;
        long adopted = 0, lastVersion = 0, backwards = 0;
        while (Volatile.Read(ref done) == 0 || slot.HasPending)
        {
            if (slot.TryExchange(ref current))
            {
                adopted++;
                if (current!.Version <= lastVersion) backwards++;
                lastVersion = current.Version;
                if (current.Disposals != 0) backwards++;   // must never adopt something already released
            }
            if (Volatile.Read(ref done) == 1) slot.TakeRetired()?.Dispose();
        }
        offerer.Join();
        slot.TakeRetired()?.Dispose();

        Assert.True(adopted > 0);
        Assert.Equal(0, backwards);
        Assert.Equal(offers, lastVersion);
        Assert.All(all.Where(v => v != current), v => Assert.Equal(1, v.Disposals));
        Assert.Equal(0, current!.Disposals);
    }

    [Fact]
    public void SpscRing_keeps_order_across_threads_and_counts_drops_when_full()
    {
        var ring = new SpscRing<long>(1024);
        const long n = 200_000;
        var producer = new Thread(() =>
        {
            for (long i = 0; i < n; i++)
                while (!ring.TryEnqueue(i)) Thread.SpinWait(1);
        });
        producer.Start();
        long expected = 0;
        while (expected < n)
        {
            if (ring.TryDequeue(out var v))
            {
                Assert.Equal(expected, v);
                expected++;
            }
        }
        producer.Join();

        var small = new SpscRing<int>(4);
        for (var i = 0; i < 6; i++) small.TryEnqueue(i);
        Assert.Equal(2, small.Dropped);
        Assert.True(small.TryDequeue(out var first));
        Assert.Equal(0, first);
    }

    private struct Pair { public long A; public long B; public long C; public long D; }

    [Fact]
    public void Seqlock_readers_on_other_threads_see_whole_snapshots()
    {
        var lockv = new Seqlock<Pair>();
        Assert.False(lockv.TryRead(out _));
        var stop = 0;
        var writer = new Thread(() =>
        {
            for (long i = 1; Volatile.Read(ref stop) == 0; i++)
                lockv.Write(new Pair { A = i, B = i, C = i, D = i });
        });
        writer.Start();
        long torn = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            for (var k = 0; k < 100_000; k++)
            {
                if (lockv.TryRead(out var p) && (p.A != p.B || p.B != p.C || p.C != p.D))
                    Interlocked.Increment(ref torn);
            }
        })).ToArray();
        foreach (var r in readers) r.Start();
        foreach (var r in readers) r.Join();
        Volatile.Write(ref stop, 1);
        writer.Join();
        Assert.Equal(0, torn);
    }
}
