using System.Net;
using MeowRobot.Bridge.Zmq;

namespace MeowRobot.Bridge.Sim;

/// <summary>
/// CURVE for sim protocol v1, as on the weight stream: the worker is a CURVE server with its own key pair and admits
/// only clients whose public key is on its allow-list (a ZAP handler, <see cref="ZmqZapHandler"/>); a client pins the
/// worker's public key. Required when a worker binds anything but loopback or ipc (docs/protocol.md, "Security").
/// </summary>
/// <param name="ServerKeys">The worker's key pair.</param>
/// <param name="AllowedClientKeys">32-byte public keys of the trainers and controllers allowed to connect.</param>
public sealed record SimServerCurve(ZmqCurveKeyPair ServerKeys, IReadOnlyList<byte[]> AllowedClientKeys)
{
    /// <summary>ZAP domain of sim workers (a context serves one, so a worker and a weight stream never share a handler).</summary>
    public const string ZapDomain = "meow.sim";

    /// <summary>From a secret key file (mode 600) and a directory of allowed clients' <c>*.key</c> public key files.</summary>
    /// <exception cref="ZmqKeyFileException">a key file is unusable</exception>
    public static SimServerCurve Load(string secretKeyFile, string allowedClientKeysDir) =>
        new(ZmqCurveKeyPair.Load(secretKeyFile), ZmqCurveKeyPair.LoadPublicKeys(allowedClientKeysDir));
}

/// <param name="ClientKeys">This client's key pair (its public key is on the workers' allow-lists).</param>
/// <param name="ServerPublicKey">The workers' public key: a worker holding another key fails the handshake.</param>
public sealed record SimClientCurve(ZmqCurveKeyPair ClientKeys, byte[] ServerPublicKey)
{
    /// <summary>From this client's secret key file and the workers' public key file.</summary>
    public static SimClientCurve Load(string secretKeyFile, string serverPublicKeyFile) =>
        new(ZmqCurveKeyPair.Load(secretKeyFile), ZmqCurveKeyPair.LoadPublicKey(serverPublicKeyFile));
}

public static class SimEndpoint
{
    /// <summary>True for endpoints only this machine can reach: <c>ipc://</c>, <c>inproc://</c>, and <c>tcp://</c> on a
    /// loopback address (127.0.0.0/8, ::1, localhost). Anything else (0.0.0.0, *, an interface, a host name) is
    /// reachable from the network and needs CURVE.</summary>
    public static bool IsLoopback(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.StartsWith("ipc://", StringComparison.Ordinal) || endpoint.StartsWith("inproc://", StringComparison.Ordinal)) return true;
        if (!endpoint.StartsWith("tcp://", StringComparison.Ordinal)) return false;
        var hostPort = endpoint["tcp://".Length..];
        var colon = hostPort.LastIndexOf(':');
        var host = colon < 0 ? hostPort : hostPort[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (host == "localhost") return true;
        return IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address);
    }
}
