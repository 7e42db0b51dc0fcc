using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>
/// Checkpoints of an <see cref="OffPolicyLearner"/>: everything a resumed run needs — the loop's counters and random
/// generators (action noise, replay sampling), the algorithm's state (<see cref="IOffPolicyAlgorithm.SaveState"/>:
/// networks, targets, optimiser moments, its own streams), the replay buffer and the observation statistics. The envs are
/// not part of it: a resumed run starts new episodes (seeded from the run's seed and step count), and from there
/// continues bit for bit as the run that wrote the checkpoint would after reloading it.
/// <para>Format 3 names the algorithm after the version; formats 1 and 2 (before there were several algorithms) are
/// MEow's and still load. Format 4 adds the fraction of an update owed (a fractional update-to-data ratio carries it
/// between vector steps; older formats resume with none owed).</para>
/// </summary>
public sealed partial class OffPolicyLearner
{
    private const string CheckpointMagic = "MEOWCKPT";
    private const int CheckpointVersion = 4;

    /// <summary>Writes the learner's state to <paramref name="stream"/> (binary, little-endian; the stream is left open).</summary>
    public void SaveCheckpoint(Stream stream)
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(CheckpointMagic);
        w.Write(CheckpointVersion);
        w.Write(Algorithm.Algorithm.Name());
        w.Write(Algorithm.ObsDim);
        w.Write(Algorithm.ActDim);
        w.Write(EnvSteps);
        w.Write(Algorithm.Updates);
        w.Write(_updatesOwed);
        w.WriteRng(_actionRng);
        w.WriteRng(_replayRng);
        Algorithm.SaveState(w);
        Buffer.Save(w);
        w.Write(ObsNormalizer is not null);
        ObsNormalizer?.Save(w);
    }

    /// <summary>Restores a state <see cref="SaveCheckpoint"/> wrote into this learner, which must run the same algorithm
    /// with the same networks and buffer capacity. <see cref="InvalidDataException"/> when the checkpoint does not fit;
    /// the learner is then unusable (build a new one).</summary>
    public void LoadCheckpoint(Stream stream)
    {
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            if (r.ReadString() != CheckpointMagic) throw new InvalidDataException("not a MeowRobot learner checkpoint");
            var version = r.ReadInt32();
            if (version is < 1 or > CheckpointVersion)
                throw new InvalidDataException($"checkpoint version {version}; this build reads 1 to {CheckpointVersion}");
            var algorithm = version >= 3 ? r.ReadString() : PolicyAlgorithm.Meow.Name();
            if (algorithm != Algorithm.Algorithm.Name())
                throw new InvalidDataException($"checkpoint is of a {algorithm} learner, this learner runs {Algorithm.Algorithm.Name()}");
            int obsDim = r.ReadInt32(), actDim = r.ReadInt32();
            if (obsDim != Algorithm.ObsDim || actDim != Algorithm.ActDim)
                throw new InvalidDataException($"checkpoint is for ({obsDim}, {actDim}), this learner is ({Algorithm.ObsDim}, {Algorithm.ActDim})");
            EnvSteps = r.ReadInt64();
            var updates = r.ReadInt64();
            if (EnvSteps < 0 || updates < 0) throw new InvalidDataException("checkpoint counters are negative");
            Algorithm.Updates = updates;
            _updatesOwed = version >= 4 ? r.ReadDouble() : 0;
            if (!(_updatesOwed is >= 0 and < 1)) throw new InvalidDataException($"checkpoint owes {_updatesOwed} updates (a fraction in [0, 1) expected)");
            _actionRng.State = r.ReadRng();
            _replayRng.State = r.ReadRng();
            Algorithm.LoadState(r, version);
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
}

/// <summary>The pieces every algorithm's checkpoint state is made of: generators, modules (state-dict order, by name),
/// Adam's moments, float arrays. Little-endian, length-prefixed; every read checks it fits.</summary>
public static class CheckpointStreams
{
    public static void WriteRng(this BinaryWriter w, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(rng);
        var s = rng.State;
        w.Write(s.S0); w.Write(s.S1); w.Write(s.S2); w.Write(s.S3); w.Write(s.HasSpare); w.Write(s.Spare);
    }

    public static RngState ReadRng(this BinaryReader r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var s = new RngState(r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt64(), r.ReadBoolean(), r.ReadDouble());
        // Checked here as well as by Rng.State, because skipped streams are never assigned.
        if ((s.S0 | s.S1 | s.S2 | s.S3) == 0) throw new InvalidDataException("checkpoint holds an all-zero generator state");
        return s;
    }

    /// <summary>A module's state entries (parameters and buffers) by name, in state-dict order.</summary>
    public static void WriteModule(this BinaryWriter w, Tensors.Modules.Module module)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(module);
        var entries = module.StateEntries();
        w.Write(entries.Count);
        foreach (var e in entries)
        {
            w.Write(e.Name);
            w.WriteFloats(e.Tensor.Values);
        }
    }

    public static void ReadModule(this BinaryReader r, Tensors.Modules.Module module)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(module);
        var entries = module.StateEntries();
        if (r.ReadInt32() != entries.Count) throw new InvalidDataException("checkpoint network has a different number of tensors");
        foreach (var e in entries)
        {
            if (r.ReadString() != e.Name) throw new InvalidDataException($"checkpoint network differs at '{e.Name}'");
            r.ReadFloats(e.Tensor.Values);
        }
    }

    /// <summary>Adam's step counts and moments, parameter by parameter.</summary>
    public static void WriteAdam(this BinaryWriter w, Tensors.Optim.Adam adam)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(adam);
        foreach (var s in adam.States)
        {
            w.Write(s.Step);
            w.WriteFloats(s.ExpAvg);
            w.WriteFloats(s.ExpAvgSq);
        }
    }

    public static void ReadAdam(this BinaryReader r, Tensors.Optim.Adam adam)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(adam);
        foreach (var s in adam.States)
        {
            s.Step = r.ReadInt64();
            if (s.Step < 0) throw new InvalidDataException("checkpoint holds a negative Adam step count");
            r.ReadFloats(s.ExpAvg);
            r.ReadFloats(s.ExpAvgSq);
        }
    }

    public static void WriteFloats(this BinaryWriter w, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.Write(values.Length);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
    }

    public static void ReadFloats(this BinaryReader r, Span<float> into)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.ReadInt32() != into.Length) throw new InvalidDataException("checkpoint tensor has a different size");
        r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(into));
    }
}
