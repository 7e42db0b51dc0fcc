using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors.Tests;

public class SecondCoreTests
{
    /// <summary>Records which thread ran each item; optionally throws on one.</summary>
    private sealed class Items(int count, int throwOn = -1) : ISharedWork
    {
        public readonly int[] Runs = new int[count];
        public readonly int[] Threads = new int[count];

        public void Run(int item)
        {
            Interlocked.Increment(ref Runs[item]);
            Threads[item] = Environment.CurrentManagedThreadId;
            if (item == throwOn) throw new InvalidOperationException("item failed");
        }
    }

    [Fact]
    public void The_caller_runs_every_item_when_the_worker_never_shows_up()
    {
        var core = new SecondCore(withWorker: false);
        var work = new Items(2);
        Assert.True(core.TryAcquire());
        core.Run(work, 2); // would wait forever if the caller waited for the worker rather than claiming its item
        core.Release();
        Assert.Equal([1, 1], work.Runs);
        Assert.All(work.Threads, t => Assert.Equal(Environment.CurrentManagedThreadId, t));
    }

    [Fact]
    public void With_the_worker_every_item_runs_exactly_once()
    {
        var core = new SecondCore(withWorker: true);
        Assert.True(core.TryAcquire());
        for (var round = 0; round < 50; round++)
        {
            var work = new Items(257);
            core.Run(work, 257);
            Assert.All(work.Runs, r => Assert.Equal(1, r));
        }
        core.Release();
    }

    [Fact]
    public void Share_runs_every_item_here_while_another_caller_holds_the_core()
    {
        var core = new SecondCore(withWorker: true);
        Assert.True(core.TryAcquire()); // held elsewhere
        var work = new Items(2);
        core.Share(work, 2);
        Assert.Equal([1, 1], work.Runs);
        Assert.All(work.Threads, t => Assert.Equal(Environment.CurrentManagedThreadId, t));
        Assert.False(core.TryAcquire());
        core.Release();
        Assert.True(core.TryAcquire()); // Share did not release a hold that was not its own
        core.Release();
    }

    [Fact]
    public void An_item_that_throws_fails_the_run_after_every_item_ran_and_frees_the_core()
    {
        var core = new SecondCore(withWorker: true);
        var work = new Items(64, throwOn: 40);
        Assert.Throws<InvalidOperationException>(() => core.Share(work, 64));
        Assert.All(work.Runs, r => Assert.Equal(1, r));
        Assert.True(core.TryAcquire());
        core.Release();
    }
}
