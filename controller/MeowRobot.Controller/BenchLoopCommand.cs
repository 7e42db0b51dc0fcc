using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;
using MeowRobot.Control.WeightStream;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;

namespace MeowRobot.Controller;

/// <summary>
/// <c>./meow controller bench loop</c>: the weight stream's publish→swap latency on loopback (CURVE on) for (11, 3) and
/// (376, 17) bundles, then the loop's tick timing without and with a storm of bundles (docs/benchmarks.md).
/// </summary>
public static class BenchLoopCommand
{
    internal static Command Create()
    {
        var bundles = new Option<int>("--bundles") { Description = "bundles timed per size for publish→swap latency", DefaultValueFactory = _ => 20 };
        var seconds = new Option<double>("--seconds") { Description = "seconds of ticks per timing run (without, then with the storm)", DefaultValueFactory = _ => 10 };
        var rate = new Option<double>("--rate") { Description = "loop rate in Hz", DefaultValueFactory = _ => 1000 };
        var storm = new Option<double>("--storm-hz") { Description = "bundles per second during the storm run", DefaultValueFactory = _ => 20 };
        var cpu = new Option<int[]?>("--cpu") { Description = "pin the loop thread to these CPUs", AllowMultipleArgumentsPerToken = true };
        var command = new Command("loop", "Time publish→swap latency of the weight stream and tick timing with and without a bundle storm");
        foreach (var o in new Option[] { bundles, seconds, rate, storm, cpu }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            if (parse.GetValue(bundles) is not (> 0 and <= 10_000) || parse.GetValue(seconds) is not (> 0 and <= 3600) || parse.GetValue(storm) is not (>= 0 and <= 1000))
            {
                Console.Error.WriteLine("--bundles in (0, 10000], --seconds in (0, 3600], --storm-hz in [0, 1000]");
                return 2;
            }
            var options = new ControlLoopOptions { RateHz = parse.GetValue(rate), CpuAffinity = parse.GetValue(cpu) is { Length: > 0 } c ? c : null };
            foreach (var (obs, act) in new[] { (11, 3), (376, 17) })
                SwapLatency(obs, act, parse.GetValue(bundles), options);
            Ticks(options, parse.GetValue(seconds), 0);
            if (parse.GetValue(storm) > 0) Ticks(options, parse.GetValue(seconds), parse.GetValue(storm));
            return 0;
        });
        return command;
    }

    /// <summary>A robot that always has a fresh observation and discards actions (isolates the loop and the stream).</summary>
    private sealed class BenchRobot(int obs, int act) : IRobotIo
    {
        public int ObservationSize => obs;
        public int ActionSize => act;
        public bool TryReadObservation(Span<float> observation, out long timestamp)
        {
            observation.Clear();
            timestamp = Stopwatch.GetTimestamp();
            return true;
        }
        public void WriteAction(ReadOnlySpan<float> action) { }
        public void Dispose() { }
    }

    /// <summary>Records when the loop first ran it: the moment the swap took effect.</summary>
    private sealed class FirstUse(IActionPolicy inner) : IActionPolicy
    {
        public long FirstComputeAt;
        public int ObservationSize => inner.ObservationSize;
        public int ActionSize => inner.ActionSize;
        public void Compute(ReadOnlySpan<float> observation, Span<float> action)
        {
            if (FirstComputeAt == 0) Volatile.Write(ref FirstComputeAt, Stopwatch.GetTimestamp());
            inner.Compute(observation, action);
        }
    }

    private sealed class Rig : IDisposable
    {
        public readonly ControlLoop Loop;
        public readonly WeightStreamPublisher Publisher;
        public readonly WeightStreamSubscriber Subscriber;
        public volatile FirstUse? Latest;
        public readonly int Obs, Act;

        public Rig(int obs, int act, ControlLoopOptions options)
        {
            Obs = obs;
            Act = act;
            var trainer = ZmqCurveKeyPair.Generate();
            var robotKeys = ZmqCurveKeyPair.Generate();
            var envelope = SafetyEnvelopeOptions.ForBounds(Enumerable.Repeat(-1f, act).ToArray(), Enumerable.Repeat(1f, act).ToArray());
            Loop = new ControlLoop(new BenchRobot(obs, act), options, envelope, new ModeOptions { ArmOnStart = true });
            Publisher = new WeightStreamPublisher(trainer, [robotKeys.PublicKey.ToArray()],
                new WeightStreamPublisherOptions { PublishEndpoint = "tcp://127.0.0.1:*", SnapshotEndpoint = "tcp://127.0.0.1:*" });
            Subscriber = new WeightStreamSubscriber(new WeightStreamSubscriberOptions
            {
                PublishEndpoints = [Publisher.PublishEndpoint],
                SnapshotEndpoints = [Publisher.SnapshotEndpoint],
                TrainerPublicKey = trainer.PublicKey.ToArray(),
                RobotKeys = robotKeys,
                Identity = new PolicyIdentity("bench", obs, act, "bench-robot"),
            }, p =>
            {
                var probe = new FirstUse(p.Policy);
                Latest = probe;
                Loop.OfferPolicy(new ActivePolicy(probe, p.Version, p.Source));
                Loop.CollectRetiredPolicy();
            });
            Loop.Start();
        }

        public PolicyBundle Bundle(ulong version) => PolicyBundle.Create(version, new PolicyIdentity("bench", Obs, Act),
            PolicyFile.Initialized(new PolicyMetadata { ObsDim = Obs, ActDim = Act, Task = "bench" }, (int)version).ToBytes(), DateTimeOffset.UtcNow);

        public void Dispose()
        {
            Loop.Stop(TimeSpan.FromSeconds(5));
            Subscriber.Dispose();
            Publisher.Dispose();
            Loop.Dispose();
        }
    }

    private static void SwapLatency(int obs, int act, int count, ControlLoopOptions options)
    {
        using var rig = new Rig(obs, act, options);
        var bundles = Enumerable.Range(1, count + 1).Select(v => rig.Bundle((ulong)v)).ToArray();   // encoded before timing
        var size = bundles[0].ToMessagePack().Length;
        var latencies = new List<double>();
        foreach (var b in bundles)
        {
            var t0 = Stopwatch.GetTimestamp();
            rig.Publisher.Publish(b);
            if (!SpinWait.SpinUntil(() => rig.Latest is { FirstComputeAt: > 0 } p && rig.Subscriber.AcceptedVersion == b.Version, TimeSpan.FromSeconds(10)))
                throw new TimeoutException($"bundle {b.Version} was not swapped in within 10 s");
            if (b.Version > 1) latencies.Add((rig.Latest!.FirstComputeAt - t0) * 1000.0 / Stopwatch.Frequency);   // the first one warms up
        }
        latencies.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"swap_latency obs={obs} act={act} bundle_bytes={size} n={latencies.Count} p50_ms: {Quantile(latencies, 0.5):0.###} p99_ms: {Quantile(latencies, 0.99):0.###} max_ms: {latencies[^1]:0.###}"));
    }

    private static void Ticks(ControlLoopOptions options, double seconds, double stormHz)
    {
        using var rig = new Rig(376, 17, new ControlLoopOptions { RateHz = options.RateHz, CpuAffinity = options.CpuAffinity, WarmupTicks = options.WarmupTicks });
        var bundles = Enumerable.Range(1, 8).Select(v => rig.Bundle((ulong)v)).ToArray();
        rig.Publisher.Publish(bundles[0]);
        SpinWait.SpinUntil(() => rig.Subscriber.AcceptedVersion == 1, TimeSpan.FromSeconds(10));
        rig.Loop.TryReadSnapshot(out var start);
        var started = Stopwatch.GetTimestamp();
        ulong version = 1;
        var next = started;
        while (Stopwatch.GetElapsedTime(started).TotalSeconds < seconds)
        {
            if (stormHz > 0 && Stopwatch.GetTimestamp() >= next)
            {
                var b = bundles[(int)(version % (ulong)bundles.Length)];
                rig.Publisher.Publish(b with { Version = ++version });   // same bytes, new version: a full verify + runtime build each
                next += (long)(Stopwatch.Frequency / stormHz);
            }
            Thread.Sleep(5);
        }
        rig.Loop.TryReadSnapshot(out var end);
        var ticks = end.Tick - start.Tick;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ticks storm_hz={stormHz:0.#} obs=376 act=17 rate_hz={options.RateHz:0} ticks: {ticks} misses: {end.Misses - start.Misses} miss_rate: {(double)(end.Misses - start.Misses) / Math.Max(1, ticks):0.######} jitter_p50_us: {end.JitterP50Us:0.#} jitter_p99_us: {end.JitterP99Us:0.#} jitter_max_us: {end.JitterMaxUs:0.#} compute_p50_us: {end.ComputeP50Us:0.#} compute_p99_us: {end.ComputeP99Us:0.#} compute_max_us: {end.ComputeMaxUs:0.#} swaps: {end.PolicySwaps} rejected: {rig.Subscriber.Rejected} gc: {end.Gen0Collections}/{end.Gen1Collections}/{end.Gen2Collections} gc_pause_ms: {end.GcPauseTotalMs:0.##} loop_alloc_bytes: {end.LoopAllocatedBytes}"));
    }

    private static double Quantile(List<double> sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}
