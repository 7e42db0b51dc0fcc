using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MeowRobot.Tensors.Optim;

/// <summary>Polyak (soft) target update: target ← τ·online + (1-τ)·target, elementwise in float32 as PyTorch.</summary>
public static class Polyak
{
    public static void Update(IReadOnlyList<Tensor> target, IReadOnlyList<Tensor> online, float tau)
    {
        ArgumentNullException.ThrowIfNull(target);
        Update(target, online, tau, 0, target.Count);
    }

    /// <summary>The update of tensors [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>)
    /// only: disjoint ranges may run on different threads.</summary>
    public static void Update(IReadOnlyList<Tensor> target, IReadOnlyList<Tensor> online, float tau, int first, int count)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(online);
        if (target.Count != online.Count) throw new ArgumentException($"{target.Count} target tensors vs {online.Count} online", nameof(target));
        if (!(tau is >= 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(tau));
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first + count, target.Count, nameof(count));
        var keep = (float)(1 - (double)tau);
        for (var k = first; k < first + count; k++)
        {
            var t = target[k].Values;
            var o = online[k].Values;
            if (t.Length != o.Length) throw new ArgumentException($"tensor {k}: {target[k].ShapeString} vs {online[k].ShapeString}", nameof(online));
            // Two products and a sum per element, never fused into an FMA, so each lane rounds exactly as the scalar
            // float32 expression (and PyTorch) does.
            var i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var tauV = Vector512.Create(tau);
                var keepV = Vector512.Create(keep);
                ref var tr = ref MemoryMarshal.GetReference(t);
                ref var or = ref MemoryMarshal.GetReference(o);
                for (; i + Vector512<float>.Count <= t.Length; i += Vector512<float>.Count)
                {
                    var ov = Vector512.LoadUnsafe(ref or, (nuint)i);
                    var tv = Vector512.LoadUnsafe(ref tr, (nuint)i);
                    (Vector512.Multiply(tauV, ov) + Vector512.Multiply(keepV, tv)).StoreUnsafe(ref tr, (nuint)i);
                }
            }
            for (; i < t.Length; i++) t[i] = tau * o[i] + keep * t[i];
        }
    }
}
