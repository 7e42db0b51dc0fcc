using System.Runtime.ExceptionServices;

namespace MeowRobot.Tensors.Kernels;

/// <summary>Work cut into numbered items that may run on either of two threads, in any order, each exactly once.</summary>
public interface ISharedWork
{
    void Run(int item);
}

/// <summary>
/// The second core: one long-lived background thread that spins briefly for the next piece of work and then sleeps on an
/// event. The caller and the worker claim items from one atomic counter, so the caller never waits for a worker that has
/// not shown up (the box is shared: the other core is often busy); it waits only for an item the worker has already
/// claimed. Handing work over allocates nothing, which Parallel.For could not promise. One piece of work at a time: a
/// caller takes the core with <see cref="TryAcquire"/> (or lets <see cref="Share"/> do it); work on other threads
/// meanwhile runs on its own thread alone, and so does anything the items themselves try to share.
/// </summary>
public sealed class SecondCore
{
    private const int SpinIterations = 2_000; // polling before sleeping: covers the short gaps between a step's products
    private const int CallerSpinIterations = 200; // a claimed item still running after this: the worker lost its core
    private const int Bits = 20;              // claim word: [generation | total | next], 20 bits each for total and next
    private const long Mask = (1L << Bits) - 1;

    private readonly SemaphoreSlim _wake = new(0); // its lock exists from construction: waking never allocates
    private readonly SemaphoreSlim _finished = new(0);
    private readonly Lock _startLock = new();
    private readonly bool _withWorker;
    private Thread? _thread;
    private ISharedWork? _work;
    private long _claims;
    private int _done;
    private volatile int _sleeping;
    private int _callerWaiting;
    private long _generation;
    private int _owned;
    private Exception? _failure;

    /// <summary>The process's second core, shared by <see cref="Gemm"/> and data-parallel training updates.</summary>
    public static SecondCore Shared { get; } = new(withWorker: true);

    /// <param name="withWorker">False models a second core that never shows up: the caller runs every item.</param>
    internal SecondCore(bool withWorker) => _withWorker = withWorker;

    /// <summary>Takes the core for a run of <see cref="Run"/> calls; false while another caller holds it.</summary>
    public bool TryAcquire() => Interlocked.CompareExchange(ref _owned, 1, 0) == 0;

    public void Release() => Volatile.Write(ref _owned, 0);

    /// <summary>
    /// Runs items 0..<paramref name="items"/>−1 of <paramref name="work"/> on this thread and the worker; the caller
    /// must hold the core. Returns once every item has run; an exception from an item is rethrown here, after all have.
    /// </summary>
    public void Run(ISharedWork work, int items)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (items is < 1 or > (int)Mask) throw new ArgumentOutOfRangeException(nameof(items), items, $"must lie in 1..{Mask}");
        EnsureStarted();
        _work = work;
        _done = 0;
        _failure = null;
        _generation++;
        // Full fence: publishes the work and counters, and orders this write before the read of _sleeping (the worker
        // does the mirror image), so a sleeping worker is always woken. A spurious wake only costs a spin.
        Interlocked.Exchange(ref _claims, (_generation << (2 * Bits)) | ((long)items << Bits));
        if (_sleeping == 1) _wake.Release();
        Work();
        AwaitDone(items);
        if (_failure is { } failure) ExceptionDispatchInfo.Throw(failure);
    }

    /// <summary>
    /// Runs every item, with the worker's help when the core is free, else all on this thread: either way each item
    /// runs exactly once, so results that do not depend on the thread an item runs on do not depend on the worker.
    /// </summary>
    public void Share(ISharedWork work, int items)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (items > 1 && TryAcquire())
        {
            try { Run(work, items); }
            finally { Release(); }
            return;
        }
        for (var i = 0; i < items; i++) work.Run(i);
    }

    /// <summary>
    /// Waits for the items the worker claimed: spinning briefly, then asleep, so that a worker whose core was taken by
    /// another process can have this one. The sleep mirrors the worker's (flag, full fence, re-check); a permit left
    /// over from a wake that raced with the re-check only costs one more turn of the loop.
    /// </summary>
    private void AwaitDone(int items)
    {
        for (var spins = 0; Volatile.Read(ref _done) != items; spins++)
        {
            if (spins < CallerSpinIterations)
            {
                Thread.SpinWait(50);
                continue;
            }
            Interlocked.Exchange(ref _callerWaiting, 1);
            if (Volatile.Read(ref _done) != items) _finished.Wait();
            Volatile.Write(ref _callerWaiting, 0);
        }
    }

    /// <summary>Claims and runs items until none is left.</summary>
    private void Work()
    {
        while (true)
        {
            var v = Volatile.Read(ref _claims);
            var next = v & Mask;
            if (next >= ((v >> Bits) & Mask)) return;
            if (Interlocked.CompareExchange(ref _claims, v + 1, v) != v) continue;
            // The claim succeeded in the current generation, so _work is this run's and stays put until every claimed
            // item is reported done.
            try { _work!.Run((int)next); }
            catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
            // Full fence (the mirror of AwaitDone's): a caller that went to sleep before the last item finished is woken.
            if (Interlocked.Increment(ref _done) == ((v >> Bits) & Mask) && Volatile.Read(ref _callerWaiting) == 1) _finished.Release();
        }
    }

    private void EnsureStarted()
    {
        if (_thread is not null || !_withWorker) return;
        lock (_startLock)
        {
            if (_thread is not null) return;
            var t = new Thread(Loop) { IsBackground = true, Name = "MeowRobot second core" };
            t.Start();
            _thread = t;
        }
    }

    private bool Pending()
    {
        var v = Volatile.Read(ref _claims);
        return (v & Mask) < ((v >> Bits) & Mask);
    }

    private void Loop()
    {
        while (true)
        {
            for (var spins = 0; spins < SpinIterations && !Pending(); spins++) Thread.SpinWait(50);
            if (!Pending())
            {
                _sleeping = 1;
                Interlocked.MemoryBarrier();
                if (!Pending()) _wake.Wait();
                _sleeping = 0;
            }
            Work();
        }
    }
}
