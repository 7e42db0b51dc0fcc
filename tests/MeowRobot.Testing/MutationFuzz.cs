using System.Diagnostics;
using System.Globalization;

namespace MeowRobot.Testing;

/// <summary>What a fuzz run did: inputs tried, how they ended, the slowest one, the most one allocated, the process's growth.</summary>
public sealed record FuzzResult(long Inputs, long Accepted, long Rejected, TimeSpan Elapsed, TimeSpan Slowest, long MostAllocated, long WorkingSetGrowth)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Inputs:N0} mutated inputs in {Elapsed.TotalSeconds:F1} s ({Inputs / Elapsed.TotalSeconds:N0}/s): {Accepted:N0} accepted, {Rejected:N0} rejected " +
        $"with the typed error, 0 crashes; slowest input {Slowest.TotalMilliseconds:F2} ms; most allocated by one input {MostAllocated:N0} B; " +
        $"working set {WorkingSetGrowth / 1048576.0:+0.0;-0.0} MiB over the run");
}

/// <summary>
/// Mutation fuzzing from valid seeds (what a hostile peer or a damaged file sends is mostly almost-valid): each input is
/// a seed with 1–4 mutations (bit flips, interesting bytes, inserted, deleted or repeated runs, truncation, splices of
/// another seed). The parser under test returns true (accepted) or false (refused with its typed error); any other
/// exception fails the run, as does an input slower than the hang bound or allocating past its memory bound.
/// <para>The suite runs a short run; <c>MEOW_FUZZ_INPUTS=1000000</c> makes it the benchmark (docs/benchmarks.md).</para>
/// </summary>
public static class MutationFuzz
{
    /// <summary>Inputs per run: MEOW_FUZZ_INPUTS when set, else <paramref name="suiteDefault"/>.</summary>
    public static long Inputs(long suiteDefault) =>
        long.TryParse(Environment.GetEnvironmentVariable("MEOW_FUZZ_INPUTS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : suiteDefault;

    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC0, 0xC1, 0xC2, 0xCC, 0xCF, 0xD9, 0xDB, 0xDD, 0xDF, 0x90, 0x80, 0x22, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C];

    /// <param name="parse">True: accepted; false: refused with the parser's typed error (catch exactly that one inside).</param>
    /// <param name="maxAllocated">The most one input of a given length may allocate.</param>
    public static FuzzResult Run(IReadOnlyList<byte[]> seeds, long inputs, int seed, Func<byte[], bool> parse, Func<int, long> maxAllocated, TimeSpan? hang = null)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(maxAllocated);
        if (seeds.Count == 0) throw new ArgumentException("at least one seed", nameof(seeds));
        var bound = hang ?? TimeSpan.FromSeconds(5);   // a hang, not a slow input: shared machines pause for GC and neighbours
        var random = new Random(seed);
        var buffer = new List<byte>(1 << 16);
        long accepted = 0, rejected = 0, mostAllocated = 0;
        var slowest = TimeSpan.Zero;
        foreach (var s in seeds) parse(s);   // warm-up, untimed: first calls JIT-compile and initialise types
        var workingSet = Environment.WorkingSet;
        var clock = Stopwatch.StartNew();
        for (long i = 0; i < inputs; i++)
        {
            var input = Mutate(seeds, random, buffer);
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var started = Stopwatch.GetTimestamp();
            bool ok;
            try
            {
                ok = parse(input);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"input {i} ({input.Length} bytes, hex {Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 256)))}) threw {e.GetType().Name}: {e.Message}", e);
            }
            var took = Stopwatch.GetElapsedTime(started);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            if (took > bound) throw new InvalidOperationException($"input {i} ({input.Length} bytes) took {took.TotalMilliseconds:F0} ms: a hang (hex {Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 256)))})");
            if (allocated > maxAllocated(input.Length)) throw new InvalidOperationException($"input {i} ({input.Length} bytes) allocated {allocated} B (hex {Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 256)))})");
            if (took > slowest) slowest = took;
            if (allocated > mostAllocated) mostAllocated = allocated;
            if (ok) accepted++;
            else rejected++;
        }
        return new FuzzResult(inputs, accepted, rejected, clock.Elapsed, slowest, mostAllocated, Environment.WorkingSet - workingSet);
    }

    private static byte[] Mutate(IReadOnlyList<byte[]> seeds, Random random, List<byte> b)
    {
        b.Clear();
        b.AddRange(seeds[random.Next(seeds.Count)]);
        for (var m = random.Next(1, 5); m > 0; m--)
        {
            var at = b.Count == 0 ? 0 : random.Next(b.Count);
            switch (random.Next(9))
            {
                case 0 when b.Count > 0: b[at] ^= (byte)(1 << random.Next(8)); break;
                case 1 when b.Count > 0: b[at] = (byte)random.Next(256); break;
                case 2 when b.Count > 0: b[at] = Interesting[random.Next(Interesting.Length)]; break;
                case 3:
                    for (var n = random.Next(1, 9); n > 0; n--) b.Insert(at, (byte)random.Next(256));
                    break;
                case 4 when b.Count > 0: b.RemoveRange(at, Math.Min(b.Count - at, random.Next(1, 17))); break;
                case 5 when b.Count > 0:
                {
                    var n = Math.Min(b.Count - at, random.Next(1, 33));
                    b.InsertRange(at, b.GetRange(at, n));
                    break;
                }
                case 6 when b.Count > 0: b.RemoveRange(at, b.Count - at); break;
                case 7:
                {
                    var other = seeds[random.Next(seeds.Count)];
                    if (other.Length == 0) break;
                    var from = random.Next(other.Length);
                    b.InsertRange(at, other.AsSpan(from, Math.Min(other.Length - from, random.Next(1, 65))).ToArray());
                    break;
                }
                case 8 when b.Count >= 4:
                {
                    // A length or count field: 32 bits of something large, small or negative.
                    var value = random.Next(3) switch { 0 => uint.MaxValue, 1 => (uint)random.Next(), _ => (uint)random.Next(64) };
                    var start = random.Next(b.Count - 3);
                    for (var k = 0; k < 4; k++) b[start + k] = (byte)(value >> (8 * k));
                    break;
                }
            }
        }
        return [.. b];
    }
}
