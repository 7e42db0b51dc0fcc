using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>
/// MEow, Algorithm 1 of the paper, the way the official CleanRL code runs it, as one algorithm of the shared
/// <see cref="OffPolicyLearner"/>:
/// <list type="number">
/// <item>act: a ~ π(· | s) from the flow (drawn with dropout off; only updates run the network in training mode);</item>
/// <item>update (<see cref="SoftQUpdate"/>): TD target from the target network's exact soft values, Bellman loss on Q1
/// and Q2 with independent dropout masks, clip, Adam, Polyak;</item>
/// <item>deterministic action: a = f(E[z] | s), z = 0 pushed through the couplings, then tanh.</item>
/// </list>
/// </summary>
public sealed class MeowAlgorithm : IOffPolicyAlgorithm
{
    private readonly Tape _actTape = new();

    /// <param name="rng">The stream the flow's initialisation (and its dropout streams) come from.</param>
    public MeowAlgorithm(FlowShape shape, MeowOptions options, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(rng);
        options.Validate();
        Update = new SoftQUpdate(new FlowPolicy(shape, rng), options);
    }

    /// <summary>The algorithm for <see cref="OffPolicyLearner"/>'s factory; the replicas' streams follow the run's seed.</summary>
    public static Func<Rng, IOffPolicyAlgorithm> Factory(FlowShape shape, MeowOptions options, LearnerOptions loop) =>
        rng => new MeowAlgorithm(shape, options with { Seed = loop.Seed }, rng);

    public PolicyAlgorithm Algorithm => PolicyAlgorithm.Meow;
    public SoftQUpdate Update { get; }
    public FlowPolicy Policy => Update.Online;
    public int ObsDim => Policy.Shape.ObsDim;
    public int ActDim => Policy.Shape.ActDim;

    public long Updates
    {
        get => Update.Count;
        set => Update.Count = value;
    }

    public void SampleActions(ReadOnlySpan<float> obs, int rows, Span<float> actions, Rng rng)
    {
        _actTape.Reset();
        Policy.Eval();
        using (_actTape.NoGrad())
        {
            var (action, _) = Policy.Sample(_actTape, _actTape.Input(obs[..(rows * ObsDim)], rows, ObsDim), rng);
            action.Values.CopyTo(actions);
        }
    }

    public void DeterministicActions(ReadOnlySpan<float> obs, int rows, Span<float> actions)
    {
        _actTape.Reset();
        Policy.Eval();
        using (_actTape.NoGrad())
            Policy.DeterministicAction(_actTape, _actTape.Input(obs[..(rows * ObsDim)], rows, ObsDim)).Values.CopyTo(actions);
    }

    UpdateStats IOffPolicyAlgorithm.Update(ReplayBatch batch) => Update.Step(batch);

    public PolicyFile ExportPolicy(Func<PolicyMetadata, PolicyMetadata> common) => Policy.ToFile(common);

    /// <summary>Dropout streams (the online network's in module order, then each data-parallel replica's), the online
    /// and target networks, Adam. The target networks are in evaluation mode and never draw, so their streams are not state.
    /// A checkpoint written with another thread count loads; its replica streams are then skipped (no resumed run with a
    /// different thread count can match the original anyway). Version-1 checkpoints have no dropout streams: they load
    /// with every stream as constructed, exact only with dropout 0.</summary>
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var online = Policy.DropoutStreams();
        var replicas = Update.ReplicaDropoutStreams();
        writer.Write(online.Count);
        foreach (var rng in online) writer.WriteRng(rng);
        writer.Write(replicas.Count);
        foreach (var replica in replicas)
            foreach (var rng in replica) writer.WriteRng(rng);
        writer.WriteModule(Policy);
        writer.WriteModule(Update.Target);
        writer.WriteAdam(Update.Adam);
    }

    public void LoadState(BinaryReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (version >= 2) ReadDropoutStreams(reader);
        reader.ReadModule(Policy);
        reader.ReadModule(Update.Target);
        reader.ReadAdam(Update.Adam);
    }

    private void ReadDropoutStreams(BinaryReader r)
    {
        var online = Policy.DropoutStreams();
        if (r.ReadInt32() is var count && count != online.Count)
            throw new InvalidDataException($"checkpoint has {count} dropout streams, this network {online.Count}");
        foreach (var rng in online) rng.State = r.ReadRng();
        var replicas = Update.ReplicaDropoutStreams();
        var saved = r.ReadInt32();
        if (saved < 0) throw new InvalidDataException($"checkpoint has {saved} replicas");
        if (saved == replicas.Count)
        {
            foreach (var replica in replicas)
                foreach (var rng in replica) rng.State = r.ReadRng();
        }
        else
        {
            // Another thread count: each replica has the online network's streams; read past them.
            for (var i = 0L; i < (long)saved * online.Count; i++) r.ReadRng();
        }
    }
}
