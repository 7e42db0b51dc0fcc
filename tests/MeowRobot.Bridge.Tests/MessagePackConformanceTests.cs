using System.Globalization;
using System.Numerics;
using System.Text.Json;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>kawanet/msgpack-test-suite (../shared/conformance/msgpack): every listed encoding of each value decodes to
/// it, and the writer produces a shortest listed encoding.</summary>
public sealed class MessagePackConformanceTests
{
    private sealed record Case(string Group, int Index, JsonElement Json, byte[][] Encodings);

    private static IEnumerable<Case> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(SharedMaterial.MsgPackConformanceFile));
        foreach (var group in doc.RootElement.EnumerateObject())
        {
            var i = 0;
            foreach (var c in group.Value.EnumerateArray())
            {
                var encodings = c.GetProperty("msgpack").EnumerateArray().Select(e => Unhex(e.GetString()!)).ToArray();
                yield return new Case(group.Name, i++, c.Clone(), encodings);
            }
        }
    }

    [RequiresFact(Requirement.MsgPackConformance)]
    public void Every_listed_encoding_decodes_to_the_value()
    {
        var checkedEncodings = 0;
        foreach (var c in Cases())
        {
            foreach (var encoding in c.Encodings)
            {
                var where = $"{c.Group}#{c.Index} {MessagePackTree.Hex(encoding)}";
                MsgPackReader.ValidateSingleValue(encoding);
                var r = new MsgPackReader(encoding);
                AssertDecodes(ref r, c.Json, where);
                Assert.True(r.End, where + ": bytes left over");
                checkedEncodings++;
            }
        }
        Assert.True(checkedEncodings > 150, $"only {checkedEncodings} encodings in the suite");
    }

    [RequiresFact(Requirement.MsgPackConformance)]
    public void The_writer_produces_the_shortest_listed_encoding()
    {
        foreach (var c in Cases())
        {
            var written = MessagePackTree.Encode(ExpectedTree(c.Json));
            // Shortest among the encodings of the written type (an integer is not written as a float even where float 32
            // is shorter); ties exist (int64 max: d3 and cf, both 9 bytes; msgpack-python writes cf as we do).
            var type = new MsgPackReader(written).PeekType();
            var shortest = c.Encodings.Where(e => new MsgPackReader(e).PeekType() == type).Min(e => e.Length);
            Assert.True(written.Length == shortest && c.Encodings.Any(e => e.AsSpan().SequenceEqual(written)),
                $"{c.Group}#{c.Index}: wrote {MessagePackTree.Hex(written)}, shortest listed is {MessagePackTree.Hex(c.Encodings[0])}");
        }
    }

    /// <summary>The case's value as a tree the writer encodes shortest: integers as integers, fractions as float 32 when
    /// exact (the suite lists float 32 first), else float 64.</summary>
    private static object? ExpectedTree(JsonElement c)
    {
        if (c.TryGetProperty("nil", out _)) return null;
        if (c.TryGetProperty("bool", out var b)) return b.GetBoolean();
        if (c.TryGetProperty("binary", out var bin)) return Unhex(bin.GetString()!);
        if (c.TryGetProperty("bignum", out var big)) return Integer(BigInteger.Parse(big.GetString()!, CultureInfo.InvariantCulture));
        if (c.TryGetProperty("number", out var n)) return Number(n);
        if (c.TryGetProperty("string", out var s)) return s.GetString();
        if (c.TryGetProperty("timestamp", out var t)) return new MsgPackTimestamp(t[0].GetInt64(), t[1].GetUInt32());
        if (c.TryGetProperty("ext", out var e)) return new MessagePackTree.Ext((sbyte)e[0].GetInt32(), Unhex(e[1].GetString()!));
        if (c.TryGetProperty("array", out var a)) return Json(a);
        if (c.TryGetProperty("map", out var m)) return Json(m);
        throw new InvalidDataException("unknown case " + c);
    }

    private static object? Json(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => Number(e),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Array => e.EnumerateArray().Select(Json).ToArray(),
        JsonValueKind.Object => new MessagePackTree.MapEntries(
            e.EnumerateObject().Select(p => new KeyValuePair<object?, object?>(p.Name, Json(p.Value))).ToArray()),
        _ => throw new InvalidDataException(e.ToString()),
    };

    private static object Number(JsonElement n)
    {
        if (n.TryGetInt64(out var l)) return l;
        var d = n.GetDouble();
        return (double)(float)d == d ? (object)(float)d : d;
    }

    private static object Integer(BigInteger v) => v > long.MaxValue ? (object)(ulong)v : (long)v;

    private static void AssertDecodes(ref MsgPackReader r, JsonElement c, string where)
    {
        if (c.TryGetProperty("bignum", out var big))
        {
            var expected = BigInteger.Parse(big.GetString()!, CultureInfo.InvariantCulture);
            if (r.PeekType() == MsgPackType.Float)
                Assert.Equal((double)expected, r.ReadDouble());
            else if (expected > long.MaxValue)
                Assert.Equal((ulong)expected, r.ReadUInt64());
            else
                Assert.Equal((long)expected, r.ReadInt64());
            return;
        }
        if (c.TryGetProperty("number", out var n))
        {
            if (r.PeekType() == MsgPackType.Integer) Assert.Equal(n.GetInt64(), r.ReadInt64());
            else Assert.Equal(n.GetDouble(), r.ReadDouble());
            return;
        }
        if (c.TryGetProperty("string", out var s))
        {
            var expected = s.GetString()!;
            Assert.True(System.Text.Encoding.UTF8.GetBytes(expected).AsSpan().SequenceEqual(r.ReadStringSpan()), where);
            return;
        }
        // The remaining kinds have one obvious tree; compare structurally (strings decoded with validation).
        var actual = MessagePackTree.Read(ref r);
        var tree = ExpectedTree(c);
        Assert.True(MessagePackTree.Same(Widen(tree), Widen(actual)), $"{where}: decoded {Show(actual)}, expected {Show(tree)}");
    }

    // Numbers inside arrays/maps compare by value, whatever width encoded them.
    private static object? Widen(object? v) => v switch
    {
        float f => (double)f,
        long l => (double)l,
        object?[] a => a.Select(Widen).ToArray(),
        MessagePackTree.MapEntries m => new MessagePackTree.MapEntries(
            m.Entries.Select(p => new KeyValuePair<object?, object?>(Widen(p.Key), Widen(p.Value))).ToArray()),
        _ => v,
    };

    private static string Show(object? v) => v switch
    {
        null => "nil",
        object?[] a => "[" + string.Join(",", a.Select(Show)) + "]",
        MessagePackTree.MapEntries m => "{" + string.Join(",", m.Entries.Select(p => Show(p.Key) + ":" + Show(p.Value))) + "}",
        byte[] b => "bin " + MessagePackTree.Hex(b),
        _ => v.ToString() ?? "",
    };

    private static byte[] Unhex(string dashed) =>
        dashed.Length == 0 ? [] : dashed.Split('-').Select(h => byte.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
}
