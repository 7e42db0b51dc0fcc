using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Sim.Protocol;
using MeowRobot.Tasks;

namespace MeowRobot.Sim;

/// <summary>
/// `sim fuzz`: mutation fuzzing of the sim protocol parser and worker logic (<see cref="SimService.Handle"/>, the code
/// every request from the network goes through). Inputs are valid requests of every op (hello, ping, close, reset with
/// and without seeds and parameters, step) and two near misses (one action or seed too many or too few), mutated once or, a quarter of the time, 2–4 times (bytes overwritten, bits flipped, bytes inserted and
/// deleted, truncation, slices duplicated, two requests spliced, MessagePack markers and huge length headers planted)
/// plus some random byte strings. Each reply must be one well-formed v1 reply: ok for an accepted request, else an error
/// with a documented code. A crash (an exception out of Handle), a malformed reply, or an input running past the hang
/// limit fails the run; memory is sampled so growth shows. The suite runs a short campaign (SimProtocolFuzzTests);
/// docs/benchmarks.md records a 10⁶-input one.
/// </summary>
public sealed class SimProtocolFuzz
{
    /// <summary>What a campaign found.</summary>
    public sealed record Report(long Inputs, long Accepted, IReadOnlyDictionary<string, long> ErrorCodes, long Crashes, long MalformedReplies,
        long Hangs, double Seconds, double MaxInputMs, long PeakWorkingSetBytes, long WorkingSetAtStartBytes, long ManagedHeapAfterBytes,
        IReadOnlyList<string> Failures)
    {
        public bool Clean => Crashes == 0 && MalformedReplies == 0 && Hangs == 0;
    }

    private static readonly HashSet<string> DocumentedCodes = typeof(SimErrorCode).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet(StringComparer.Ordinal);

    private static readonly byte[] Markers =
    [
        0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xca, 0xcb, 0xcc, 0xcf, 0xd0, 0xd3, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
        0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0x00, 0x01, 0x7f, 0xe0, 0xff, 0xd4, 0xc7, 0xc9,
    ];

    private static readonly byte[] HugeHeaders = [0xc6, 0xdb, 0xdd, 0xdf];

    private readonly int numEnvs;
    private readonly TimeSpan hangLimit;
    private readonly byte[][] corpus;

    /// <param name="numEnvs">Pendulums the fuzzed service steps (its step requests carry that many actions).</param>
    /// <param name="hangLimit">An input taking longer than this is a hang.</param>
    public SimProtocolFuzz(int numEnvs = 4, TimeSpan? hangLimit = null)
    {
        this.numEnvs = numEnvs;
        this.hangLimit = hangLimit ?? TimeSpan.FromSeconds(1);
        byte[] Written(Action<ArrayBufferWriter<byte>> write)
        {
            var b = new ArrayBufferWriter<byte>();
            write(b);
            return b.WrittenSpan.ToArray();
        }
        var actions = Enumerable.Range(0, numEnvs).Select(i => (float)(i % 5 - 2) * 0.75f).ToArray();
        corpus =
        [
            Written(b => SimMessages.WriteRequest(b, SimOp.Hello)),
            Written(b => SimMessages.WriteRequest(b, SimOp.Ping)),
            Written(b => SimMessages.WriteRequest(b, SimOp.Close)),
            Written(b => SimMessages.WriteReset(b, [], false, null)),
            Written(b => SimMessages.WriteReset(b, Enumerable.Range(7, numEnvs).ToArray(), true, null)),
            Written(b => SimMessages.WriteReset(b, [], false, new Dictionary<string, double> { ["mass"] = 1.25, ["length"] = 0.75 })),
            Written(b => SimMessages.WriteStep(b, actions)),
            Written(b => SimMessages.WriteStep(b, actions)),
            Written(b => SimMessages.WriteStep(b, actions)),
            // near misses: well-formed requests one element off, so mutations start next to the length checks
            Written(b => SimMessages.WriteStep(b, actions.AsSpan(1))),
            Written(b => SimMessages.WriteReset(b, Enumerable.Range(7, numEnvs + 1).ToArray(), true, null)),
        ];
    }

