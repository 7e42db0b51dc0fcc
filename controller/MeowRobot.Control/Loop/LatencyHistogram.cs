using System.Diagnostics;
using System.Numerics;

namespace MeowRobot.Control.Loop;

/// <summary>
/// A preallocated log-linear histogram of durations (64 sub-buckets per power of two of nanoseconds: ≤ 1.6 % relative
/// error from 1 ns to hours; the exact maximum is kept). Recording is a few instructions and never allocates; one writer.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBuckets = 64;
    private const int Buckets = SubBuckets * 40;
    private readonly long[] _buckets = new long[Buckets];
    private static readonly double NanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    public long Count { get; private set; }
    public long MaxNanoseconds { get; private set; }

    /// <summary>Records a duration in <see cref="Stopwatch"/> ticks (negative counts as 0).</summary>
    public void Record(long stopwatchTicks)
    {
        var ns = stopwatchTicks <= 0 ? 0L : (long)(stopwatchTicks * NanosecondsPerTick);
        _buckets[Math.Min(Index(ns), Buckets - 1)]++;
        Count++;
        if (ns > MaxNanoseconds) MaxNanoseconds = ns;
    }

    private static int Index(long ns)
    {
        if (ns < 2 * SubBuckets) return (int)ns;
        var shift = BitOperations.Log2((ulong)ns) - 6;      // ns >> shift is in [64, 128)
        return SubBuckets * (shift + 1) + (int)((ns >> shift) - SubBuckets);
    }

    private static long UpperEdge(int index)
    {
        if (index < 2 * SubBuckets) return index;
        var shift = index / SubBuckets - 1;
        var mantissa = index % SubBuckets + SubBuckets;
        return ((long)(mantissa + 1) << shift) - 1;
    }

    /// <summary>The <paramref name="quantile"/> (0–1) in µs (the upper edge of the bucket holding it, capped at the maximum).</summary>
    public double PercentileMicroseconds(double quantile)
    {
        if (Count == 0) return 0;
        var rank = Math.Max(1, (long)Math.Ceiling(quantile * Count));
        long seen = 0;
        for (var i = 0; i < _buckets.Length; i++)
        {
            seen += _buckets[i];
            if (seen >= rank)
                return Math.Min(UpperEdge(i), MaxNanoseconds) / 1000.0;
        }
        return MaxMicroseconds;
    }

    public double MaxMicroseconds => MaxNanoseconds / 1000.0;

    public void Clear()
    {
        Array.Clear(_buckets);
        Count = 0;
        MaxNanoseconds = 0;
    }
}
