namespace MeowRobot.Tasks;

/// <summary>
/// The tasks' random numbers: xoshiro256** seeded through SplitMix64. A fixed, published algorithm (System.Random's is not
/// a contract across .NET versions), so a seed gives the same episode on every machine.
/// </summary>
public sealed class SimRandom
{
    private ulong s0, s1, s2, s3;

    public SimRandom(ulong seed, ulong stream = 0) => Reseed(seed, stream);

    /// <summary>Restarts the generator; distinct <paramref name="stream"/>s give independent sequences for one seed.</summary>
    public void Reseed(ulong seed, ulong stream = 0)
    {
        var x = seed ^ (stream * 0xD1B54A32D192ED03UL);
        s0 = SplitMix(ref x);
        s1 = SplitMix(ref x);
        s2 = SplitMix(ref x);
        s3 = SplitMix(ref x);
    }

    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(s1 * 5, 7) * 9;
        var t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Standard normal (Box–Muller, one value per two uniforms; no cached spare, so reseeding is all the state).</summary>
    public double Normal()
    {
        var u1 = 1.0 - NextDouble(); // (0, 1]: the log stays finite
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
