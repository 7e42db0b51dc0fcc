using System.Buffers;
using MeowRobot.Bridge.MessagePack;

namespace MeowRobot.Bridge.Tests;

/// <summary>A generic MessagePack value for tests (the codec itself never builds trees): null, bool, long, ulong (above
/// Int64.MaxValue only), float, double, string, byte[], object?[] (array), MapEntries (map), Ext, MsgPackTimestamp.</summary>
internal static class MessagePackTree
{
    internal sealed record MapEntries(KeyValuePair<object?, object?>[] Entries);

    internal sealed record Ext(sbyte Type, byte[] Data);

    public static object? Read(ref MsgPackReader r)
    {
        switch (r.PeekType())
        {
            case MsgPackType.Nil: r.ReadNil(); return null;
            case MsgPackType.Boolean: return r.ReadBoolean();
            case MsgPackType.Integer:
                var probe = r;
                try { return r.ReadInt64(); }
                catch (MsgPackException e) when (e.Kind == MsgPackErrorKind.IntegerOverflow) { r = probe; return r.ReadUInt64(); }
            case MsgPackType.Float:
                return r.Buffer[r.Position] == 0xca ? (object)r.ReadSingle() : r.ReadDouble();
            case MsgPackType.String: return r.ReadString();
            case MsgPackType.Binary: return r.ReadBinary().ToArray();
            case MsgPackType.Array:
            {
                var n = r.ReadArrayHeader();
                r.EnterContainer();
                var items = new object?[n];
                for (var i = 0; i < n; i++) items[i] = Read(ref r);
                r.ExitContainer();
                return items;
            }
            case MsgPackType.Map:
            {
                var n = r.ReadMapHeader();
                r.EnterContainer();
                var entries = new KeyValuePair<object?, object?>[n];
                for (var i = 0; i < n; i++)
                {
                    var k = Read(ref r);
                    entries[i] = new(k, Read(ref r));
                }
                r.ExitContainer();
                return new MapEntries(entries);
            }
            default:
                if (r.TryReadTimestamp(out var t)) return t;
                var data = r.ReadExtension(out var type);
                return new Ext(type, data.ToArray());
        }
    }

    public static object? Decode(ReadOnlySpan<byte> bytes, MsgPackReaderOptions options = default)
    {
        var r = new MsgPackReader(bytes, options);
        return Read(ref r);
    }

    public static void Write(ref MsgPackWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNil(); break;
            case bool b: w.Write(b); break;
            case long l: w.Write(l); break;
            case ulong u: w.Write(u); break;
            case float f: w.Write(f); break;
            case double d: w.Write(d); break;
            case string s: w.Write(s); break;
            case byte[] bytes: w.WriteBinary(bytes); break;
            case object?[] items:
                w.WriteArrayHeader(items.Length);
                foreach (var item in items) Write(ref w, item);
                break;
            case MapEntries map:
                w.WriteMapHeader(map.Entries.Length);
                foreach (var (k, v) in map.Entries) { Write(ref w, k); Write(ref w, v); }
                break;
            case Ext e: w.WriteExtension(e.Type, e.Data); break;
            case MsgPackTimestamp t: w.Write(t); break;
            default: throw new ArgumentException("not a tree value: " + value.GetType());
        }
    }

    public static byte[] Encode(object? value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MsgPackWriter(buffer);
        Write(ref w, value);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Structural equality; floats compare by bits (NaN payloads and -0 included).</summary>
    public static bool Same(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (float x, float y) => BitConverter.SingleToInt32Bits(x) == BitConverter.SingleToInt32Bits(y),
        (double x, double y) => BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y),
        (byte[] x, byte[] y) => x.AsSpan().SequenceEqual(y),
        (object?[] x, object?[] y) => x.Length == y.Length && x.Zip(y).All(p => Same(p.First, p.Second)),
        (MapEntries x, MapEntries y) => x.Entries.Length == y.Entries.Length
            && x.Entries.Zip(y.Entries).All(p => Same(p.First.Key, p.Second.Key) && Same(p.First.Value, p.Second.Value)),
        (Ext x, Ext y) => x.Type == y.Type && x.Data.AsSpan().SequenceEqual(y.Data),
        _ => Equals(a, b),
    };

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
