using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Bridge.MessagePack;

namespace MeowRobot.Bridge.Tests;

/// <summary>Properties: writing then reading is the identity, and hostile bytes (random, mutated valid encodings, deep
/// nesting) only ever produce <see cref="MsgPackException"/> with bounded allocation.</summary>
public sealed class MessagePackPropertyTests
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(400);

    [Fact]
    public void Write_then_read_is_the_identity_for_random_value_trees()
    {
        var prop = Prop.ForAll(Arb.From(MessagePackGen.Tree(pythonCompatible: false)), value =>
        {
            var bytes = MessagePackTree.Encode(value);
            MsgPackReader.ValidateSingleValue(bytes, new MsgPackReaderOptions { MaxDepth = MsgPackReaderOptions.MaxAllowedDepth });
            var r = new MsgPackReader(bytes);
            var decoded = MessagePackTree.Read(ref r);
            Assert.True(r.End && MessagePackTree.Same(value, decoded), "round trip differs for " + MessagePackTree.Hex(bytes));
        });
        Check.One(Quick, prop);
    }

    [Fact]
    public void Skip_and_ReadRaw_cover_exactly_one_value()
    {
        var prop = Prop.ForAll(Arb.From(MessagePackGen.Tree(pythonCompatible: false)), value =>
        {
            var one = MessagePackTree.Encode(value);
            var two = one.Concat(MessagePackTree.Encode(7L)).ToArray();
            var r = new MsgPackReader(two);
            var raw = r.ReadRaw();
            return raw.SequenceEqual(one) && r.ReadInt64() == 7 && r.End;
        });
        Check.One(Quick, prop);
    }

    [Fact]
    public void Random_bytes_are_rejected_only_with_MsgPackException()
    {
        var bytes = Gen.Sized(size => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), Math.Min(size, 64)));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(3000), Prop.ForAll(Arb.From(bytes), input => Hostile(input)));
    }

    [Fact]
    public void Mutated_valid_encodings_are_rejected_only_with_MsgPackException()
    {
        var mutated =
            from value in MessagePackGen.Tree(pythonCompatible: false)
            let bytes = MessagePackTree.Encode(value)
            from at in Gen.Choose(0, bytes.Length - 1)
            from kind in Gen.Choose(0, 3)
            from b in Gen.Choose(0, 255)
            select Mutate(bytes, at, kind, (byte)b);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(2000), Prop.ForAll(Arb.From(mutated), input => Hostile(input)));
    }

    private static byte[] Mutate(byte[] bytes, int at, int kind, byte b) => kind switch
    {
        0 => [.. bytes[..at], b, .. bytes[(at + 1)..]],            // replace a byte
        1 => bytes[..at],                                           // truncate
        2 => [.. bytes[..at], b, .. bytes[at..]],                   // insert a byte
        _ => [.. bytes[..at], (byte)(bytes[at] ^ 0x80), .. bytes[(at + 1)..]], // flip a high bit (type/length bytes)
    };

    /// <summary>Validation, generic decoding and Skip either succeed or throw MsgPackException; none allocates more than a
    /// small constant (the exception) beyond what decoding produces, and validation allocates nothing on success.</summary>
    private static bool Hostile(byte[] input)
    {
        var valid = false;
        var validationAllocated = SteadyAllocation(() => valid = MsgPackReader.IsSingleValue(input));
        if (valid && validationAllocated != 0) return false;
        if (validationAllocated > 16 * 1024) return false;

        var skipped = false;
        var skipAllocated = SteadyAllocation(() => skipped = TrySkip(input));
        if (skipped && skipAllocated != 0) return false;

        // a decoded tree is at most a small multiple of its encoding (arrays of nil: 8 bytes of reference per byte)
        return SteadyAllocation(() =>
        {
            try { MessagePackTree.Decode(input); }
            catch (MsgPackException) { }
            return true;
        }) <= 64 * 1024 + 64L * input.Length;
    }

    private static bool TrySkip(byte[] input)
    {
        try
        {
            var r = new MsgPackReader(input);
            r.Skip();
            return true;
        }
        catch (MsgPackException) { return false; }
    }

    /// <summary>
    /// Bytes <paramref name="action"/> allocates on this thread, counted only when a second identical call allocates again:
    /// the runtime now and then counts bytes once against the calling thread that the code did not allocate (a background
    /// collection started by another test retires this thread's allocation buffer; a method is promoted to optimised
    /// code), which made these checks fail at random (once in the third session's fresh-clone CI runs).
    /// </summary>
    private static long SteadyAllocation(Func<bool> action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        if (GC.GetAllocatedBytesForCurrentThread() == before) return 0;
        before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Theory]
    [InlineData(new byte[] { 0xdd, 0xff, 0xff, 0xff, 0xff })]            // array32 of 4 G values, nothing follows
    [InlineData(new byte[] { 0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0 })]      // map32 of 2 G pairs
    [InlineData(new byte[] { 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00 })]      // bin32 of 4 GiB
    [InlineData(new byte[] { 0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61 })]      // str32 of 2 GiB
    [InlineData(new byte[] { 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01 })]      // ext32 of 4 GiB
    [InlineData(new byte[] { 0xde, 0x00, 0x02, 0xc0, 0xc0, 0xc0 })]      // map16 of 2 pairs in 3 bytes
    public void Length_prefixes_beyond_the_input_are_rejected_before_allocating(byte[] input)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<MsgPackException>(() => MessagePackTree.Decode(input));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
        Assert.Equal(MsgPackErrorKind.LengthExceedsInput, e.Kind);
        Assert.Equal(0, e.Offset);
    }

    [Fact]
    public void Deep_nesting_is_rejected_without_stack_overflow()
    {
        // Far deeper than any stack could recurse: both the iterative walk and a recursive consumer stop at the limit.
        var deep = Enumerable.Repeat((byte)0x91, 1_000_000).Append((byte)0xc0).ToArray();
        var e = Assert.Throws<MsgPackException>(() => MsgPackReader.ValidateSingleValue(deep));
        Assert.Equal(MsgPackErrorKind.DepthExceeded, e.Kind);
        Assert.Equal(MsgPackReaderOptions.DefaultMaxDepth, e.Offset); // the 65th array header
        e = Assert.Throws<MsgPackException>(() => MessagePackTree.Decode(deep, new MsgPackReaderOptions { MaxDepth = 500 }));
        Assert.Equal(MsgPackErrorKind.DepthExceeded, e.Kind);
        var deepMaps = Enumerable.Repeat(new byte[] { 0x81, 0xc0 }, 100_000).SelectMany(b => b).Append((byte)0xc0).ToArray();
        Assert.Equal(MsgPackErrorKind.DepthExceeded, Assert.Throws<MsgPackException>(() => MsgPackReader.ValidateSingleValue(deepMaps)).Kind);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(500)]
    public void Nesting_up_to_the_limit_is_accepted_and_one_more_is_not(int maxDepth)
    {
        var options = new MsgPackReaderOptions { MaxDepth = maxDepth };
        var atLimit = Enumerable.Repeat((byte)0x91, maxDepth).Append((byte)0x2a).ToArray();
        MsgPackReader.ValidateSingleValue(atLimit, options);
        Assert.NotNull(MessagePackTree.Decode(atLimit, options));
        var beyond = Enumerable.Repeat((byte)0x91, maxDepth + 1).Append((byte)0x2a).ToArray();
        Assert.False(MsgPackReader.IsSingleValue(beyond, options));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MsgPackReaderOptions { MaxDepth = 501 });
    }
}
