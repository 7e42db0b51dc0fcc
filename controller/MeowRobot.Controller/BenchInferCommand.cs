using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;

namespace MeowRobot.Controller;

/// <summary><c>./meow controller bench infer</c>: times single deterministic actions of a policy's runtime
/// (<see cref="PolicyRuntime"/>: MEow's flow, or the MLP actor of SAC and amortized S2AC), one call per sample, and prints latency percentiles. The last line is exactly
/// <c>p50_us: X p99_us: Y p999_us: Z alloc_bytes_per_call: N</c>.</summary>
public static class BenchInferCommand
{
    internal static Command Create()
    {
        var weights = new Option<FileInfo?>("--weights") { Description = "policy file (safetensors with meow.* metadata)" };
        var seconds = new Option<double>("--seconds") { Description = "how long to time, after a warm-up", DefaultValueFactory = _ => 5 };
        var randomObs = new Option<int?>("--random-obs-dim") { Description = "instead of --weights: a random policy with this observation size" };
        var randomAct = new Option<int?>("--random-act-dim") { Description = "instead of --weights: a random policy with this action size" };
        var algo = new Option<string>("--algo") { Description = "the random policy's algorithm: meow, sac or s2ac (amortized actor)", DefaultValueFactory = _ => "meow" };
        var lanes = new Option<int>("--lanes")
        {
            Description = "vector width in floats the weights are packed for: 16 (Vector512), 8 (Vector256), 4 (Vector128); default the widest this CPU accelerates",
            DefaultValueFactory = _ => PolicyRuntime.NativeLanes,
        };
        var seed = new Option<int>("--seed") { Description = "seed of the random policy and observations", DefaultValueFactory = _ => 1 };
        var samplerLayers = new Option<int>("--s2ac-sampler-layers")
        {
            Description = "hidden layers of the random S2AC policy's amortized sampling network (the learner's SamplerLayers)",
            DefaultValueFactory = _ => S2acArchitecture.DefaultSamplerLayers,
        };
        samplerLayers.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is not (>= 1 and <= 64)) r.AddError("--s2ac-sampler-layers must lie in 1..64");
        });
        var command = new Command("infer", "Time single deterministic actions of a policy: latency percentiles and bytes allocated per call");
        command.Options.Add(algo);
        command.Options.Add(weights);
        command.Options.Add(seconds);
        command.Options.Add(randomObs);
        command.Options.Add(randomAct);
        command.Options.Add(lanes);
        command.Options.Add(seed);
        command.Options.Add(samplerLayers);
        command.Validators.Add(result =>
        {
            var file = result.GetValue(weights) is not null;
            var (obs, act) = (result.GetValue(randomObs), result.GetValue(randomAct));
            if (file && (obs is not null || act is not null)) result.AddError("give --weights or the --random-* dimensions, not both");
            else if (!file && (obs is null || act is null)) result.AddError("give --weights, or both --random-obs-dim and --random-act-dim");
            else if (!file && (obs <= 0 || act <= 0)) result.AddError("--random-obs-dim and --random-act-dim must be positive");
            if (!PolicyAlgorithms.TryParse(result.GetValue(algo), out _)) result.AddError("--algo must be meow, sac or s2ac");
        });
        // Option validators see the parsed value (a command validator would see 0, not the default, for an absent option).
        seconds.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is not (> 0 and <= 3600)) r.AddError("--seconds must lie in (0, 3600]");
        });
        lanes.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is not (4 or 8 or 16)) r.AddError("--lanes must be 4, 8 or 16");
        });
        command.SetAction(parse =>
        {
            var rng = new Random(parse.GetValue(seed));
            var file = parse.GetValue(weights);
            PolicyFile policy;
            try
            {
                policy = file is not null
                    ? PolicyFile.Load(file.FullName)
                    : PolicyFile.Initialized(new PolicyMetadata
                    {
                        Algorithm = PolicyAlgorithms.TryParse(parse.GetValue(algo), out var a) ? a : PolicyAlgorithm.Meow,
                        ObsDim = parse.GetValue(randomObs)!.Value,
                        ActDim = parse.GetValue(randomAct)!.Value,
                        S2ac = new S2acArchitecture { Actor = S2acActor.Amortized, SamplerLayers = parse.GetValue(samplerLayers) },
                        Source = "bench infer --random-obs-dim/--random-act-dim",
                    }, parse.GetValue(seed));
            }
            catch (Exception e) when (e is PolicyFileException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"cannot {(file is null ? "make the random policy" : "load " + file.FullName)}: {e.Message}");
                return 2;
            }
            var source = file?.FullName ?? "random policy (seed " + parse.GetValue(seed).ToString(CultureInfo.InvariantCulture) + ")";
            IPolicyRuntime runtime;
            try
            {
                runtime = PolicyRuntime.Create(policy, parse.GetValue(lanes));
            }
            catch (UnsupportedPolicyException e)
            {
                Console.Error.WriteLine($"cannot run {source}: {e.Message}");
                return 2;
            }
            Run(runtime, source, parse.GetValue(seconds), rng);
            return 0;
        });
        return command;
    }

    // Latencies go into a preallocated histogram (timing itself allocates nothing): 10 ns bins up to 100 µs, then 1 µs
    // bins up to 100 ms (preemption on a busy machine lands there), then one overflow bin.
    private const int FineBins = 10_000;
    private const int Bins = FineBins + 99_900;

    private static long Bin(double ns) => ns < 100_000 ? (long)(ns / 10) : Math.Min(Bins, FineBins + (long)((ns - 100_000) / 1000));

    private static double BinMidMicroseconds(int bin) => bin < FineBins ? (bin + 0.5) * 0.01 : 100 + (bin - FineBins + 0.5);

    /// <summary>Times one call per sample until <paramref name="endTimestamp"/>; returns the number of calls. Fully
    /// optimised up front so that no tier-up (on-stack replacement of this loop) lands inside the measurement.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Time(IPolicyRuntime runtime, float[][] observations, float[] action, long[] histogram, long endTimestamp, out long maxTicks)
    {
        var nanosPerTick = 1e9 / Stopwatch.Frequency;
        long calls = 0;
        maxTicks = 0;
        while (true)
        {
            var t0 = Stopwatch.GetTimestamp();
            runtime.Act(observations[calls & 63], action);
            var t1 = Stopwatch.GetTimestamp();
            var ticks = t1 - t0;
            histogram[Bin(ticks * nanosPerTick)]++;
            maxTicks = Math.Max(maxTicks, ticks);
            calls++;
            if (t1 >= endTimestamp) return calls;
        }
    }

    private static void Run(IPolicyRuntime runtime, string source, double seconds, Random rng)
    {
        var m = runtime.Metadata;
        var network = m.Algorithm switch
        {
            PolicyAlgorithm.Meow => $"meow: {m.Couplings} couplings of {m.Hidden}×{m.HiddenLayers}",
            PolicyAlgorithm.Sac => $"sac: actor {m.Sac.Hidden}×2 ReLU",
            _ => $"s2ac: amortized actor {m.S2ac.Hidden}×{m.S2ac.SamplerDepth} ELU",
        };
        Console.WriteLine($"policy: {source}, obs {m.ObsDim}, act {m.ActDim}, {network}, vector lanes {runtime.Lanes}");
        var observations = Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, m.ObsDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
        var action = new float[m.ActDim];
        var histogram = new long[Bins + 1];
        var nanosPerTick = 1e9 / Stopwatch.Frequency;

        // Warm-up: the caches, the branch predictors and the CPU's clock settle (the code is fully optimised already).
        Time(runtime, observations, action, new long[Bins + 1], Stopwatch.GetTimestamp() + Stopwatch.Frequency, out _);

        var gen0 = GC.CollectionCount(0);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var calls = Time(runtime, observations, action, histogram, Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency), out var maxTicks);
        var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
        var collections = GC.CollectionCount(0) - gen0;

        string Us(double q)
        {
            var rank = (long)Math.Ceiling(q * calls);
            long seen = 0;
            for (var b = 0; b < Bins; b++)
            {
                seen += histogram[b];
                if (seen >= rank) return BinMidMicroseconds(b).ToString("0.000", CultureInfo.InvariantCulture);
            }
            return (maxTicks * nanosPerTick / 1000).ToString("0.000", CultureInfo.InvariantCulture);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"calls: {calls} in {seconds:0.###} s, max_us: {maxTicks * nanosPerTick / 1000:0.000}, gen0_collections: {collections}, last action[0]: {action[0]:0.######}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"p50_us: {Us(0.5)} p99_us: {Us(0.99)} p999_us: {Us(0.999)} alloc_bytes_per_call: {(double)bytes / calls:0.##}"));
    }
}
