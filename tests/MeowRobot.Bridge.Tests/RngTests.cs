using FsCheck;
using FsCheck.Fluent;

namespace MeowRobot.Bridge.Tests;

public class RngTests
{
    [Fact]
    public void The_sequence_matches_an_independent_xoshiro256starstar_implementation()
    {
        // Reference values from a separate Python implementation (SplitMix64 seeding, xoshiro256**, polar method with
        // math.log), seed 42: four integers, then four normals.
        var rng = new Rng(42);
        Assert.Equal(0x15780b2e0c2ec716UL, rng.NextUInt64());
        Assert.Equal(0x6104d9866d113a7eUL, rng.NextUInt64());
        Assert.Equal(0xae17533239e499a1UL, rng.NextUInt64());
        Assert.Equal(0xecb8ad4703b360a1UL, rng.NextUInt64());
        double[] normals = [0.46417731016247366, 0.7409788916865562, 1.476249461018415, 0.47075911993601033];
        foreach (var n in normals) Assert.Equal(n, rng.NextNormal(), 1e-14);
    }

    [Fact]
    public void The_same_seed_gives_bit_identical_streams_and_state_restores_them()
    {
        var a = new Rng(7);
        var b = new Rng(7);
        var state = a.State;
        var first = new float[1000];
        for (var i = 0; i < first.Length; i++)
        {
            first[i] = i % 2 == 0 ? a.Normal() : a.NextFloat();
            Assert.Equal(BitConverter.SingleToInt32Bits(first[i]), BitConverter.SingleToInt32Bits(i % 2 == 0 ? b.Normal() : b.NextFloat()));
        }
        a.State = state;
        for (var i = 0; i < first.Length; i++) Assert.Equal(first[i], i % 2 == 0 ? a.Normal() : a.NextFloat());
        Assert.NotEqual(new Rng(8).NextUInt64(), new Rng(7).NextUInt64());
    }

    [Fact]
    public void Normals_have_zero_mean_and_unit_variance_and_uniforms_stay_in_range()
    {
        var rng = new Rng(3);
        const int n = 200_000;
        double sum = 0, sumSq = 0;
        for (var i = 0; i < n; i++)
        {
            var x = rng.NextNormal();
            sum += x;
            sumSq += x * x;
            var u = rng.NextFloat();
            Assert.InRange(u, 0f, 0.99999995f);
        }
        var mean = sum / n;
        Assert.InRange(mean, -0.01, 0.01);                 // 4.5 standard errors
        Assert.InRange(sumSq / n - mean * mean, 0.99, 1.01); // sd of the variance estimate ≈ sqrt(2/n) = 0.003
    }

    [Fact]
    public void The_portable_logarithm_agrees_with_the_platform_one()
    {
        Prop.ForAll(Arb.From(Gen.Choose(-1000, 1000).Select(e => e / 10.0)), e =>
        {
            var x = Math.Exp(e);
            return Math.Abs(Rng.Log(x) - Math.Log(x)) <= 4e-16 * Math.Max(1, Math.Abs(Math.Log(x)));
        }).QuickCheckThrowOnFailure();
        Assert.Equal(0.0, Rng.Log(1.0));
        Assert.Equal(Math.Log(double.Epsilon), Rng.Log(double.Epsilon), 1e-12);
    }
}

public class DropoutMaskTests
{
    [Theory]
    [InlineData(0.1f, 1000)]
    [InlineData(0.5f, 37)]
    [InlineData(0.9f, 16)]
    public void The_mask_follows_its_specification_on_any_hardware(float p, int length)
    {
        // Independent scalar rendering of FillDropoutMask's documented algorithm.
        var source = new Rng(77);
        var copy = new Rng(77);
        var mask = new float[length];
        source.FillDropoutMask(mask, p, 2f);

        var seed = copy.NextUInt64();
        var s = new ulong[4, 8];
        for (var w = 0; w < 4; w++)
        for (var l = 0; l < 8; l++)
        {
            seed += 0x9E3779B97F4A7C15UL;
            var z = seed;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            s[w, l] = z ^ (z >> 31);
        }
        var threshold = (uint)Math.Round(p * 4294967296.0);
        var expected = new List<float>();
        while (expected.Count < length)
            for (var l = 0; l < 8; l++)
            {
                var r = ulong.RotateLeft(s[1, l] * 5, 7) * 9;
                var t = s[1, l] << 17;
                s[2, l] ^= s[0, l];
                s[3, l] ^= s[1, l];
                s[1, l] ^= s[2, l];
                s[0, l] ^= s[3, l];
                s[2, l] ^= t;
                s[3, l] = ulong.RotateLeft(s[3, l], 45);
                expected.Add((uint)r < threshold ? 0f : 2f);
                expected.Add((uint)(r >> 32) < threshold ? 0f : 2f);
            }
        Assert.Equal(expected.Take(length), mask);
        Assert.Equal(copy.NextUInt64(), source.NextUInt64()); // one draw of the main stream per mask
    }

    [Fact]
    public void A_mask_drawn_in_whole_rounds_and_a_last_piece_equals_the_mask_drawn_at_once()
    {
        var cases = from rounds in Gen.Choose(0, 6).ListOf()
                    from last in Gen.Choose(0, 40)
                    from p in Gen.Elements(0.1f, 0.5f)
                    select (rounds: rounds.ToArray(), last, p);
        Prop.ForAll(Arb.From(cases), c =>
        {
            var total = c.rounds.Sum() * 16 + c.last;
            var whole = new float[total];
            new DropoutMask(99, c.p, 1.25f).Fill(whole);
            var pieces = new float[total];
            var stream = new DropoutMask(99, c.p, 1.25f);
            var at = 0;
            foreach (var r in c.rounds)
            {
                stream.Fill(pieces.AsSpan(at, 16 * r));
                at += 16 * r;
            }
            stream.Fill(pieces.AsSpan(at));
            Assert.Equal(whole, pieces);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void A_mask_does_not_continue_after_a_partial_round()
    {
        var stream = new DropoutMask(1, 0.5f, 2f);
        stream.Fill(new float[20]);
        Assert.Throws<InvalidOperationException>(() => stream.Fill(new float[16]));
    }

    [Fact]
    public void Streams_of_one_seed_match_the_published_algorithm_and_reseeding_restarts_them()
    {
        // Reference outputs from an independent implementation (Python, arbitrary-precision ints) of SplitMix64 seeding
        // from seed ^ (stream * 0xD1B54A32D192ED03) and xoshiro256**.
        var s = new Rng(42, stream: 1);
        Assert.Equal(0x30425e2a3dc334UL, s.NextUInt64());
        Assert.Equal(0x57e19f0156c8a6bUL, s.NextUInt64());
        var r = new Rng(7);
        var first = Enumerable.Range(0, 5).Select(_ => r.NextNormal()).ToArray();
        r.Reseed(7);
        Assert.Equal(first, Enumerable.Range(0, 5).Select(_ => r.NextNormal()));
    }
}
