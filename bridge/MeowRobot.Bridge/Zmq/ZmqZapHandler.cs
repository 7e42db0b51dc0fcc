using System.Text;

namespace MeowRobot.Bridge.Zmq;

/// <summary>
/// A ZAP (RFC 27) handler admitting CURVE clients whose public key is on an allow-list. It binds
/// <c>inproc://zeromq.zap.01</c> on the servers' context from its own thread, and the constructor returns only once it is
/// bound: create it before any CURVE server socket (<see cref="ZmqSocket.MakeCurveServer"/> sets ZAP_ENFORCE_DOMAIN, so
/// a server without a handler refuses everyone rather than admitting everyone). Replies 200 with the client key (Z85) as
/// user id, or 400 for unknown keys, other mechanisms and other domains. One handler per context.
/// </summary>
public sealed class ZmqZapHandler : IDisposable
{
    public const string Endpoint = "inproc://zeromq.zap.01";
    public const string DefaultDomain = "meow";

    private static int s_instances;

    private readonly ZmqContext _context;
    private readonly string _domain;
    private readonly string _stopEndpoint;
    private readonly Thread _thread;
    private volatile byte[][] _allowed;
    private readonly bool _admitAny;
    private long _accepted;
    private long _denied;
    private bool _disposed;

    /// <param name="allowedClientKeys">32-byte CURVE public keys of the clients to admit (see <see cref="ZmqCurveKeyPair.LoadPublicKey"/>).</param>
    /// <param name="domain">the ZAP domain the servers set (see <see cref="ZmqSocket.MakeCurveServer"/>).</param>
    /// <param name="admitAny">Admit every CURVE client of the domain (no allow-list), still counting and naming them.</param>
    public ZmqZapHandler(ZmqContext context, IEnumerable<byte[]> allowedClientKeys, string domain = DefaultDomain, bool admitAny = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(allowedClientKeys);
        _context = context;
        _domain = domain;
        _admitAny = admitAny;
        _allowed = [.. allowedClientKeys.Select(CheckedKey)];
        _stopEndpoint = $"inproc://meow.zap.stop.{Interlocked.Increment(ref s_instances)}";
        using var bound = new ManualResetEventSlim();
        Exception? failure = null;
        _thread = new Thread(() => Run(bound, e => failure = e)) { IsBackground = true, Name = "zap-handler" };
        _thread.Start();
        bound.Wait();
        if (failure is not null)
        {
            _thread.Join();
            throw failure;
        }
    }

    /// <summary>Handshakes admitted so far.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Handshakes refused so far.</summary>
    public long Denied => Interlocked.Read(ref _denied);

    /// <summary>Raised on the handler thread after each refused handshake (its reply is already sent), for logging;
    /// a handler that throws is ignored.</summary>
    public event Action<ZapRefusal>? Refused;

    /// <summary>Adds a client key (takes effect for the next handshake). Thread-safe.</summary>
    public void Allow(byte[] clientPublicKey)
    {
        var key = CheckedKey(clientPublicKey);
        lock (_thread) _allowed = [.. _allowed, key];
    }

    /// <summary>Removes a client key; established connections stay up (ZAP only runs at handshake). Thread-safe.</summary>
    public void Revoke(ReadOnlySpan<byte> clientPublicKey)
    {
        var key = clientPublicKey.ToArray();
        lock (_thread) _allowed = [.. _allowed.Where(k => !ZmqCurveKeyPair.SameKey(k, key))];
    }

    private static byte[] CheckedKey(byte[] key) =>
        key?.Length == ZmqCurveKeyPair.KeySize ? key.ToArray() : throw new ArgumentException($"a CURVE public key is {ZmqCurveKeyPair.KeySize} bytes");

