using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Bridge.MessagePack;

namespace MeowRobot.Bridge.Tests;

/// <summary>FsCheck generators of <see cref="MessagePackTree"/> values covering every format family and length class.</summary>
internal static class MessagePackGen
{
    private static readonly char[] Alphabet = "aZ09 _-~\u00e9\u00df\u0416\u4e2d\u20ac\u2764".ToCharArray();
    private static readonly string[] Astral = ["\U0001F431", "\U0001F916", "\U00010348"];

    public static Gen<long> Int64 { get; } =
        from hi in Gen.Choose(int.MinValue, int.MaxValue)
        from lo in Gen.Choose(int.MinValue, int.MaxValue)
        from shift in Gen.Choose(0, 63)
        select ((long)hi << 32 | (uint)lo) >> shift; // arithmetic shift: every magnitude, both signs

    public static Gen<ulong> UInt64High { get; } = Int64.Select(l => (ulong)l | 0x8000_0000_0000_0000UL);

    /// <summary>Finite doubles of all magnitudes, plus the special values.</summary>
    public static Gen<double> Double { get; } = Gen.Frequency(
        (8, from hi in Gen.Choose(int.MinValue, int.MaxValue)
            from lo in Gen.Choose(int.MinValue, int.MaxValue)
            let d = BitConverter.Int64BitsToDouble((long)hi << 32 | (uint)lo)
            select double.IsFinite(d) ? d : 1.5),
        (1, Gen.Elements(0.0, -0.0, double.NaN, double.PositiveInfinity, double.Epsilon, double.MaxValue)));

    public static Gen<string> Text { get; } =
        from length in Gen.Frequency((6, Gen.Choose(0, 40)), (1, Gen.Choose(200, 300)))
        from pieces in Gen.ArrayOf(Gen.Frequency((10, Gen.Elements(Alphabet).Select(c => c.ToString())), (1, Gen.Elements(Astral))), length)
        select string.Concat(pieces);

    public static Gen<byte[]> Bytes { get; } =
        from length in Gen.Frequency((6, Gen.Choose(0, 40)), (1, Gen.Choose(250, 300)))
        from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length)
        select bytes;

    public static Gen<MsgPackTimestamp> Timestamp { get; } =
        from seconds in Int64
        from nanos in Gen.Frequency((1, Gen.Constant(0)), (2, Gen.Choose(0, (int)MsgPackTimestamp.MaxNanoseconds)))
        select new MsgPackTimestamp(seconds, (uint)nanos);

    /// <param name="pythonCompatible">no float 32 (python widens it) and no reserved ext types (python's ExtType refuses them)</param>
    public static Gen<object?> Scalar(bool pythonCompatible) => Gen.Frequency(
        (1, Gen.Constant<object?>(null)),
        (1, Gen.Elements<object?>(true, false)),
        (6, Int64.Select(l => (object?)l)),
        (1, UInt64High.Select(u => (object?)u)),
        (pythonCompatible ? 0 : 1, Double.Select(d => (object?)(float)d)),
        (2, Double.Select(d => (object?)d)),
        (4, Text.Select(s => (object?)s)),
        (2, Bytes.Select(b => (object?)b)),
        (1, from type in Gen.Choose(pythonCompatible ? 0 : -128, 127).Where(t => t != -1)
            from data in Bytes
            select (object?)new MessagePackTree.Ext((sbyte)type, data)),
        (1, Timestamp.Select(t => (object?)t)));

    /// <summary>Trees of scalars, arrays and maps. Map keys are distinct strings or integers (what every peer accepts).</summary>
    public static Gen<object?> Tree(bool pythonCompatible) => Gen.Sized(size => TreeOfSize(pythonCompatible, Math.Min(size, 40)));

    private static Gen<object?> TreeOfSize(bool pythonCompatible, int size)
    {
        if (size <= 1) return Scalar(pythonCompatible);
        var child = Gen.Sized(_ => TreeOfSize(pythonCompatible, size / 3));
        return Gen.Frequency(
            (3, Scalar(pythonCompatible)),
            (1, from n in Gen.Frequency((5, Gen.Choose(0, 6)), (1, Gen.Choose(15, 20)))
                from items in Gen.ArrayOf(child, n)
                select (object?)items),
            (1, from n in Gen.Frequency((5, Gen.Choose(0, 6)), (1, Gen.Choose(15, 18)))
                from keys in Gen.ArrayOf(Gen.OneOf(Text.Select(s => (object?)s), Int64.Select(l => (object?)l)), n)
                from values in Gen.ArrayOf(child, n)
                let distinct = keys.Distinct().ToArray()
                select (object?)new MessagePackTree.MapEntries(
                    distinct.Zip(values, (k, v) => new KeyValuePair<object?, object?>(k, v)).ToArray())));
    }
}
