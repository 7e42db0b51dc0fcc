using System.Runtime.InteropServices;
using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks;

namespace MeowRobot.Learner.Tests;

public sealed class CheckpointTests
{
    // The default shape: Dropout 0.1 in the couplings, so updates draw masks from the dropout streams.
    private static readonly FlowShape Shape = new() { ObsDim = 3, ActDim = 1, Hidden = 8, ShiftHidden = 8 };
    private const int RngStateBytes = 4 * 8 + 1 + 8;

    private static readonly LearnerOptions Loop = new() { Seed = 2, BatchSize = 16, LearningStarts = 40, BufferCapacity = 500, NormalizeObservations = true };

    private static MeowOptions Options(int threads) => new() { Threads = threads };

    private static (OffPolicyLearner Learner, LocalVectorEnv Env) NewLearner(int threads = 1)
    {
        var env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
        return (MeowLearners.Create(Shape, Options(threads), Loop, env), env);
    }

    private static byte[] Save(OffPolicyLearner learner)
    {
        using var saved = new MemoryStream();
        learner.SaveCheckpoint(saved);
        return saved.ToArray();
    }

    private static List<float> Losses(OffPolicyLearner learner, long until)
    {
        var losses = new List<float>();
        void Record(LearnerEvent e) { if (e is Updated u) losses.Add(u.Stats.Loss); }
        learner.Reported += Record;
        learner.Run(until);
        learner.Reported -= Record;
        return losses;
    }

    private static int[] Bits(ReadOnlySpan<float> values) => MemoryMarshal.Cast<float, int>(values).ToArray();

    private static RngState[] States(IEnumerable<Rng> streams) => streams.Select(s => s.State).ToArray();

    private static RngState[] ReplicaStates(OffPolicyLearner learner) => States(learner.Meow().Update.ReplicaDropoutStreams().SelectMany(r => r));

    private static void AssertSameNetwork(FlowPolicy expected, FlowPolicy actual)
    {
        var (e, a) = (expected.StateEntries(), actual.StateEntries());
        Assert.Equal(e.Count, a.Count);
        for (var i = 0; i < e.Count; i++) Assert.True(Bits(e[i].Tensor.Values).AsSpan().SequenceEqual(Bits(a[i].Tensor.Values)), e[i].Name);
    }

    private static void AssertSameState(OffPolicyLearner expected, OffPolicyLearner actual)
    {
        AssertSameNetwork(expected.Meow().Policy, actual.Meow().Policy);
        AssertSameNetwork(expected.Meow().Update.Target, actual.Meow().Update.Target);
        var (e, a) = (expected.Meow().Update.Adam.States, actual.Meow().Update.Adam.States);
        for (var i = 0; i < e.Count; i++)
        {
            Assert.Equal(e[i].Step, a[i].Step);
            Assert.Equal(Bits(e[i].ExpAvg), Bits(a[i].ExpAvg));
            Assert.Equal(Bits(e[i].ExpAvgSq), Bits(a[i].ExpAvgSq));
        }
        Assert.Equal(States(expected.Meow().Policy.DropoutStreams()), States(actual.Meow().Policy.DropoutStreams()));
        Assert.Equal(ReplicaStates(expected), ReplicaStates(actual));
    }

    /// <summary>Where the algorithm's name lies in a version-4 checkpoint: [start, end).</summary>
    private static (int Start, int End) NameSection(byte[] checkpoint)
    {
        using var r = new BinaryReader(new MemoryStream(checkpoint));
        r.ReadString(); // magic
        Assert.Equal(4, r.ReadInt32()); // version
        var start = (int)r.BaseStream.Position;
        Assert.Equal("meow", r.ReadString());
        return (start, (int)r.BaseStream.Position);
    }

    /// <summary>Where the fraction of an update owed lies in a version-4 checkpoint (8 bytes; versions 1–3 lack it).</summary>
    private static int OwedSection(byte[] checkpoint) => NameSection(checkpoint).End + 4 + 4 + 8 + 8; // dimensions, env steps, updates

    /// <summary>A version-4 checkpoint as version <paramref name="version"/> (1–3) wrote it: the same layout without what
    /// that version did not have (the owed fraction; before 3 the algorithm's name; before 2 the dropout streams).</summary>
    private static byte[] AsVersion(byte[] v4, int version)
    {
        var (nameStart, nameEnd) = NameSection(v4);
        var owed = OwedSection(v4);
        var (dropoutStart, dropoutEnd, _) = DropoutSection(v4);
        IEnumerable<byte> older = version >= 3 ? v4[..owed] : v4[..nameStart].Concat(v4[nameEnd..owed]);
        older = version >= 2 ? older.Concat(v4[(owed + 8)..]) : older.Concat(v4[(owed + 8)..dropoutStart]).Concat(v4[dropoutEnd..]);
        var bytes = older.ToArray();
        BitConverter.TryWriteBytes(bytes.AsSpan(1 + "MEOWCKPT".Length), version);
        return bytes;
    }

