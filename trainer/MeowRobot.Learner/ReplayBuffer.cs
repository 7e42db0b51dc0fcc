using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>A minibatch drawn from the <see cref="ReplayBuffer"/>: preallocated row-major float32 arrays, reused every update.</summary>
public sealed class ReplayBatch
{
    public ReplayBatch(int size, int obsDim, int actDim)
    {
        Size = size;
        ObsDim = obsDim;
        ActDim = actDim;
        Obs = new float[size * obsDim];
        NextObs = new float[size * obsDim];
        Act = new float[size * actDim];
        Reward = new float[size];
        Done = new float[size];
    }

    public int Size { get; }
    public int ObsDim { get; }
    public int ActDim { get; }
    public float[] Obs { get; }
    public float[] NextObs { get; }
    public float[] Act { get; }
    public float[] Reward { get; }
    /// <summary>1 where s′ is a terminal state (termination only: a time-limit truncation stores 0 and bootstraps).</summary>
    public float[] Done { get; }
}

/// <summary>
/// The replay buffer of Algorithm 1: a ring of transitions (s, a, r, s′, terminated) in preallocated float32 arrays,
/// sampled uniformly with replacement. Nothing allocates after construction.
/// </summary>
public sealed class ReplayBuffer
{
    private readonly float[] _obs, _nextObs, _act, _reward, _done;

    public ReplayBuffer(int capacity, int obsDim, int actDim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(obsDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(actDim, 1);
        Capacity = capacity;
        ObsDim = obsDim;
        ActDim = actDim;
        _obs = new float[(long)capacity * obsDim];
        _nextObs = new float[(long)capacity * obsDim];
        _act = new float[(long)capacity * actDim];
        _reward = new float[capacity];
        _done = new float[capacity];
    }

    public int Capacity { get; }
    public int ObsDim { get; }
    public int ActDim { get; }
    /// <summary>Transitions held (≤ Capacity).</summary>
    public int Count { get; private set; }
    /// <summary>Where the next transition goes; the oldest is overwritten once full.</summary>
    public int Position { get; private set; }

    public void Add(ReadOnlySpan<float> obs, ReadOnlySpan<float> act, float reward, ReadOnlySpan<float> nextObs, bool terminated)
    {
        if (obs.Length != ObsDim || nextObs.Length != ObsDim) throw new ArgumentException($"observation rows must have {ObsDim} values");
        if (act.Length != ActDim) throw new ArgumentException($"action rows must have {ActDim} values");
        var i = Position;
        obs.CopyTo(_obs.AsSpan(i * ObsDim, ObsDim));
        nextObs.CopyTo(_nextObs.AsSpan(i * ObsDim, ObsDim));
        act.CopyTo(_act.AsSpan(i * ActDim, ActDim));
        _reward[i] = reward;
        _done[i] = terminated ? 1f : 0f;
        Position = i + 1 == Capacity ? 0 : i + 1;
        if (Count < Capacity) Count++;
    }

    /// <summary>Fills <paramref name="into"/> with transitions drawn uniformly (with replacement), the indices coming from <paramref name="rng"/>.</summary>
    public void Sample(Rng rng, ReplayBatch into)
    {
        if (Count == 0) throw new InvalidOperationException("the replay buffer is empty");
        if (into.ObsDim != ObsDim || into.ActDim != ActDim) throw new ArgumentException("batch shape does not match the buffer", nameof(into));
        for (var b = 0; b < into.Size; b++)
        {
            var i = (int)(rng.NextDouble() * Count);
            _obs.AsSpan(i * ObsDim, ObsDim).CopyTo(into.Obs.AsSpan(b * ObsDim, ObsDim));
            _nextObs.AsSpan(i * ObsDim, ObsDim).CopyTo(into.NextObs.AsSpan(b * ObsDim, ObsDim));
            _act.AsSpan(i * ActDim, ActDim).CopyTo(into.Act.AsSpan(b * ActDim, ActDim));
            into.Reward[b] = _reward[i];
            into.Done[b] = _done[i];
        }
    }

    /// <summary>Writes the buffer's contents (only the filled part) for a checkpoint.</summary>
    public void Save(BinaryWriter w)
    {
        w.Write(Capacity); w.Write(ObsDim); w.Write(ActDim); w.Write(Count); w.Write(Position);
        WriteFloats(w, _obs.AsSpan(0, Count * ObsDim));
        WriteFloats(w, _nextObs.AsSpan(0, Count * ObsDim));
        WriteFloats(w, _act.AsSpan(0, Count * ActDim));
        WriteFloats(w, _reward.AsSpan(0, Count));
        WriteFloats(w, _done.AsSpan(0, Count));
    }

    /// <summary>Restores what <see cref="Save"/> wrote into this buffer, which must have the same shape.</summary>
    public void Load(BinaryReader r)
    {
        int capacity = r.ReadInt32(), obsDim = r.ReadInt32(), actDim = r.ReadInt32(), count = r.ReadInt32(), position = r.ReadInt32();
        if (capacity != Capacity || obsDim != ObsDim || actDim != ActDim)
            throw new InvalidDataException($"replay buffer checkpoint is {capacity}×({obsDim},{actDim}), this buffer is {Capacity}×({ObsDim},{ActDim})");
        if (count < 0 || count > capacity || position < 0 || position >= capacity || (count < capacity && position != count))
            throw new InvalidDataException($"replay buffer checkpoint has inconsistent count {count} / position {position}");
        ReadFloats(r, _obs.AsSpan(0, count * ObsDim));
        ReadFloats(r, _nextObs.AsSpan(0, count * ObsDim));
        ReadFloats(r, _act.AsSpan(0, count * ActDim));
        ReadFloats(r, _reward.AsSpan(0, count));
        ReadFloats(r, _done.AsSpan(0, count));
        Count = count;
        Position = position;
    }

    private static void WriteFloats(BinaryWriter w, ReadOnlySpan<float> values) =>
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));

    private static void ReadFloats(BinaryReader r, Span<float> into)
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(into);
        r.BaseStream.ReadExactly(bytes);
    }
}
