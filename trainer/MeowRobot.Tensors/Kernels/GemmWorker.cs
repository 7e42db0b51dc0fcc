namespace MeowRobot.Tensors.Kernels;

/// <summary>
/// The second core for <see cref="Gemm"/>: one background thread that spins briefly for the next product and then
/// sleeps on an event. A product is cut into chunks (a 32-column panel × up to 64 rows) that the caller and the worker
/// claim from one atomic counter, so the caller never waits for a worker that has not shown up (the box is shared: the
/// other core is often busy); it waits only for a chunk the worker has already claimed. Handing work over allocates
/// nothing, which Parallel.For could not promise. One product at a time: a caller takes the worker with
/// <see cref="TryAcquire"/>; products on other threads meanwhile run single-threaded.
/// </summary>
internal static unsafe class GemmWorker
{
    private const int SpinIterations = 2_000; // polling before sleeping: covers the short gaps between a step's products
    private const int RowsPerChunk = 64;
    private const int Bits = 20;              // claim word: [generation | total | next], 20 bits each for total and next
    private const long Mask = (1L << Bits) - 1;

    private static readonly SemaphoreSlim Wake = new(0); // its lock exists from construction: waking never allocates
    private static readonly Lock StartLock = new();
    private static Thread? thread;
    private static Gemm.Job job;
    private static int panels, rowChunks;
    private static long claims;
    private static int done;
    private static volatile int sleeping;
    private static long generation;
    private static int owned;

    public static bool TryAcquire() => Interlocked.CompareExchange(ref owned, 1, 0) == 0;

    public static void Release() => Volatile.Write(ref owned, 0);

    /// <summary>Runs the current k block of <paramref name="work"/> (panels × rows) on this thread and the worker.</summary>
    public static void Run(in Gemm.Job work, int panelCount)
    {
        EnsureStarted();
        job = work;
        panels = panelCount;
        rowChunks = (work.M + RowsPerChunk - 1) / RowsPerChunk;
        var total = panels * rowChunks;
        if (total > Mask) throw new InvalidOperationException("product too large to share");
        done = 0;
        generation++;
        // Full fence: publishes job, done and sizes, and orders this write before the read of sleeping (the worker
        // does the mirror image), so a sleeping worker is always woken. A spurious wake only costs a spin.
        Interlocked.Exchange(ref claims, (generation << (2 * Bits)) | ((long)total << Bits));
        if (sleeping == 1) Wake.Release();
        Work();
        var spin = new SpinWait();
        while (Volatile.Read(ref done) != total) spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>Claims and runs chunks until none is left.</summary>
    private static void Work()
    {
        while (true)
        {
            var v = Volatile.Read(ref claims);
            var next = v & Mask;
            if (next >= ((v >> Bits) & Mask)) return;
            if (Interlocked.CompareExchange(ref claims, v + 1, v) != v) continue;
            // The claim succeeded in the current generation, so job and sizes are those of this product and stay put
            // until every claimed chunk is reported done.
            var chunk = (int)next;
            var panel = chunk / rowChunks;
            var r0 = chunk % rowChunks * RowsPerChunk;
            Gemm.Tiles(in job, panel, panel + 1, r0, Math.Min(job.M, r0 + RowsPerChunk));
            Interlocked.Increment(ref done);
        }
    }

    private static void EnsureStarted()
    {
        if (thread is not null) return;
        lock (StartLock)
        {
            if (thread is not null) return;
            var t = new Thread(Loop) { IsBackground = true, Name = "MeowRobot GEMM worker" };
            t.Start();
            thread = t;
        }
    }

    private static bool Pending()
    {
        var v = Volatile.Read(ref claims);
        return (v & Mask) < ((v >> Bits) & Mask);
    }

    private static void Loop()
    {
        while (true)
        {
            for (var spins = 0; spins < SpinIterations && !Pending(); spins++) Thread.SpinWait(50);
            if (!Pending())
            {
                sleeping = 1;
                Interlocked.MemoryBarrier();
                if (!Pending()) Wake.Wait();
                sleeping = 0;
            }
            Work();
        }
    }
}
