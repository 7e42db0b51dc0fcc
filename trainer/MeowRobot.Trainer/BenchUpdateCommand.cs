using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MeowRobot.Learner;
using MeowRobot.Tensors;

namespace MeowRobot.Trainer;

/// <summary>
/// <c>./meow trainer bench update --obs-dim S --act-dim A [--batch 256] [--threads 1] [--seconds 10]</c>: times full MEow
/// updates (replay sample, target V, Q1/Q2 on the doubled batch with dropout, loss, backward, clip, Adam, Polyak) of the
/// default network on synthetic transitions; <c>--threads 2</c> runs the batch's halves data-parallel
/// (<see cref="MeowOptions.Threads"/>). Prints the steady-state bytes allocated per update and the quantiles of single
/// updates' wall time (the minimum is the rate of an undisturbed core on a shared machine); the last line is exactly
/// <c>updates/s: X</c>.
/// </summary>
public static class BenchUpdateCommand
{
    /// <summary>Adds <c>update</c> under the <c>bench</c> command of <paramref name="root"/>, creating it if needed.</summary>
    public static void AddTo(RootCommand root)
    {
        var bench = root.Subcommands.FirstOrDefault(c => c.Name == "bench");
        if (bench is null)
        {
            bench = new Command("bench", "Benchmarks of the trainer");
            root.Subcommands.Add(bench);
        }
        bench.Subcommands.Add(Create());
    }

    private static Command Create()
    {
        var obsDim = new Option<int>("--obs-dim") { Description = "observation size S", Required = true };
        var actDim = new Option<int>("--act-dim") { Description = "action size A", Required = true };
        var batch = new Option<int>("--batch") { Description = "minibatch size", DefaultValueFactory = _ => 256 };
        var threads = new Option<int>("--threads") { Description = "cores an update uses (1 or 2: the batch's halves run data-parallel)", DefaultValueFactory = _ => 1 };
        var seconds = new Option<double>("--seconds") { Description = "how long to time, after a warm-up", DefaultValueFactory = _ => 10 };
        var command = new Command("update", "Time full MEow gradient updates on synthetic data with the default network");
        command.Options.Add(obsDim);
        command.Options.Add(actDim);
        command.Options.Add(batch);
        command.Options.Add(threads);
        command.Options.Add(seconds);
        command.SetAction(parse =>
        {
            int s = parse.GetValue(obsDim), a = parse.GetValue(actDim), b = parse.GetValue(batch), t = parse.GetValue(threads);
            var secs = parse.GetValue(seconds);
            // Checked here, not in a validator: validators do not see the options' default values.
            string? error = s is not (>= 1 and <= 65536) || a is not (>= 1 and <= 65536) ? "--obs-dim and --act-dim must lie in 1..65536"
                : b is not (>= 1 and <= 65536) ? "--batch must lie in 1..65536"
                : t is not (1 or 2) ? "--threads must be 1 or 2"
                : secs is not (> 0 and <= 3600) ? "--seconds must lie in (0, 3600]"
                : null;
            if (error is not null)
            {
                Console.Error.WriteLine("bench update: " + error);
                return 2;
            }
            Run(s, a, b, t, secs);
            return 0;
        });
        return command;
    }

    private static void Run(int obsDim, int actDim, int batchSize, int threads, double seconds)
    {
        var options = new MeowOptions { BatchSize = batchSize, BufferCapacity = Math.Max(batchSize, 10_000), Threads = threads };
        var rng = new Rng(1);
        var update = new SoftQUpdate(new FlowPolicy(new FlowShape { ObsDim = obsDim, ActDim = actDim }, rng.Split()), options);
        var buffer = SyntheticBuffer(options.BufferCapacity, obsDim, actDim, rng);
        var batch = new ReplayBatch(batchSize, obsDim, actDim);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"obs_dim: {obsDim} act_dim: {actDim} batch: {batchSize} threads: {threads} params: {update.Online.Parameters().Sum(p => p.Length)}"));

        void One()
        {
            buffer.Sample(rng, batch);
            update.Step(batch);
        }

        // Warm-up: JIT tiers, tape arena, GEMM pack buffers.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < Math.Min(2.0, seconds / 2) || update.Count < 20) One();

        // Each update's own wall time, for the fastest and typical update: on a shared machine the quantiles show what the
        // code does when it has the core, where the mean rate shows the neighbours too. Preallocated: the loop allocates nothing.
        var times = new double[(int)Math.Min(1_000_000, seconds * 5_000)];
        var allocBefore = threads == 1 ? GC.GetAllocatedBytesForCurrentThread() : GC.GetTotalAllocatedBytes(precise: true);
        var gcBefore = GC.CollectionCount(0);
        var count = 0L;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var start = Stopwatch.GetTimestamp();
            One();
            if (count < times.Length) times[count] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            count++;
        }
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        var allocAfter = threads == 1 ? GC.GetAllocatedBytesForCurrentThread() : GC.GetTotalAllocatedBytes(precise: true);
        Console.WriteLine(string.Create(inv, $"updates: {count} seconds: {elapsed:F2} gen0_collections: {GC.CollectionCount(0) - gcBefore}"));
        Console.WriteLine(string.Create(inv, $"alloc_bytes_per_update: {(double)(allocAfter - allocBefore) / count:F1}"));
        // On a shared machine wall-clock rates fall with other load; CPU seconds per update do much less.
        Console.WriteLine(string.Create(inv, $"cpu_ms_per_update: {1000 * cpu / count:F2} (process CPU time, all threads)"));
        var timed = times.AsSpan(0, (int)Math.Min(count, times.Length));
        timed.Sort();
        Console.WriteLine(string.Create(inv, $"update_ms: min {timed[0]:F3} p10 {timed[timed.Length / 10]:F3} median {timed[timed.Length / 2]:F3} (wall clock, each update)"));
        Console.WriteLine(string.Create(inv, $"updates/s: {count / elapsed:F1}"));
    }

    private static ReplayBuffer SyntheticBuffer(int capacity, int obsDim, int actDim, Rng rng)
    {
        var buffer = new ReplayBuffer(capacity, obsDim, actDim);
        var obs = new float[obsDim];
        var next = new float[obsDim];
        var act = new float[actDim];
        for (var i = 0; i < capacity; i++)
        {
            rng.FillNormal(obs);
            rng.FillNormal(next);
            rng.FillUniform(act, -0.99f, 0.99f);
            buffer.Add(obs, act, rng.Normal(), next, rng.NextFloat() < 0.01f);
        }
        return buffer;
    }
}
