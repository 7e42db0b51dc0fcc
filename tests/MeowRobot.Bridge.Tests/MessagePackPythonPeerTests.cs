using System.Buffers;
using System.Diagnostics;
using FsCheck.Fluent;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>Round trips against an independent implementation: Debian's msgpack-python.</summary>
public sealed class MessagePackPythonPeerTests
{
    // Unpacks a stream of values and packs each again (use_bin_type: str stays str, bytes stays bin; Timestamp and
    // ExtType objects round-trip to ext), writing the concatenation.
    private const string Repack = """
        import sys, msgpack
        data = sys.stdin.buffer.read()
        u = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=len(data) + 1)
        u.feed(data)
        sys.stdout.buffer.write(b"".join(msgpack.packb(o, use_bin_type=True) for o in u))
        """;

    // Random values of every kind python can produce, packed one after another.
    private const string Generate = """
        import sys, random, msgpack, struct
        rnd = random.Random(int(sys.argv[1]))
        def text():
            alphabet = "az09 _~\u00e9\u00df\u0416\u4e2d\u20ac\u2764\U0001F431"
            return "".join(rnd.choice(alphabet) for _ in range(rnd.choice([0, 1, 5, 31, 32, 200, 300])))
        def integer():
            bits = rnd.randint(0, 64)
            v = rnd.getrandbits(bits) if bits else 0
            return v if v < 2**63 and rnd.random() < 0.5 else (-v if v <= 2**63 else v)
        def double():
            d = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
            return d if d == d and abs(d) != float("inf") else 0.25
        def scalar():
            k = rnd.randrange(9)
            if k == 0: return None
            if k == 1: return rnd.random() < 0.5
            if k == 2: return integer()
            if k == 3: return double()
            if k == 4: return text()
            if k == 5: return rnd.randbytes(rnd.choice([0, 3, 255, 256, 70000]))
            if k == 6: return msgpack.ExtType(rnd.randint(0, 127), rnd.randbytes(rnd.choice([1, 2, 3, 4, 8, 16, 17, 300])))
            if k == 7: return msgpack.Timestamp(rnd.randint(-2**40, 2**40), rnd.randint(0, 999999999) if rnd.random() < 0.7 else 0)
            return integer()
        def value(depth):
            k = rnd.randrange(8) if depth < 3 else 0
            if k == 6: return [value(depth + 1) for _ in range(rnd.choice([0, 2, 15, 16, 40]))]
            if k == 7: return {(text() if rnd.random() < 0.8 else integer()): value(depth + 1) for _ in range(rnd.choice([0, 2, 15, 16, 20]))}
            return scalar()
        sys.stdout.buffer.write(b"".join(msgpack.packb(value(0), use_bin_type=True) for _ in range(int(sys.argv[2]))))
        """;

    [RequiresFact(Requirement.PythonPeer)]
    public void Python_repacks_our_encodings_byte_for_byte()
    {
        var values = MessagePackGen.Tree(pythonCompatible: true).Sample(300, 25).ToArray();
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MsgPackWriter(buffer);
        foreach (var v in values) MessagePackTree.Write(ref w, v);
        var ours = buffer.WrittenSpan.ToArray();

        var theirs = RunPython(Repack, [], ours);

        // both minimise the same way, so identical bytes mean python read every value as we meant it
        if (!ours.AsSpan().SequenceEqual(theirs))
        {
            var r = new MsgPackReader(theirs);
            for (var i = 0; i < values.Length; i++)
            {
                var start = r.Position;
                var back = MessagePackTree.Read(ref r);
                Assert.True(MessagePackTree.Same(values[i], back),
                    $"value {i}: ours {MessagePackTree.Hex(MessagePackTree.Encode(values[i]))}, python {MessagePackTree.Hex(theirs.AsSpan(start, r.Position - start))}");
            }
            Assert.Fail("byte streams differ though every value matches");
        }
    }

    [RequiresFact(Requirement.PythonPeer)]
    public void We_read_and_rewrite_pythons_encodings_byte_for_byte()
    {
        const int count = 400;
        var theirs = RunPython(Generate, ["20261121", count.ToString(System.Globalization.CultureInfo.InvariantCulture)], []);
        var r = new MsgPackReader(theirs);
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MsgPackWriter(buffer);
        var n = 0;
        while (!r.End)
        {
            var start = r.Position;
            var value = MessagePackTree.Read(ref r);
            var written = buffer.WrittenCount;
            MessagePackTree.Write(ref w, value);
            Assert.True(theirs.AsSpan(start, r.Position - start).SequenceEqual(buffer.WrittenSpan[written..]),
                $"value {n}: python {MessagePackTree.Hex(theirs.AsSpan(start, r.Position - start))}, ours {MessagePackTree.Hex(buffer.WrittenSpan[written..])}");
            n++;
        }
        Assert.Equal(count, n);
    }

    private static byte[] RunPython(string script, string[] args, byte[] stdin)
    {
        var psi = new ProcessStartInfo(Requirements.DebianPython)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        p.StandardInput.BaseStream.Write(stdin);
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), "python did not finish");
        copy.Wait(TimeSpan.FromSeconds(10));
        Assert.True(p.ExitCode == 0, "python failed: " + stderr.Result);
        return stdout.ToArray();
    }
}
