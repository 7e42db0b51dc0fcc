using System.Diagnostics;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Testing;

namespace MeowRobot.Bridge.Tests;

/// <summary>Interoperability with an independent binding (pyzmq): a Python CURVE client against our CURVE server and ZAP
/// handler, and pyzmq's own Z85 implementation against ours.</summary>
public sealed class ZmqPythonPeerTests : IDisposable
{
    // argv: endpoint, server public key, client public key, client secret key (Z85), patience in ms. Sends "ping",
    // prints the reply or "timeout".
    private const string CurveClient = """
        import sys, zmq
        endpoint, server_key, public, secret, patience = sys.argv[1:6]
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.curve_serverkey = server_key.encode()
        s.curve_publickey = public.encode()
        s.curve_secretkey = secret.encode()
        s.connect(endpoint)
        s.send(b"ping")
        print(s.recv().decode() if s.poll(int(patience)) else "timeout", flush=True)
        s.close()
        ctx.term()
        """;

    private readonly ZmqContext _context = new();

    public void Dispose() => _context.Dispose();

    [RequiresFact(Requirement.LibZmq, Requirement.PythonPeer)]
    public void A_pyzmq_curve_client_is_admitted_only_when_allow_listed()
    {
        var serverKeys = ZmqCurveKeyPair.Generate();
        var friend = ZmqCurveKeyPair.Generate();
        var stranger = ZmqCurveKeyPair.Generate();
        using var zap = new ZmqZapHandler(_context, [friend.PublicKey.ToArray()]);
        using var server = _context.CreateSocket(ZmqSocketType.Router);
        server.MakeCurveServer(serverKeys);
        server.Bind("tcp://127.0.0.1:*");
        var endpoint = server.LastEndpoint;

        // The friend: answer its ping on this thread (the socket's owner) while python waits.
        var python = Start(endpoint, serverKeys, friend, patienceMs: 10_000);
        Assert.True(server.Poll(ZmqPollEvents.In, TimeSpan.FromSeconds(10)).HasFlag(ZmqPollEvents.In), "python's ping never arrived");
        var request = server.ReceiveMultipart();
        Assert.Equal("ping"u8.ToArray(), request[^1]);
        server.SendMultipart([request[0], "pong"u8.ToArray()]);
        Assert.Equal("pong", Finish(python));

        // The stranger: refused by the ZAP handler, so python hears nothing and we receive nothing.
        python = Start(endpoint, serverKeys, stranger, patienceMs: 1_000);
        Assert.Equal("timeout", Finish(python));
        Assert.Equal(ZmqPollEvents.None, server.Poll(ZmqPollEvents.In, TimeSpan.Zero));
        Assert.Equal(1, zap.Accepted);
        Assert.True(zap.Denied >= 1);
    }

    [RequiresFact(Requirement.PythonPeer)]
    public void Our_Z85_matches_pyzmqs_pure_python_implementation()
    {
        var rnd = new Random(32);
        var blobs = Enumerable.Range(0, 50).Select(i => { var b = new byte[4 * (i % 12)]; rnd.NextBytes(b); return b; }).ToArray();
        var psi = new ProcessStartInfo(Requirements.DebianPython) { RedirectStandardInput = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import sys\nfrom zmq.utils import z85\nfor line in sys.stdin: print(z85.encode(bytes.fromhex(line.strip())).decode())");
        using var p = Process.Start(psi)!;
        foreach (var b in blobs) p.StandardInput.WriteLine(Convert.ToHexString(b));
        p.StandardInput.Close();
        var lines = p.StandardOutput.ReadToEnd().Split('\n')[..blobs.Length];
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)));
        for (var i = 0; i < blobs.Length; i++)
        {
            Assert.Equal(lines[i], Z85.Encode(blobs[i]));
            Assert.Equal(blobs[i], Z85.Decode(lines[i]));
        }
    }

    private static Process Start(string endpoint, ZmqCurveKeyPair server, ZmqCurveKeyPair client, int patienceMs)
    {
        var psi = new ProcessStartInfo(Requirements.DebianPython) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-c", CurveClient, endpoint, server.PublicKeyZ85, client.PublicKeyZ85, Z85.Encode(client.SecretKey), patienceMs.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static string Finish(Process python)
    {
        using (python)
        {
            var output = python.StandardOutput.ReadToEnd();
            var error = python.StandardError.ReadToEnd();
            Assert.True(python.WaitForExit(TimeSpan.FromSeconds(20)), "python client hung");
            Assert.True(python.ExitCode == 0, "python client failed: " + error);
            return output.Trim();
        }
    }
}