    public static Command Create()
    {
        var inputs = new Option<long>("--inputs") { Description = "mutated inputs to try", DefaultValueFactory = _ => 1_000_000 };
        var seed = new Option<int>("--seed") { Description = "seed of the mutations (a run is reproducible)", DefaultValueFactory = _ => 1 };
        var envs = new Option<int>("--envs") { Description = "pendulums the fuzzed worker steps", DefaultValueFactory = _ => 4 };
        var command = new Command("fuzz", "Mutation-fuzz the sim protocol parser and worker: crashes, malformed replies, hangs, memory") { inputs, seed, envs };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var fuzz = new SimProtocolFuzz(parse.GetValue(envs));
            output.WriteLine($"sim protocol fuzz: {parse.GetValue(inputs):N0} inputs, seed {parse.GetValue(seed)}, {parse.GetValue(envs)} pendulum envs, {Environment.ProcessorCount} cores");
            var report = fuzz.Run(parse.GetValue(inputs), parse.GetValue(seed), progress: r => output.WriteLine(Progress(r)));
            output.WriteLine(Summary(report));
            foreach (var failure in report.Failures) output.WriteLine("FAILURE " + failure);
            return report.Clean ? 0 : 1;
        });
        return command;
    }

    /// <summary>Runs <paramref name="inputs"/> mutated requests through a fresh pendulum service.</summary>
    /// <param name="progress">Called every 10 % of the run (for the command's output).</param>
    public Report Run(long inputs, int seed, Action<Report>? progress = null)
    {
        using var service = new SimService(TaskCatalog.CreateVectorEnv("pendulum", numEnvs, baseSeed: seed), session: 1);
        var random = new Random(seed);
        var reply = new ArrayBufferWriter<byte>(1 << 16);
        var input = new List<byte>(1 << 12);
        var codes = new Dictionary<string, long>(StringComparer.Ordinal);
        var failures = new List<string>();
        long accepted = 0, crashes = 0, malformed = 0, hangs = 0;
        var maxTicks = 0L;
        var hangTicks = (long)(hangLimit.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var workingSetAtStart = Environment.WorkingSet;
        var peakWorkingSet = workingSetAtStart;
        var every = Math.Max(1, inputs / 10);

        Report Snapshot(long done) => new(done, accepted, new Dictionary<string, long>(codes), crashes, malformed, hangs,
            Stopwatch.GetElapsedTime(started).TotalSeconds, maxTicks * 1000.0 / Stopwatch.Frequency, peakWorkingSet, workingSetAtStart,
            GC.GetTotalMemory(forceFullCollection: false), failures);

        Handle(service, corpus[3], reply); // reset: steps are served from the start
        for (long n = 1; n <= inputs; n++)
        {
            if (n % 997 == 0) Handle(service, corpus[4], reply); // keep steps reachable after a mutated close
            Mutate(random, input);
            var bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(input);
            var t = Stopwatch.GetTimestamp();
            SimOp? op;
            try
            {
                op = Handle(service, bytes, reply);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                crashes++;
                Record(failures, $"crash {e.GetType().Name}: {e.Message} on {Convert.ToHexString(bytes)}");
                continue;
            }
            var ticks = Stopwatch.GetTimestamp() - t;
            maxTicks = Math.Max(maxTicks, ticks);
            if (ticks > hangTicks)
            {
                hangs++;
                Record(failures, $"hang {ticks * 1000.0 / Stopwatch.Frequency:F0} ms on {Convert.ToHexString(bytes)}");
            }
            if (Check(op, reply.WrittenSpan) is { } code)
            {
                if (op is null) codes[code] = codes.GetValueOrDefault(code) + 1;
                else accepted++;
            }
            else
            {
                malformed++;
                Record(failures, $"malformed reply {Convert.ToHexString(reply.WrittenSpan)} to {Convert.ToHexString(bytes)}");
            }
            if (n % 4096 == 0) peakWorkingSet = Math.Max(peakWorkingSet, Environment.WorkingSet);
            if (n % every == 0) progress?.Invoke(Snapshot(n));
        }
        return Snapshot(inputs) with { ManagedHeapAfterBytes = GC.GetTotalMemory(forceFullCollection: true) };
    }

    private static SimOp? Handle(SimService service, ReadOnlySpan<byte> request, ArrayBufferWriter<byte> reply)
    {
        reply.ResetWrittenCount();
        return service.Handle(request, reply);
    }

    /// <summary>The reply's verdict: "ok", or its documented error code; null when it is no valid v1 reply for the op.</summary>
    private static string? Check(SimOp? op, ReadOnlySpan<byte> reply)
    {
        if (!MsgPackReader.IsSingleValue(reply)) return null;
        try
        {
            SimMessages.ReadOkReply(reply);
            return op is null ? null : "ok";
        }
        catch (SimWorkerErrorException e)
        {
            return op is null && DocumentedCodes.Contains(e.Code) ? e.Code : null;
        }
        catch (SimProtocolException)
        {
            return null;
        }
    }

    private void Mutate(Random random, List<byte> input)
    {
        input.Clear();
        if (random.Next(64) == 0)
        {
            // random bytes: what a port scanner or a confused peer sends
            var n = random.Next(0, 256);
            for (var i = 0; i < n; i++) input.Add((byte)random.Next(256));
            return;
        }
        input.AddRange(corpus[random.Next(corpus.Length)]);
        // mostly one mutation (it gets past the framing to the deeper checks), sometimes a few stacked
        for (var m = random.Next(4) == 0 ? random.Next(2, 5) : 1; m > 0; m--)
        {
            var at = input.Count == 0 ? 0 : random.Next(input.Count);
            switch (random.Next(9))
            {
                case 0 when input.Count > 0: input[at] = (byte)random.Next(256); break;
                case 1 when input.Count > 0: input[at] ^= (byte)(1 << random.Next(8)); break;
                case 2: input.Insert(at, (byte)random.Next(256)); break;
                case 3 when input.Count > 0: input.RemoveAt(at); break;
                case 4: input.RemoveRange(at, input.Count - at); break; // truncate
                case 5 when input.Count > 0:
                {
                    var length = random.Next(1, Math.Min(64, input.Count - at) + 1);
                    input.InsertRange(random.Next(input.Count), input.GetRange(at, length)); // duplicate a slice
                    break;
                }
                case 6:
                {
                    var other = corpus[random.Next(corpus.Length)];
                    var from = random.Next(other.Length);
                    input.RemoveRange(at, input.Count - at);
                    input.AddRange(other.AsSpan(from).ToArray()); // splice
                    break;
                }
                case 7 when input.Count > 0: input[at] = Markers[random.Next(Markers.Length)]; break;
                default:
                    // a huge length header: bin 32 / str 32 / array 32 / map 32 claiming up to 4 GiB
                    byte[] header = [HugeHeaders[random.Next(HugeHeaders.Length)], 0xff, 0xff, (byte)random.Next(256), (byte)random.Next(256)];
                    input.InsertRange(at, header);
                    break;
            }
        }
    }

    private static void Record(List<string> failures, string failure)
    {
        if (failures.Count < 20) failures.Add(failure);
    }

    private static string Progress(Report r) => string.Create(CultureInfo.InvariantCulture,
        $"  {r.Inputs,12:N0} inputs, {r.Inputs / r.Seconds,9:N0}/s, crashes {r.Crashes}, malformed replies {r.MalformedReplies}, hangs {r.Hangs}, slowest {r.MaxInputMs:F2} ms, working set {r.PeakWorkingSetBytes / 1048576.0:F0} MiB (start {r.WorkingSetAtStartBytes / 1048576.0:F0})");

    public static string Summary(Report r) => string.Create(CultureInfo.InvariantCulture,
        $"""
        inputs {r.Inputs:N0} in {r.Seconds:F1} s ({r.Inputs / r.Seconds:N0}/s): accepted {r.Accepted:N0}, errors {string.Join(", ", r.ErrorCodes.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value:N0}"))}
        crashes {r.Crashes}, malformed replies {r.MalformedReplies}, hangs (> limit) {r.Hangs}, slowest input {r.MaxInputMs:F2} ms
        working set: start {r.WorkingSetAtStartBytes / 1048576.0:F1} MiB, peak {r.PeakWorkingSetBytes / 1048576.0:F1} MiB; managed heap after a full GC {r.ManagedHeapAfterBytes / 1048576.0:F1} MiB
        {(r.Clean ? "CLEAN" : "FAILED")}
        """);
}
