using System.Numerics;
using System.Runtime.Intrinsics;

namespace MeowRobot.Bridge.Randomness;

/// <summary>
/// A seeded random generator whose sequence is fixed by this code alone (xoshiro256** seeded through SplitMix64;
/// normals by Marsaglia's polar method with a logarithm computed from IEEE basic operations only), so the same seed
/// gives bit-identical numbers on every run and machine, unlike <see cref="System.Random"/> whose algorithm is
/// unspecified. The one generator of the system: network initialisation, dropout, replay sampling and exploration in the
/// trainer, and every task's episode seeds and observation noise in the sim.
/// </summary>
public sealed class Rng
{
    private ulong s0, s1, s2, s3;
    private bool hasSpare;
    private double spare;

    public Rng(ulong seed, ulong stream = 0) => Reseed(seed, stream);

    /// <summary>Restarts the generator; distinct <paramref name="stream"/>s give independent sequences for one seed
    /// (stream 0 is the plain seed).</summary>
    public void Reseed(ulong seed, ulong stream = 0)
    {
        var x = seed ^ (stream * 0xD1B54A32D192ED03UL);
        s0 = SplitMix64(ref x);
        s1 = SplitMix64(ref x);
        s2 = SplitMix64(ref x);
        s3 = SplitMix64(ref x);
        hasSpare = false;
    }

    /// <summary>The full generator state, for checkpoints.</summary>
    public RngState State
    {
        get => new(s0, s1, s2, s3, hasSpare, spare);
        set
        {
            if ((value.S0 | value.S1 | value.S2 | value.S3) == 0) throw new ArgumentException("xoshiro256** state must not be all zero", nameof(value));
            (s0, s1, s2, s3, hasSpare, spare) = (value.S0, value.S1, value.S2, value.S3, value.HasSpare, value.Spare);
        }
    }

    /// <summary>A new generator seeded from this one's next output: independent streams (per module, per worker).</summary>
    public Rng Split() => new(NextUInt64());

    public ulong NextUInt64() => Next(ref s0, ref s1, ref s2, ref s3);

    /// <summary>One xoshiro256** step (<see cref="DropoutMask"/> runs the same step on eight lanes at once).</summary>
    private static ulong Next(ref ulong s0, ref ulong s1, ref ulong s2, ref ulong s3)
    {
        var result = BitOperations.RotateLeft(s1 * 5, 7) * 9;
        var t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = BitOperations.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 random bits (every float in the range is exactly representable).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    public float Uniform(float low, float high) => low + (high - low) * NextFloat();

    /// <summary>Uniform in [<paramref name="low"/>, <paramref name="high"/>) with 53 random bits.</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Standard normal.</summary>
    public double NextNormal()
    {
        if (hasSpare)
        {
            hasSpare = false;
            return spare;
        }
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        var f = Math.Sqrt(-2 * Log(s) / s); // sqrt is correctly rounded by IEEE 754, hence portable
        spare = v * f;
        hasSpare = true;
        return u * f;
    }

    public float Normal(float mean = 0f, float std = 1f) => mean + std * (float)NextNormal();

    public void FillUniform(Span<float> values, float low, float high)
    {
        for (var i = 0; i < values.Length; i++) values[i] = Uniform(low, high);
    }

    public void FillNormal(Span<float> values, float mean = 0f, float std = 1f)
    {
        for (var i = 0; i < values.Length; i++) values[i] = Normal(mean, std);
    }

    /// <summary>
    /// Dropout mask: each element is 0 with probability <paramref name="p"/> (resolution 2⁻³²), else
    /// <paramref name="keep"/>, from one draw of this stream (the <see cref="DropoutMask"/> seeded by
    /// <see cref="NextUInt64"/>).
    /// </summary>
    public void FillDropoutMask(Span<float> mask, float p, float keep) => new DropoutMask(NextUInt64(), p, keep).Fill(mask);

    internal static ulong SplitMix64(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// Natural logarithm of a positive finite double from +, *, / only (platform libm results may differ in the last
    /// bit): x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m-1)/(m+1)) by its series. Error below 1e-15.
    /// </summary>
    internal static double Log(double x)
    {
        if (!(x > 0) || double.IsInfinity(x)) throw new ArgumentOutOfRangeException(nameof(x));
        var e = 0;
        if (x < double.Epsilon * (1L << 53)) // subnormal: scale into the normal range first
        {
            x *= 1L << 54;
            e = -54;
        }
        var bits = BitConverter.DoubleToInt64Bits(x);
        e += (int)((bits >> 52) & 0x7FF) - 1023;
        var m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > 1.4142135623730951)
        {
            m *= 0.5;
            e++;
        }
        var f = (m - 1) / (m + 1);
        var f2 = f * f;
        // 2 (f + f^3/3 + ... + f^25/25): the first omitted term is below 0.1716 * 0.0295^13 / 27 < 1e-21.
        var p = 1.0 / 25;
        for (var k = 23; k >= 1; k -= 2) p = p * f2 + 1.0 / k;
        const double Ln2Hi = 6.93147180369123816490e-01, Ln2Lo = 1.90821492927058770002e-10;
        return e * Ln2Hi + (e * Ln2Lo + 2 * f * p);
    }
}

/// <summary>A snapshot of <see cref="Rng"/>'s state.</summary>
public readonly record struct RngState(ulong S0, ulong S1, ulong S2, ulong S3, bool HasSpare, double Spare);