    /// <summary>Where the dropout streams lie in a version-4 checkpoint: [start, end), and how many per network.</summary>
    private static (int Start, int End, int PerNetwork) DropoutSection(byte[] checkpoint)
    {
        using var r = new BinaryReader(new MemoryStream(checkpoint));
        r.BaseStream.Position = OwedSection(checkpoint) + 8;
        r.ReadBytes(2 * RngStateBytes); // action and replay generators
        var start = (int)r.BaseStream.Position;
        var perNetwork = r.ReadInt32();
        r.ReadBytes(perNetwork * RngStateBytes);
        var replicas = r.ReadInt32();
        r.ReadBytes(replicas * perNetwork * RngStateBytes);
        return (start, (int)r.BaseStream.Position, perNetwork);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_resumed_learner_continues_bit_for_bit_with_dropout_on(int threads)
    {
        var (original, env1) = NewLearner(threads);
        using var _1 = env1;
        var (resumed, env2) = NewLearner(threads);
        using var _2 = env2;
        var constructed = States(resumed.Meow().Policy.DropoutStreams());
        var constructedReplicas = ReplicaStates(resumed);
        original.Run(100);
        var checkpoint = Save(original);
        Assert.Equal(threads - 1, resumed.Meow().Update.ReplicaDropoutStreams().Count);
        Assert.NotEqual(constructed, States(original.Meow().Policy.DropoutStreams())); // masks were drawn
        if (threads > 1) Assert.NotEqual(constructedReplicas, ReplicaStates(original));

        // A resumed run starts new episodes; so does the uninterrupted one here, through its own checkpoint, so that
        // both then collect the same transitions.
        original.LoadCheckpoint(new MemoryStream(checkpoint));
        resumed.LoadCheckpoint(new MemoryStream(checkpoint));
        Assert.Equal(100, resumed.EnvSteps);
        AssertSameState(original, resumed);

        Assert.Equal(Losses(original, 180), Losses(resumed, 180));
        AssertSameState(original, resumed);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void A_version_2_or_3_checkpoint_resumes_exactly_with_no_update_owed(int version)
    {
        var (original, env1) = NewLearner();
        using var _1 = env1;
        original.Run(60);
        var older = AsVersion(Save(original), version); // the default ratio of 1 owes no fraction: nothing lost
        var (resumed, env2) = NewLearner();
        using var _2 = env2;
        resumed.LoadCheckpoint(new MemoryStream(older));
        AssertSameState(original, resumed);
    }

    [Fact]
    public void A_version_1_checkpoint_loads_with_the_dropout_streams_as_constructed()
    {
        var (original, env1) = NewLearner();
        using var _1 = env1;
        original.Run(60);
        var v1 = AsVersion(Save(original), 1);

        var (resumed, env2) = NewLearner();
        using var _2 = env2;
        var constructed = States(resumed.Meow().Policy.DropoutStreams());
        resumed.LoadCheckpoint(new MemoryStream(v1));
        Assert.Equal(60, resumed.EnvSteps);
        AssertSameNetwork(original.Meow().Policy, resumed.Meow().Policy);
        Assert.Equal(constructed, States(resumed.Meow().Policy.DropoutStreams()));
        resumed.Run(80);
        Assert.Equal(80, resumed.EnvSteps);
    }

    [Fact]
    public void A_fractional_update_ratio_resumes_owing_what_the_run_owed()
    {
        // 0.3 updates per transition: after 101 steps (62 from learning starts) 18 updates ran and ~0.6 of one is owed.
        var loop = Loop with { UpdatesPerTransition = 0.3 };
        OffPolicyLearner New(out LocalVectorEnv env)
        {
            env = new LocalVectorEnv(() => TaskCatalog.Create("pendulum"), 1);
            return MeowLearners.Create(Shape, Options(1), loop, env);
        }
        var original = New(out var env1);
        using var _1 = env1;
        original.Run(101);
        var checkpoint = Save(original);
        Assert.Equal(0.6, BitConverter.ToDouble(checkpoint, OwedSection(checkpoint)), 6);
        var resumed = New(out var env2);
        using var _2 = env2;
        original.LoadCheckpoint(new MemoryStream(checkpoint));
        resumed.LoadCheckpoint(new MemoryStream(checkpoint));
        Assert.Equal(Losses(original, 160), Losses(resumed, 160));
        Assert.Equal(original.Updates, resumed.Updates);

        var wrong = checkpoint.ToArray();
        BitConverter.TryWriteBytes(wrong.AsSpan(OwedSection(checkpoint)), 1.5);
        var refusing = New(out var env3);
        using var _3 = env3;
        Assert.Throws<InvalidDataException>(() => refusing.LoadCheckpoint(new MemoryStream(wrong)));
    }

    [Fact]
    public void A_checkpoint_of_another_thread_count_loads_without_the_replica_streams()
    {
        var (two, env1) = NewLearner(threads: 2);
        using var _1 = env1;
        two.Run(60);
        var fromTwo = Save(two);
        var (one, env2) = NewLearner(threads: 1);
        using var _2 = env2;
        one.LoadCheckpoint(new MemoryStream(fromTwo));
        Assert.Equal(States(two.Meow().Policy.DropoutStreams()), States(one.Meow().Policy.DropoutStreams()));

        var (other, env3) = NewLearner(threads: 2);
        using var _3 = env3;
        var constructed = ReplicaStates(other);
        other.LoadCheckpoint(new MemoryStream(Save(one)));
        Assert.Equal(States(two.Meow().Policy.DropoutStreams()), States(other.Meow().Policy.DropoutStreams()));
        Assert.Equal(constructed, ReplicaStates(other));
    }

    [Fact]
    public void Truncated_or_foreign_checkpoints_are_refused()
    {
        var (learner, env) = NewLearner();
        using var _ = env;
        learner.Run(60);
        var bytes = Save(learner);

        var (other, env2) = NewLearner();
        using var _2 = env2;
        var (_, dropoutEnd, _) = DropoutSection(bytes);
        for (var length = 0; length < bytes.Length; length += length < dropoutEnd + 64 ? 1 : 97)
            Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(new MemoryStream(bytes[..length])));
        Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(new MemoryStream("not a checkpoint at all"u8.ToArray())));

        using var wide = new LocalVectorEnv(() => TaskCatalog.Create("multigoal"), 1);
        var mismatched = MeowLearners.Create(Shape with { ObsDim = wide.Spec.ObsDim, ActDim = wide.Spec.ActDim }, Options(1), Loop, wide);
        Assert.Throws<InvalidDataException>(() => mismatched.LoadCheckpoint(new MemoryStream(bytes)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(int.MaxValue)]
    public void Versions_this_build_does_not_read_are_refused(int version)
    {
        var (learner, env) = NewLearner();
        using var _ = env;
        var bytes = Save(learner);
        BitConverter.TryWriteBytes(bytes.AsSpan(1 + "MEOWCKPT".Length), version);
        var e = Assert.Throws<InvalidDataException>(() => learner.LoadCheckpoint(new MemoryStream(bytes)));
        Assert.Contains($"version {version}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(-1, 0)]
    [InlineData(int.MaxValue, 0)]
    [InlineData(int.MinValue, 0)]
    [InlineData(0, -1)]
    [InlineData(0, int.MaxValue)]
    public void Dropout_stream_counts_that_do_not_fit_are_refused(int streamsOff, int replicas)
    {
        var (learner, env) = NewLearner();
        using var _ = env;
        learner.Run(60);
        var bytes = Save(learner);
        var (start, _, perNetwork) = DropoutSection(bytes);
        Assert.Equal(learner.Meow().Policy.DropoutStreams().Count, perNetwork);
        BitConverter.TryWriteBytes(bytes.AsSpan(start), unchecked(perNetwork + streamsOff));
        BitConverter.TryWriteBytes(bytes.AsSpan(start + 4 + perNetwork * RngStateBytes), replicas);
        var e = Assert.Throws<InvalidDataException>(() => learner.LoadCheckpoint(new MemoryStream(bytes)));
        if (streamsOff != 0) Assert.Contains("dropout streams", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupted_checkpoints_load_or_are_refused_never_anything_else()
    {
        var (learner, env) = NewLearner();
        using var _ = env;
        learner.Run(60);
        var bytes = Save(learner);
        var rng = new Rng(7);
        int Below(int n) => (int)(rng.NextUInt64() % (ulong)n);
        for (var trial = 0; trial < 400; trial++)
        {
            var corrupted = (byte[])bytes.Clone();
            for (var k = 1 + Below(3); k > 0; k--) corrupted[Below(corrupted.Length)] = (byte)Below(256);
            try
            {
                learner.LoadCheckpoint(new MemoryStream(corrupted));
            }
            catch (InvalidDataException)
            {
            }
        }
    }
}
