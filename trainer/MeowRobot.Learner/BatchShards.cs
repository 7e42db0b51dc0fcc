using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Learner;

/// <summary>What one shard's backward pass measured: its share of the loss and the sum of its Q values.</summary>
internal readonly record struct ShardResult(float Loss, double SumQ);

/// <summary>The update's work on rows [start, start + rows) of a batch: forward, loss share and backward.</summary>
internal delegate ShardResult ShardBackward(Tape tape, FlowPolicy online, FlowPolicy target, ReplayBatch batch, int start, int rows);

/// <summary>
/// Data parallelism for <see cref="SoftQUpdate"/>: a minibatch cut into one shard of rows per thread
/// (<see cref="MeowOptions.Threads"/>). Everything up to the parameter gradients is row-separable (LayerNorm is per row,
/// the loss a mean over rows), so each shard runs on its own tape with its own replica of the online and target
/// networks — same parameter storage (<see cref="Tensors.Modules.Module.ShareStateWith"/>), own gradients, own dropout
/// streams — and the replicas' gradients are then added to the primary's. Shard 0 is the primary networks themselves,
/// so with one thread this is exactly the single-pass update. The shards run on the <see cref="SecondCore"/>, which also
/// keeps the matrix products inside them single-threaded; when another caller holds it they run one after the other
/// here, with the same results.
/// </summary>
internal sealed class BatchShards : ISharedWork
{
    private readonly Shard[] _shards;
    private readonly ShardBackward _backward;
    private ReplayBatch? _batch;
    private int _count;

    public BatchShards(FlowPolicy online, FlowPolicy target, MeowOptions options, ShardBackward backward)
    {
        _backward = backward;
        _shards = new Shard[options.Threads];
        _shards[0] = new Shard(online, target);
        for (var k = 1; k < _shards.Length; k++)
        {
            // The replica's dropout streams come from the run's seed and the shard number: reproducible per thread count.
            var rng = new Rng((ulong)options.Seed, stream: (ulong)k);
            var onlineReplica = new FlowPolicy(online.Shape, rng);
            onlineReplica.ShareStateWith(online);
            var targetReplica = new FlowPolicy(target.Shape, rng);
            targetReplica.ShareStateWith(target);
            targetReplica.Eval();
            _shards[k] = new Shard(onlineReplica, targetReplica); // a replica stays in training mode: it only ever learns
        }
    }

    /// <summary>The dropout streams of each replica's online network (shards 1…, in module order), for checkpoints. The
    /// replicas' target networks stay in evaluation mode and never draw, so theirs are not state.</summary>
    public IReadOnlyList<IReadOnlyList<Rng>> ReplicaDropoutStreams() => _shards.Skip(1).Select(s => s.Online.DropoutStreams()).ToArray();

    /// <summary>
    /// Runs <see cref="ShardBackward"/> on every shard; each replica's gradient stays in its own parameters until
    /// <see cref="AddReplicaGradients"/>. Returns the summed loss and Q sum.
    /// </summary>
    public ShardResult Backward(ReplayBatch batch)
    {
        _batch = batch;
        _count = Math.Min(_shards.Length, batch.Size);
        SecondCore.Shared.Share(this, _count);
        _batch = null;
        var (loss, sumQ) = _shards[0].Result;
        for (var k = 1; k < _count; k++)
        {
            loss += _shards[k].Result.Loss;
            sumQ += _shards[k].Result.SumQ;
        }
        return new ShardResult(loss, sumQ);
    }

    /// <summary>Adds the replicas' gradients of the last <see cref="Backward"/> into the primary network's, for parameters
    /// [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) (disjoint ranges may run on
    /// different threads): then the primary holds the whole batch's gradient.</summary>
    public void AddReplicaGradients(int first, int count)
    {
        var primary = _shards[0].Parameters;
        for (var k = 1; k < _count; k++)
        {
            var replica = _shards[k].Parameters;
            for (var i = first; i < first + count; i++) TensorPrimitives.Add(primary[i].Grad, replica[i].Grad, primary[i].Grad);
        }
    }

    void ISharedWork.Run(int item)
    {
        var shard = _shards[item];
        var batch = _batch!;
        int start = batch.Size * item / _count, end = batch.Size * (item + 1) / _count;
        if (item > 0)
            for (var i = 0; i < shard.Parameters.Count; i++) shard.Parameters[i].ZeroGrad(); // the primary's are the caller's to clear
        shard.Result = _backward(shard.Tape, shard.Online, shard.Target, batch, start, end - start);
    }

    private sealed class Shard(FlowPolicy online, FlowPolicy target)
    {
        public Tape Tape { get; } = new();
        public FlowPolicy Online { get; } = online;
        public FlowPolicy Target { get; } = target;
        public IReadOnlyList<Tensor> Parameters { get; } = online.Parameters();
        public ShardResult Result { get; set; }
    }
}
