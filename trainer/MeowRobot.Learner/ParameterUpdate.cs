using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Learner;

/// <summary>
/// Lines 11–12 of Algorithm 1 once the backward pass is done: the data-parallel replicas' gradients added in, the global
/// gradient norm clipped, Adam, then Polyak averaging of the target network — over the parameters cut into one
/// contiguous range per thread (<see cref="MeowOptions.Threads"/>; the ranges hold about equal numbers of elements).
/// Every element goes through the same operations as in one serial pass and the norm adds the per-tensor sums in tensor
/// order, so the result does not depend on how many ranges there are.
/// </summary>
internal sealed class ParameterUpdate : ISharedWork
{
    private readonly IReadOnlyList<Tensor> _online, _target;
    private readonly Adam _adam;
    private readonly BatchShards _shards;
    private readonly (int First, int Count)[] _ranges;
    private readonly double[] _sumOfSquares;
    private bool _updating; // the second phase: clip, Adam, Polyak (else: gradients and their sums of squares)
    private float _coefficient, _tau;

    public ParameterUpdate(IReadOnlyList<Tensor> online, IReadOnlyList<Tensor> target, Adam adam, BatchShards shards, int threads)
    {
        _online = online;
        _target = target;
        _adam = adam;
        _shards = shards;
        _sumOfSquares = new double[online.Count];
        _ranges = Split(online, threads);
    }

    /// <summary>Runs the tail of one update; returns the gradient norm before clipping.</summary>
    public float Run(float maxNorm, float tau)
    {
        _updating = false;
        SecondCore.Shared.Share(this, _ranges.Length);
        var sum = 0.0;
        foreach (var s in _sumOfSquares) sum += s;
        var norm = GradientClipping.Norm(sum);
        _coefficient = GradientClipping.Coefficient(norm, maxNorm);
        _tau = tau;
        _updating = true;
        SecondCore.Shared.Share(this, _ranges.Length);
        return norm;
    }

    void ISharedWork.Run(int item)
    {
        var (first, count) = _ranges[item];
        if (!_updating)
        {
            _shards.AddReplicaGradients(first, count);
            for (var i = first; i < first + count; i++) _sumOfSquares[i] = GradientClipping.SumOfSquares(_online[i]);
            return;
        }
        for (var i = first; i < first + count; i++) GradientClipping.Scale(_online[i], _coefficient);
        _adam.Step(first, count);
        Polyak.Update(_target, _online, _tau, first, count);
    }

    /// <summary>Consecutive ranges of tensors, one per thread: a tensor goes to the range whose share of the elements its
    /// first element falls in.</summary>
    private static (int First, int Count)[] Split(IReadOnlyList<Tensor> parameters, int parts)
    {
        long total = 0;
        for (var i = 0; i < parameters.Count; i++) total += parameters[i].Length;
        var ranges = new (int First, int Count)[Math.Max(1, Math.Min(parts, parameters.Count))];
        long before = 0;
        for (var i = 0; i < parameters.Count; i++)
        {
            ref var range = ref ranges[before * ranges.Length / total];
            if (range.Count == 0) range.First = i;
            range.Count++;
            before += parameters[i].Length;
        }
        return ranges;
    }
}
