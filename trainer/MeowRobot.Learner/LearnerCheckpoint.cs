using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>
/// Checkpoints of a <see cref="MeowLearner"/>: everything a resumed run needs — online and target networks, Adam's
/// moments and step counts, the replay buffer, the learner's random generators (action noise, replay sampling and every
/// dropout stream), its counters and the observation statistics. The envs are not part of it: a resumed run starts new
/// episodes (seeded from the run's seed and step count), and from there continues bit for bit as the run that wrote the
/// checkpoint would after reloading it.
/// <para>Dropout streams (version 2): the online network's, in module order, then those of each data-parallel replica
/// (<see cref="MeowOptions.Threads"/> − 1 of them). The target networks are in evaluation mode and never draw, so their
/// streams stay as constructed and are not written. A checkpoint written with another thread count loads; its replica
/// streams are then skipped (no resumed run with a different thread count can match the original anyway). Version-1
/// checkpoints have no dropout streams: they load with every stream as constructed, exact only with dropout 0.</para>
/// </summary>
public sealed partial class MeowLearner
{
    private const string CheckpointMagic = "MEOWCKPT";
    private const int CheckpointVersion = 2;

    /// <summary>Writes the learner's state to <paramref name="stream"/> (binary, little-endian; the stream is left open).</summary>
    public void SaveCheckpoint(Stream stream)
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(CheckpointMagic);
        w.Write(CheckpointVersion);
        w.Write(Policy.Shape.ObsDim);
        w.Write(Policy.Shape.ActDim);
        w.Write(EnvSteps);
        w.Write(Update.Count);
        WriteRng(w, _actionRng);
        WriteRng(w, _replayRng);
        WriteDropoutStreams(w);
        WriteState(w, Policy);
        WriteState(w, Update.Target);
        foreach (var s in Update.Adam.States)
        {
            w.Write(s.Step);
            WriteFloats(w, s.ExpAvg);
            WriteFloats(w, s.ExpAvgSq);
        }
        Buffer.Save(w);
        w.Write(ObsNormalizer is not null);
        ObsNormalizer?.Save(w);
    }

    /// <summary>Restores a state <see cref="SaveCheckpoint"/> wrote into this learner, which must have the same network
    /// shape and buffer capacity. <see cref="InvalidDataException"/> when the checkpoint does not fit; the learner is
    /// then unusable (build a new one).</summary>
    public void LoadCheckpoint(Stream stream)
    {
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            if (r.ReadString() != CheckpointMagic) throw new InvalidDataException("not a MEow learner checkpoint");
            var version = r.ReadInt32();
            if (version is < 1 or > CheckpointVersion)
                throw new InvalidDataException($"checkpoint version {version}; this build reads 1 to {CheckpointVersion}");
            int obsDim = r.ReadInt32(), actDim = r.ReadInt32();
            if (obsDim != Policy.Shape.ObsDim || actDim != Policy.Shape.ActDim)
                throw new InvalidDataException($"checkpoint is for ({obsDim}, {actDim}), this learner is ({Policy.Shape.ObsDim}, {Policy.Shape.ActDim})");
            EnvSteps = r.ReadInt64();
            Update.Count = r.ReadInt64();
            _actionRng.State = ReadRng(r);
            _replayRng.State = ReadRng(r);
            if (version >= 2) ReadDropoutStreams(r);
            ReadState(r, Policy);
            ReadState(r, Update.Target);
            foreach (var s in Update.Adam.States)
            {
                s.Step = r.ReadInt64();
                ReadFloats(r, s.ExpAvg);
                ReadFloats(r, s.ExpAvgSq);
            }
            Buffer.Load(r);
            if (r.ReadBoolean() != ObsNormalizer is not null)
                throw new InvalidDataException("checkpoint and learner disagree about observation normalisation");
            ObsNormalizer?.Load(r);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("checkpoint is truncated", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException("checkpoint holds an invalid value: " + e.Message, e);
        }
        _started = false; // new episodes on the next step
    }

    private static void WriteRng(BinaryWriter w, Rng rng)
    {
        var s = rng.State;
        w.Write(s.S0); w.Write(s.S1); w.Write(s.S2); w.Write(s.S3); w.Write(s.HasSpare); w.Write(s.Spare);
    }

    private static RngState ReadRng(BinaryReader r)
    {
        var s = new RngState(r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadBoolean(), r.ReadDouble());
        // Checked here as well as by Rng.State, because skipped replica streams are never assigned.
        if ((s.S0 | s.S1 | s.S2 | s.S3) == 0) throw new InvalidDataException("checkpoint holds an all-zero generator state");
        return s;
    }

    private void WriteDropoutStreams(BinaryWriter w)
    {
        var online = Policy.DropoutStreams();
        var replicas = Update.ReplicaDropoutStreams();
        w.Write(online.Count);
        foreach (var rng in online) WriteRng(w, rng);
        w.Write(replicas.Count);
        foreach (var replica in replicas)
            foreach (var rng in replica) WriteRng(w, rng);
    }

    private void ReadDropoutStreams(BinaryReader r)
    {
        var online = Policy.DropoutStreams();
        if (r.ReadInt32() is var count && count != online.Count)
            throw new InvalidDataException($"checkpoint has {count} dropout streams, this network {online.Count}");
        foreach (var rng in online) rng.State = ReadRng(r);
        var replicas = Update.ReplicaDropoutStreams();
        var saved = r.ReadInt32();
        if (saved < 0) throw new InvalidDataException($"checkpoint has {saved} replicas");
        if (saved == replicas.Count)
        {
            foreach (var replica in replicas)
                foreach (var rng in replica) rng.State = ReadRng(r);
        }
        else
        {
            // Another thread count: each replica has the online network's streams; read past them.
            for (var i = 0L; i < (long)saved * online.Count; i++) ReadRng(r);
        }
    }

    private static void WriteState(BinaryWriter w, FlowPolicy policy)
    {
        var entries = policy.StateEntries();
        w.Write(entries.Count);
        foreach (var e in entries)
        {
            w.Write(e.Name);
            WriteFloats(w, e.Tensor.Values);
        }
    }

    private static void ReadState(BinaryReader r, FlowPolicy policy)
    {
        var entries = policy.StateEntries();
        if (r.ReadInt32() != entries.Count) throw new InvalidDataException("checkpoint network has a different number of tensors");
        foreach (var e in entries)
        {
            if (r.ReadString() != e.Name) throw new InvalidDataException($"checkpoint network differs at '{e.Name}'");
            ReadFloats(r, e.Tensor.Values);
        }
    }

    private static void WriteFloats(BinaryWriter w, ReadOnlySpan<float> values)
    {
        w.Write(values.Length);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
    }

    private static void ReadFloats(BinaryReader r, Span<float> into)
    {
        if (r.ReadInt32() != into.Length) throw new InvalidDataException("checkpoint tensor has a different size");
        r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(into));
    }
}
