using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MeowRobot.Bridge.Randomness;

/// <summary>
/// A dropout mask as a stream: each element is 0 with probability p (resolution 2⁻³²), else the keep scale. Eight
/// xoshiro256** lanes seeded from one 64-bit seed through SplitMix64 run side by side in 512-bit vectors (computed in
/// halves where AVX-512 is absent: the mask is identical on every machine); output element 2i+h of each round of 16 is half h
/// (low first) of lane i's 64-bit result. The seed alone fixes the mask, so a layer can keep the seed instead of the mask
/// and draw it again, in pieces, when its backward pass needs it: <see cref="Fill"/> continues where the last call ended,
/// and any split gives the same mask as one call as long as every piece but the last is a whole number of rounds.
/// </summary>
public struct DropoutMask
{
    private const int Round = 16;
    private State state; // [word][lane]
    private readonly uint threshold;
    private readonly float keep;
    private bool ended;

    public DropoutMask(ulong seed, float p, float keep)
    {
        threshold = (uint)Math.Min(Math.Round(p * 4294967296.0), uint.MaxValue);
        this.keep = keep;
        Span<ulong> st = state;
        for (var i = 0; i < st.Length; i++) st[i] = Rng.SplitMix64(ref seed);
    }

    /// <summary>The next <c>mask.Length</c> elements of the mask. Only the last piece may be a partial round.</summary>
    public void Fill(Span<float> mask)
    {
        if (ended) throw new InvalidOperationException("the mask continued after a piece that was not a whole number of rounds (16 elements)");
        ended = mask.Length % Round != 0;
        Span<ulong> st = state;
        var s0 = Vector512.Create((ReadOnlySpan<ulong>)st[..8]);
        var s1 = Vector512.Create((ReadOnlySpan<ulong>)st[8..16]);
        var s2 = Vector512.Create((ReadOnlySpan<ulong>)st[16..24]);
        var s3 = Vector512.Create((ReadOnlySpan<ulong>)st[24..32]);
        var thr = Vector512.Create(threshold);
        var keepV = Vector512.Create(keep);
        Span<float> last = stackalloc float[Round];
        for (var i0 = 0; i0 < mask.Length; i0 += Round)
        {
            // One xoshiro256** step per lane: r = rotl(s1 · 5, 7) · 9, then the state update.
            var x = (s1 << 2) + s1;
            x = (x << 7) | (x >> 57);
            var r = (x << 3) + x;
            var t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = (s3 << 45) | (s3 >> 19);
            var values = Vector512.ConditionalSelect(Vector512.LessThan(r.AsUInt32(), thr).AsSingle(), Vector512<float>.Zero, keepV);
            if (i0 + Round <= mask.Length) values.CopyTo(mask[i0..]);
            else
            {
                values.CopyTo(last);
                last[..(mask.Length - i0)].CopyTo(mask[i0..]);
            }
        }
        s0.CopyTo(st[..8]);
        s1.CopyTo(st[8..16]);
        s2.CopyTo(st[16..24]);
        s3.CopyTo(st[24..32]);
    }

    [InlineArray(32)]
    private struct State
    {
        private ulong word;
    }
}
