using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MeowRobot.Learner;
using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Trainer;

/// <summary>
/// <c>./meow trainer bench update --algo meow[,sac…] --obs-dim S --act-dim A [--batch 256] [--threads 1] [--seconds 10]</c>:
/// times full gradient updates of each algorithm's default networks on synthetic transitions (MEow: replay sample, target V,
/// Q1/Q2 on the doubled batch with dropout, loss, backward, clip, Adam, Polyak; SAC: CleanRL's critic step, the delayed
/// actor and α steps, Polyak; S2AC: the official update, with the amortized sampler's step by default or, with
/// <c>--s2ac-actor svgd</c>, the SVGD actor alone as the official code runs it). <c>--threads 2</c> runs MEow's and
/// S2AC's batch halves data-parallel (<see cref="MeowOptions.Threads"/>).
/// Prints the steady-state bytes allocated per update and the quantiles of single updates' wall time (the minimum is the
/// rate of an undisturbed core on a shared machine). With one algorithm the last line is exactly <c>updates/s: X</c>; with
/// several they run in alternating slices of the same wall-clock window (so machine load falls on all alike), each
/// line is prefixed by the algorithm's name and the last line is <c>ratio NAME/FIRST: X</c> for every other algorithm.
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
        var algo = new Option<string>("--algo") { Description = "algorithm(s), comma-separated: meow, sac, s2ac", DefaultValueFactory = _ => "meow" };
        var obsDim = new Option<int>("--obs-dim") { Description = "observation size S", Required = true };
        var actDim = new Option<int>("--act-dim") { Description = "action size A", Required = true };
        var batch = new Option<int>("--batch") { Description = "minibatch size", DefaultValueFactory = _ => 256 };
        var threads = new Option<int>("--threads") { Description = "cores a MEow or S2AC update uses (1 or 2: the batch's halves run data-parallel)", DefaultValueFactory = _ => 1 };
        var s2acActor = new Option<string>("--s2ac-actor")
        {
            Description = "S2AC's actor: amortized (the SVGD actor and the amortized sampling network, the default) or svgd (the SVGD actor alone, what the official code runs)",
            DefaultValueFactory = _ => "amortized",
        };
        s2acActor.AcceptOnlyFromAmong("amortized", "svgd");
        var seconds = new Option<double>("--seconds") { Description = "how long to time each algorithm, after a warm-up", DefaultValueFactory = _ => 10 };
        var command = new Command("update", "Time full gradient updates on synthetic data with each algorithm's default networks");
        foreach (var o in new Option[] { algo, obsDim, actDim, batch, threads, s2acActor, seconds }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            int s = parse.GetValue(obsDim), a = parse.GetValue(actDim), b = parse.GetValue(batch), t = parse.GetValue(threads);
            var secs = parse.GetValue(seconds);
            var names = (parse.GetValue(algo) ?? "").Split(',', StringSplitOptions.TrimEntries);
            var algorithms = new List<PolicyAlgorithm>();
            string? error = null;
            foreach (var name in names)
            {
                if (!PolicyAlgorithms.TryParse(name, out var known) || !AlgorithmSetup.CanTrain(known)) error ??= $"--algo: '{name}' is not an algorithm this trainer runs";
                else if (algorithms.Contains(known)) error ??= $"--algo: '{name}' given twice";
                else algorithms.Add(known);
            }
            // Checked here, not in a validator: validators do not see the options' default values.
            error ??= s is not (>= 1 and <= 65536) || a is not (>= 1 and <= 65536) ? "--obs-dim and --act-dim must lie in 1..65536"
                : b is not (>= 1 and <= 65536) ? "--batch must lie in 1..65536"
                : t is not (1 or 2) ? "--threads must be 1 or 2"
                : t == 2 && algorithms.Any(x => x is not (PolicyAlgorithm.Meow or PolicyAlgorithm.S2ac)) ? "--threads 2 is MEow's and S2AC's data-parallel update; SAC runs on one core"
                : secs is not (> 0 and <= 3600) ? "--seconds must lie in (0, 3600]"
                : null;
            if (error is not null)
            {
                Console.Error.WriteLine("bench update: " + error);
                return 2;
            }
            Run(algorithms, s, a, b, t, parse.GetValue(s2acActor) != "svgd", secs);
            return 0;
        });
        return command;
    }

    /// <summary>One algorithm under test: its update, its data, and what was measured of it.</summary>
    private sealed class Subject
    {
        public Subject(PolicyAlgorithm algorithm, int obsDim, int actDim, int batchSize, int threads, bool amortized)
        {
            var setup = AlgorithmSetup.For(algorithm, "", obsDim, actDim);
            setup = setup with
            {
                Loop = setup.Loop with { BatchSize = batchSize, BufferCapacity = Math.Max(batchSize, 10_000) },
                Meow = setup.Meow is { } m ? m with { Threads = threads } : null,
                S2ac = setup.S2ac is { } s2ac ? s2ac with { Threads = threads, Amortized = amortized } : null,
            };
            setup.Validate();
            Rng = new Rng(1);
            Update = setup.Factory()(Rng.Split());
            Buffer = SyntheticBuffer(setup.Loop.BufferCapacity, obsDim, actDim, Rng);
            Batch = new ReplayBatch(batchSize, obsDim, actDim);
            Name = algorithm.Name();
            Description = setup.S2ac is null ? "" : amortized ? " actor: amortized (SVGD actor + amortized sampler)" : " actor: svgd (the SVGD actor alone, as the official code)";
        }

        /// <summary>What of the algorithm is timed, where it has a choice (S2AC's actor).</summary>
        public string Description { get; }

        public string Name { get; }
        public Rng Rng { get; }
        public IOffPolicyAlgorithm Update { get; }
        public ReplayBuffer Buffer { get; }
        public ReplayBatch Batch { get; }
        public double[] Times { get; set; } = [];
        public long Count { get; set; }
        public long Allocated { get; set; }
        public int Collections { get; set; }
        public double Seconds { get; set; }
        public double CpuSeconds { get; set; }

        public void One()
        {
            Buffer.Sample(Rng, Batch);
            Update.Update(Batch);
        }
    }

    private static void Run(List<PolicyAlgorithm> algorithms, int obsDim, int actDim, int batchSize, int threads, bool amortized, double seconds)
    {
        var inv = CultureInfo.InvariantCulture;
        var subjects = algorithms.Select(a => new Subject(a, obsDim, actDim, batchSize, threads, amortized)).ToArray();
        var several = subjects.Length > 1;
        foreach (var x in subjects)
        {
            var parameters = x.Update switch
            {
                MeowAlgorithm m => m.Policy.Parameters().Sum(p => p.Length),
                Learner.Sac.SacAlgorithm sac => sac.Networks.Parameters().Sum(p => p.Length),
                Learner.S2ac.S2acAlgorithm s2ac => s2ac.Policy.Parameters().Sum(p => p.Length),
                _ => 0,
            };
            Console.WriteLine(string.Create(inv, $"{(several ? x.Name + " " : "")}obs_dim: {obsDim} act_dim: {actDim} batch: {batchSize} threads: {threads} params: {parameters}{x.Description}"));
            // Warm-up: JIT tiers, tape arena, GEMM pack buffers.
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < Math.Min(2.0, seconds / 2) || x.Update.Updates < 20) x.One();
            // Each update's own wall time, for the fastest and typical update: on a shared machine the quantiles show what the
            // code does when it has the core, where the mean rate shows the neighbours too. Preallocated: the loop allocates nothing.
            x.Times = new double[(int)Math.Min(1_000_000, seconds * 5_000)];
        }

        // Alternating slices (one with a single algorithm) until each has had its seconds.
        var slice = several ? Math.Min(0.5, seconds) : seconds;
        while (subjects.Any(x => x.Seconds < seconds))
        {
            foreach (var x in subjects)
            {
                if (x.Seconds >= seconds) continue;
                // The CPU-time reading allocates: taken outside the allocation window.
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var allocBefore = threads == 1 ? GC.GetAllocatedBytesForCurrentThread() : GC.GetTotalAllocatedBytes(precise: true);
                var gcBefore = GC.CollectionCount(0);
                var clock = Stopwatch.StartNew();
                var budget = Math.Min(slice, seconds - x.Seconds);
                while (clock.Elapsed.TotalSeconds < budget)
                {
                    var start = Stopwatch.GetTimestamp();
                    x.One();
                    if (x.Count < x.Times.Length) x.Times[x.Count] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    x.Count++;
                }
                x.Seconds += clock.Elapsed.TotalSeconds;
                x.Allocated += (threads == 1 ? GC.GetAllocatedBytesForCurrentThread() : GC.GetTotalAllocatedBytes(precise: true)) - allocBefore;
                x.Collections += GC.CollectionCount(0) - gcBefore;
                x.CpuSeconds += (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
            }
        }

        foreach (var x in subjects)
        {
            var p = several ? x.Name + " " : "";
            Console.WriteLine(string.Create(inv, $"{p}updates: {x.Count} seconds: {x.Seconds:F2} gen0_collections: {x.Collections}"));
            Console.WriteLine(string.Create(inv, $"{p}alloc_bytes_per_update: {(double)x.Allocated / x.Count:F1}"));
            // On a shared machine wall-clock rates fall with other load; CPU seconds per update do much less.
            Console.WriteLine(string.Create(inv, $"{p}cpu_ms_per_update: {1000 * x.CpuSeconds / x.Count:F2} (process CPU time, all threads)"));
            var timed = x.Times.AsSpan(0, (int)Math.Min(x.Count, x.Times.Length));
            timed.Sort();
            Console.WriteLine(string.Create(inv, $"{p}update_ms: min {timed[0]:F3} p10 {timed[timed.Length / 10]:F3} median {timed[timed.Length / 2]:F3} (wall clock, each update)"));
            Console.WriteLine(string.Create(inv, $"{p}updates/s: {x.Count / x.Seconds:F1}"));
        }
        foreach (var x in subjects.Skip(1))
            Console.WriteLine(string.Create(inv, $"ratio {x.Name}/{subjects[0].Name}: {x.Count / x.Seconds / (subjects[0].Count / subjects[0].Seconds):F3} (updates/s)"));
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
