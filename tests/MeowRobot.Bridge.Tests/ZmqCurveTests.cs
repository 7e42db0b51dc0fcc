using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using System.Text;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>CURVE keys, Z85 against RFC 32 and libzmq, key files, and the ZAP allow-list over real tcp sockets.</summary>
public sealed class ZmqCurveTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    // Long enough for a refused or failed handshake to have happened many times over on loopback (reconnects every 100 ms).
    private static readonly TimeSpan Silence = TimeSpan.FromMilliseconds(400);

    private readonly ZmqContext _context = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("meow-curve-").FullName;

    public void Dispose()
    {
        _context.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Z85_matches_the_RFC_32_test_vector()
    {
        byte[] data = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        Assert.Equal("HelloWorld", Z85.Encode(data));
        Assert.Equal(data, Z85.Decode("HelloWorld"));
    }

    [Theory]
    [InlineData("Hell~")]   // '~' is not in the alphabet
    [InlineData("Hell")]    // not a multiple of 5
    [InlineData("%%%%%")]   // 84*(85^4+85^3+85^2+85+1) > 2^32-1
    [InlineData("Hello\u00e9orld")]
    public void Z85_rejects_invalid_text(string text)
    {
        Assert.False(Z85.TryDecode(text, new byte[8], out _));
        Assert.Throws<FormatException>(() => Z85.Decode(text));
    }

    [Fact]
    public void Z85_decoding_of_arbitrary_text_never_throws_and_accepted_text_re_encodes_identically()
    {
        const string chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#~ \u00e9";
        var text =
            from groups in Gen.Choose(0, 4)
            from extra in Gen.Frequency((6, Gen.Constant(0)), (1, Gen.Choose(1, 4))) // lengths not a multiple of 5
            from c in Gen.ArrayOf(Gen.Elements(chars.ToCharArray()), groups * 5 + extra)
            select new string(c);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(2000), Prop.ForAll(Arb.From(text), t =>
        {
            var bytes = new byte[t.Length / 5 * 4];
            return !Z85.TryDecode(t, bytes, out var n) || (n == bytes.Length && Z85.Encode(bytes) == t);
        }));
    }

    [RequiresFact(Requirement.LibZmq)]
    public unsafe void Z85_agrees_with_libzmq_on_random_data()
    {
        var rnd = new Random(85);
        for (var round = 0; round < 200; round++)
        {
            var data = new byte[4 * rnd.Next(0, 20)];
            rnd.NextBytes(data);
            var text = new byte[data.Length / 4 * 5 + 1];
            fixed (byte* d = data, t = text)
            {
                Assert.True(ZmqNative.Z85Encode(t, d, (nuint)data.Length) != null);
            }
            var theirs = Encoding.ASCII.GetString(text, 0, text.Length - 1);
            Assert.Equal(theirs, Z85.Encode(data));
            Assert.Equal(data, Z85.Decode(theirs));
        }
    }

    [RequiresFact(Requirement.LibZmq)]
    public void The_public_key_derives_from_the_secret_key()
    {
        var pair = ZmqCurveKeyPair.Generate();
        Assert.Equal(32, pair.PublicKey.Length);
        Assert.False(pair.PublicKey.SequenceEqual(pair.SecretKey));
        Assert.True(ZmqCurveKeyPair.FromSecretKey(pair.SecretKey).PublicKey.SequenceEqual(pair.PublicKey));
        Assert.False(ZmqCurveKeyPair.Generate().PublicKey.SequenceEqual(pair.PublicKey));
    }

    [RequiresFact(Requirement.LibZmq)]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Key_files_round_trip_and_an_open_secret_file_is_refused()
    {
        var pair = ZmqCurveKeyPair.Generate();
        var secret = Path.Combine(_dir, "server.secret");
        var pub = Path.Combine(_dir, "server.public");
        pair.Save(secret, pub);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));
        Assert.True(ZmqCurveKeyPair.Load(secret, pub).PublicKey.SequenceEqual(pair.PublicKey));
        Assert.Equal(pair.PublicKey.ToArray(), ZmqCurveKeyPair.LoadPublicKey(pub));
        Assert.Contains(pair.PublicKeyZ85, File.ReadAllText(pub), StringComparison.Ordinal);

        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var e = Assert.Throws<ZmqKeyFileException>(() => ZmqCurveKeyPair.Load(secret));
        Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var other = Path.Combine(_dir, "other.public");
        ZmqCurveKeyPair.Generate().Save(Path.Combine(_dir, "other.secret"), other);
        Assert.Throws<ZmqKeyFileException>(() => ZmqCurveKeyPair.Load(secret, other)); // mismatched pair

        var bad = Path.Combine(_dir, "bad.public");
        File.WriteAllText(bad, "# a comment\nnot-a-key\n");
        Assert.Throws<ZmqKeyFileException>(() => ZmqCurveKeyPair.LoadPublicKey(bad));
        Assert.Throws<ZmqKeyFileException>(() => ZmqCurveKeyPair.LoadPublicKey(Path.Combine(_dir, "missing.public")));
        // Paths come from configuration: empty, blank or NUL-bearing ones are key file errors, not ArgumentExceptions.
        foreach (var unusable in new[] { "", "  ", "keys/a\0b.public" })
        {
            Assert.Throws<ZmqKeyFileException>(() => ZmqCurveKeyPair.LoadPublicKey(unusable));
            Assert.Throws<ZmqKeyFileException>(() => ZmqCurveKeyPair.Load(unusable));
        }
    }

    private (ZmqSocket Server, string Endpoint) CurveServer(ZmqCurveKeyPair keys)
    {
        var server = _context.CreateSocket(ZmqSocketType.Router);
        server.MakeCurveServer(keys);
        Assert.True(server.IsCurveServer);
        server.Bind("tcp://127.0.0.1:*");
        return (server, server.LastEndpoint);
    }

    private ZmqSocket CurveClient(ZmqCurveKeyPair keys, ReadOnlySpan<byte> serverKey, string endpoint)
    {
        var client = _context.CreateSocket(ZmqSocketType.Dealer);
        client.MakeCurveClient(keys, serverKey);
        client.Connect(endpoint);
        client.Send("hello"u8);
        return client;
    }

    [RequiresFact(Requirement.LibZmq)]
    public void An_allow_listed_client_talks_to_a_curve_server()
    {
        var serverKeys = ZmqCurveKeyPair.Generate();
        var clientKeys = ZmqCurveKeyPair.Generate();
        using var zap = new ZmqZapHandler(_context, [clientKeys.PublicKey.ToArray()]);
        var (server, endpoint) = CurveServer(serverKeys);
        using var _ = server;
        using var client = CurveClient(clientKeys, serverKeys.PublicKey, endpoint);

        Assert.True(server.Poll(ZmqPollEvents.In, Patience).HasFlag(ZmqPollEvents.In));
        var frames = server.ReceiveMultipart();
        Assert.Equal("hello"u8.ToArray(), frames[^1]);
        server.SendMultipart([frames[0], "welcome"u8.ToArray()]);
        Assert.True(client.Poll(ZmqPollEvents.In, Patience).HasFlag(ZmqPollEvents.In));
        Assert.Equal("welcome"u8.ToArray(), client.ReceiveFrame());
        Assert.Equal(1, zap.Accepted);
        Assert.Equal(0, zap.Denied);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_client_whose_key_is_not_allowed_is_never_heard()
    {
        var serverKeys = ZmqCurveKeyPair.Generate();
        var strangerKeys = ZmqCurveKeyPair.Generate();
        using var zap = new ZmqZapHandler(_context, [ZmqCurveKeyPair.Generate().PublicKey.ToArray()]);
        var (server, endpoint) = CurveServer(serverKeys);
        using var _ = server;
        using var stranger = CurveClient(strangerKeys, serverKeys.PublicKey, endpoint);

        Assert.True(SpinWait.SpinUntil(() => zap.Denied > 0, Patience), "the handler was never asked");
        Assert.Equal(ZmqPollEvents.None, server.Poll(ZmqPollEvents.In, Silence));
        Assert.Equal(0, zap.Accepted);

        // allowed afterwards, a client with the same keys gets through: the key was the only reason (the refused
        // connection itself does not retry: libzmq treats a 400 as final)
        zap.Allow(strangerKeys.PublicKey.ToArray());
        using var again = CurveClient(strangerKeys, serverKeys.PublicKey, endpoint);
        Assert.True(server.Poll(ZmqPollEvents.In, Patience).HasFlag(ZmqPollEvents.In), "not admitted after Allow");
        Assert.Equal("hello"u8.ToArray(), server.ReceiveMultipart()[^1]);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_client_with_the_wrong_server_key_never_connects()
    {
        var serverKeys = ZmqCurveKeyPair.Generate();
        var clientKeys = ZmqCurveKeyPair.Generate();
        using var zap = new ZmqZapHandler(_context, [clientKeys.PublicKey.ToArray()]);
        var (server, endpoint) = CurveServer(serverKeys);
        using var _ = server;
        using var client = CurveClient(clientKeys, ZmqCurveKeyPair.Generate().PublicKey, endpoint);

        Assert.Equal(ZmqPollEvents.None, server.Poll(ZmqPollEvents.In, Silence));
        Assert.Equal(0, zap.Accepted); // the server could not even read the client's hello
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Without_a_zap_handler_a_curve_server_refuses_everyone()
    {
        var serverKeys = ZmqCurveKeyPair.Generate();
        var (server, endpoint) = CurveServer(serverKeys); // ZAP_ENFORCE_DOMAIN is on
        using var _ = server;
        using var client = CurveClient(ZmqCurveKeyPair.Generate(), serverKeys.PublicKey, endpoint);
        Assert.Equal(ZmqPollEvents.None, server.Poll(ZmqPollEvents.In, Silence));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void The_zap_handler_stops_on_dispose_and_on_context_shutdown()
    {
        var watch = Stopwatch.StartNew();
        new ZmqZapHandler(_context, []).Dispose();
        using var again = new ZmqZapHandler(_context, []); // the endpoint was released
        var context = new ZmqContext();
        var zap = new ZmqZapHandler(context, []);
        context.Dispose();
        zap.Dispose();
        Assert.True(watch.Elapsed < Patience);
        Assert.Throws<ZmqException>(() => new ZmqZapHandler(_context, [])); // one per context: endpoint in use
    }
}