    private void Run(ManualResetEventSlim bound, Action<Exception> fail)
    {
        ZmqSocket? zap = null, stop = null;
        try
        {
            try
            {
                zap = _context.CreateSocket(ZmqSocketType.Rep);
                zap.Bind(Endpoint);
                stop = _context.CreateSocket(ZmqSocketType.Pair);
                stop.Bind(_stopEndpoint);
            }
            catch (Exception e)
            {
                fail(e);
                return;
            }
            finally
            {
                bound.Set();
            }
            Serve(zap, stop);
            // closing unregisters the inproc name asynchronously; unbinding first frees it now for a new handler
            zap.Unbind(Endpoint);
        }
        catch (ZmqContextTerminatedException)
        {
            // the context is shutting down: leave, closing our sockets
        }
        finally
        {
            zap?.Dispose();
            stop?.Dispose();
        }
    }

    private void Serve(ZmqSocket zap, ZmqSocket stop)
    {
        using var poller = new ZmqPoller(2);
        var zapIndex = poller.Add(zap, ZmqPollEvents.In);
        var stopIndex = poller.Add(stop, ZmqPollEvents.In);
        while (true)
        {
            poller.Poll(Timeout.InfiniteTimeSpan);
            if (poller.Ready(stopIndex) != ZmqPollEvents.None) return;
            if (poller.Ready(zapIndex) == ZmqPollEvents.None) continue;
            var request = zap.ReceiveMultipart();
            var (status, text, userId) = Decide(request);
            var admitted = status == "200";
            Interlocked.Increment(ref admitted ? ref _accepted : ref _denied);
            zap.SendMultipart([
                "1.0"u8.ToArray(),
                request.Count > 1 ? request[1] : [],
                Encoding.ASCII.GetBytes(status),
                Encoding.ASCII.GetBytes(text),
                Encoding.ASCII.GetBytes(userId),
                [],
            ]);
            if (!admitted) Report(request, text);
        }
    }

    private void Report(List<byte[]> request, string reason)
    {
        if (Refused is not { } refused) return;
        // address (frame 3) is the peer's IP as libzmq formats it; the credential (frame 6) is the client's public key
        var address = request.Count > 3 ? Encoding.ASCII.GetString(request[3]) : "";
        var key = request.Count == 7 && request[6].Length == ZmqCurveKeyPair.KeySize ? Z85.Encode(request[6]) : null;
        try
        {
            refused(new ZapRefusal(address, key, reason));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // a logging callback must not stop authentication
        }
    }

    private (string Status, string Text, string UserId) Decide(List<byte[]> request)
    {
        // version, request id, domain, address, routing id, mechanism, credentials...
        if (request.Count < 6 || !request[0].AsSpan().SequenceEqual("1.0"u8))
            return ("500", "malformed ZAP request", "");
        if (Encoding.UTF8.GetString(request[2]) != _domain)
            return ("400", "unknown domain", "");
        if (!request[5].AsSpan().SequenceEqual("CURVE"u8) || request.Count != 7 || request[6].Length != ZmqCurveKeyPair.KeySize)
            return ("400", "CURVE required", "");
        var key = request[6];
        if (_admitAny) return ("200", "OK", Z85.Encode(key));
        foreach (var allowed in _allowed)
        {
            if (ZmqCurveKeyPair.SameKey(allowed, key)) return ("200", "OK", Z85.Encode(key));
        }
        return ("400", "client key not allowed", "");
    }

    /// <summary>Stops the handler thread and unbinds (servers then refuse new clients). Safe after the context was disposed.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            using var stop = _context.CreateSocket(ZmqSocketType.Pair);
            stop.Connect(_stopEndpoint);
            stop.Send([]);
        }
        catch (Exception e) when (e is ZmqContextTerminatedException or ObjectDisposedException)
        {
            // the context is gone or going: the handler thread leaves on ETERM by itself
        }
        _thread.Join();
    }
}

/// <summary>A handshake the ZAP handler refused: the peer's address, its CURVE public key (Z85; null without one) and why.</summary>
public sealed record ZapRefusal(string Address, string? ClientKey, string Reason);
