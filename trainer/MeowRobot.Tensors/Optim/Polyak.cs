namespace MeowRobot.Tensors.Optim;

/// <summary>Polyak (soft) target update: target ← τ·online + (1-τ)·target, elementwise in float32 as PyTorch.</summary>
public static class Polyak
{
    public static void Update(IReadOnlyList<Tensor> target, IReadOnlyList<Tensor> online, float tau)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(online);
        if (target.Count != online.Count) throw new ArgumentException($"{target.Count} target tensors vs {online.Count} online", nameof(target));
        if (!(tau is >= 0f and <= 1f)) throw new ArgumentOutOfRangeException(nameof(tau));
        var keep = (float)(1 - (double)tau);
        for (var k = 0; k < target.Count; k++)
        {
            var t = target[k].Values;
            var o = online[k].Values;
            if (t.Length != o.Length) throw new ArgumentException($"tensor {k}: {target[k].ShapeString} vs {online[k].ShapeString}", nameof(online));
            for (var i = 0; i < t.Length; i++) t[i] = tau * o[i] + keep * t[i];
        }
    }
}
