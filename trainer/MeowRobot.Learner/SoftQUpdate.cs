using MeowRobot.Tensors;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Learner;

/// <summary>What one gradient update measured.</summary>
public readonly record struct UpdateStats(float Loss, float GradNorm, float MeanQ, float MeanTarget);

/// <summary>
/// One MEow gradient update (lines 8–12 of Algorithm 1), as the official code does it:
/// y = r + (1 − done)·γ·min(V1′(s′), V2′(s′)) from the target network (exact soft values, no sampling);
/// loss = mean over the doubled batch of ([Q1; Q2] − [y; y])²; backward; clip the global gradient norm; Adam; then
/// Polyak averaging of the target network. Allocation-free once warm (one tape, preallocated target buffer).
/// </summary>
public sealed class SoftQUpdate
{
    private readonly Tape _tape = new();
    private readonly IReadOnlyList<Tensor> _onlineParameters, _targetParameters;
    private float[] _target = [];

    /// <param name="online">The policy being trained (put in training mode here, so dropout is active when its shape has any).</param>
    /// <param name="target">The target network; a copy of <paramref name="online"/> when null.</param>
    public SoftQUpdate(FlowPolicy online, MeowOptions options, FlowPolicy? target = null)
    {
        ArgumentNullException.ThrowIfNull(online);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Online = online;
        Options = options;
        if (target is null)
        {
            target = new FlowPolicy(online.Shape, new Rng(0));
            target.CopyStateFrom(online);
        }
        Target = target;
        Target.Eval();
        _onlineParameters = online.Parameters();
        _targetParameters = target.Parameters();
        Adam = new Adam(_onlineParameters, options.LearningRate, options.AdamBeta1, options.AdamBeta2, options.AdamEps);
    }

    public FlowPolicy Online { get; }
    public FlowPolicy Target { get; }
    public MeowOptions Options { get; }
    public Adam Adam { get; }

    /// <summary>Updates done (also Adam's step count).</summary>
    public long Count { get; set; }

    /// <summary>The TD targets y of the latest update (one per batch row).</summary>
    public ReadOnlySpan<float> LastTarget => _target;

    public UpdateStats Step(ReplayBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var shape = Online.Shape;
        if (batch.ObsDim != shape.ObsDim || batch.ActDim != shape.ActDim)
            throw new ArgumentException($"batch is ({batch.ObsDim}, {batch.ActDim}), the policy ({shape.ObsDim}, {shape.ActDim})", nameof(batch));
        var n = batch.Size;
        var tape = _tape;
        tape.Reset();
        Online.Train();

        // TD target from the target network's exact soft values: shifting-based clipped double Q.
        using (tape.NoGrad())
        {
            var nextObs = tape.Input(batch.NextObs, n, shape.ObsDim);
            var (v1, v2) = Target.SoftValue(tape, nextObs);
            if (_target.Length != n) _target = new float[n];
            ReadOnlySpan<float> a = v1.Values, b = v2.Values;
            var gamma = Options.Gamma;
            for (var i = 0; i < n; i++) _target[i] = batch.Reward[i] + (1f - batch.Done[i]) * gamma * MathF.Min(a[i], b[i]);
        }

        // Bellman loss on Q1 and Q2 together; [y; y] lines up with [Q1; Q2].
        var obs = tape.Input(batch.Obs, n, shape.ObsDim);
        var act = tape.Input(batch.Act, n, shape.ActDim);
        var q = Online.StackedSoftQ(tape, obs, act);
        var y = tape.Zeros(2 * n, 1);
        _target.CopyTo(y.Values);
        _target.CopyTo(y.Values[n..]);
        var loss = tape.Mean(tape.Square(tape.Sub(q, y)));

        Adam.ZeroGrad();
        tape.Backward(loss);
        var norm = GradientClipping.ClipGradNorm(_onlineParameters, Options.GradClip);
        Adam.Step();
        Polyak.Update(_targetParameters, _onlineParameters, Options.Tau);
        Count++;
        return new UpdateStats(loss.Item(), norm, Mean(q.Values), Mean(_target));
    }

    private static float Mean(ReadOnlySpan<float> v)
    {
        var s = 0.0;
        foreach (var x in v) s += x;
        return (float)(s / v.Length);
    }
}
