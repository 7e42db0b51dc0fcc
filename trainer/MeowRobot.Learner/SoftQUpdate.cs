using MeowRobot.Tensors;
using MeowRobot.Tensors.Optim;

namespace MeowRobot.Learner;

/// <summary>
/// One MEow gradient update (lines 8–12 of Algorithm 1), as the official code does it:
/// y = r + (1 − done)·γ·min(V1′(s′), V2′(s′)) from the target network (exact soft values, no sampling);
/// loss = mean over the doubled batch of ([Q1; Q2] − [y; y])²; backward; clip the global gradient norm; Adam; then
/// Polyak averaging of the target network. Allocation-free once warm (one tape per thread, preallocated target buffer).
/// With <see cref="MeowOptions.Threads"/> = 2 the target, loss and backward run on the two halves of the batch at once
/// (<see cref="BatchShards"/>); the second half draws its dropout masks from streams seeded by
/// <see cref="MeowOptions.Seed"/>, so a seeded run is reproducible for a given thread count.
/// </summary>
public sealed class SoftQUpdate
{
    private readonly IReadOnlyList<Tensor> _onlineParameters, _targetParameters;
    private readonly BatchShards _shards;
    private readonly ParameterUpdate _parameterUpdate;
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
        _shards = new BatchShards(online, target, options, BellmanBackward);
        _parameterUpdate = new ParameterUpdate(_onlineParameters, _targetParameters, Adam, _shards, options.Threads);
    }

    public FlowPolicy Online { get; }
    public FlowPolicy Target { get; }
    public MeowOptions Options { get; }
    public Adam Adam { get; }

    /// <summary>Updates done (also Adam's step count).</summary>
    public long Count { get; set; }

    /// <summary>The TD targets y of the latest update (one per batch row).</summary>
    public ReadOnlySpan<float> LastTarget => _target;

    /// <summary>The dropout streams of the data-parallel replicas (none with one thread); see
    /// <see cref="BatchShards.ReplicaDropoutStreams"/>.</summary>
    internal IReadOnlyList<IReadOnlyList<Rng>> ReplicaDropoutStreams() => _shards.ReplicaDropoutStreams();

    public UpdateStats Step(ReplayBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var shape = Online.Shape;
        if (batch.ObsDim != shape.ObsDim || batch.ActDim != shape.ActDim)
            throw new ArgumentException($"batch is ({batch.ObsDim}, {batch.ActDim}), the policy ({shape.ObsDim}, {shape.ActDim})", nameof(batch));
        if (_target.Length != batch.Size) _target = new float[batch.Size];
        Online.Train();

        // TD targets, Bellman loss and its gradient (BellmanBackward), over one shard of the batch per thread.
        Adam.ZeroGrad();
        var (loss, sumQ) = _shards.Backward(batch);
        // Clip the global gradient norm, Adam, Polyak averaging of the target network (one range of parameters per thread).
        var norm = _parameterUpdate.Run(Options.GradClip, Options.Tau);
        Count++;
        return new UpdateStats(loss, norm, (float)(sumQ / (2 * batch.Size)), (float)(Sum(_target) / _target.Length));
    }

    /// <summary>
    /// TD target and Bellman loss on rows [start, start + rows) of the batch, then backward into <paramref name="online"/>'s
    /// gradients. The loss is this share of the mean over the whole doubled batch, so the shards' losses and gradients add
    /// up to those of one pass over all rows (with one shard the weight is exactly 1).
    /// </summary>
    private ShardResult BellmanBackward(Tape tape, FlowPolicy online, FlowPolicy target, ReplayBatch batch, int start, int rows)
    {
        int obsDim = online.Shape.ObsDim, actDim = online.Shape.ActDim;
        var targets = _target.AsSpan(start, rows);
        tape.Reset();

        // TD target from the target network's exact soft values: shifting-based clipped double Q. Its intermediates are
        // dead once y is out, and their storage (still in cache) serves the online pass.
        using (tape.NoGrad())
        using (tape.Transient())
        {
            var nextObs = tape.Input(batch.NextObs.AsSpan(start * obsDim, rows * obsDim), rows, obsDim);
            var (v1, v2) = target.SoftValue(tape, nextObs);
            ReadOnlySpan<float> a = v1.Values, b = v2.Values, reward = batch.Reward.AsSpan(start, rows), done = batch.Done.AsSpan(start, rows);
            var gamma = Options.Gamma;
            for (var i = 0; i < rows; i++) targets[i] = reward[i] + (1f - done[i]) * gamma * MathF.Min(a[i], b[i]);
        }

        // Bellman loss on Q1 and Q2 together; [y; y] lines up with [Q1; Q2].
        var obs = tape.Input(batch.Obs.AsSpan(start * obsDim, rows * obsDim), rows, obsDim);
        var act = tape.Input(batch.Act.AsSpan(start * actDim, rows * actDim), rows, actDim);
        var q = online.StackedSoftQ(tape, obs, act);
        var y = tape.Zeros(2 * rows, 1);
        targets.CopyTo(y.Values);
        targets.CopyTo(y.Values[rows..]);
        var loss = tape.Mul(tape.Mean(tape.Square(tape.Sub(q, y))), (float)rows / batch.Size);

        tape.Backward(loss);
        return new ShardResult(loss.Item(), Sum(q.Values));
    }

    private static double Sum(ReadOnlySpan<float> v)
    {
        var s = 0.0;
        foreach (var x in v) s += x;
        return s;
    }
}
