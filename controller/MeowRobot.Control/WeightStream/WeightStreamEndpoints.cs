using System.Globalization;

namespace MeowRobot.Control.WeightStream;

/// <summary>How the trainer and the robots agree on the snapshot endpoint when only the publish endpoint is configured.</summary>
public static class WeightStreamEndpoints
{
    /// <summary>
    /// The snapshot endpoint paired with <paramref name="publishEndpoint"/>: tcp://HOST:PORT → tcp://HOST:PORT+1 (an
    /// ephemeral * stays *), ipc://PATH → ipc://PATH.snapshot. Null when the endpoint has no such pair (no port, a port
    /// that is not a number, or 65535), so a malformed endpoint is reported by validation, never thrown here.
    /// </summary>
    public static string? DefaultSnapshot(string publishEndpoint)
    {
        ArgumentNullException.ThrowIfNull(publishEndpoint);
        if (publishEndpoint.StartsWith("ipc://", StringComparison.Ordinal)) return publishEndpoint + ".snapshot";
        var colon = publishEndpoint.LastIndexOf(':');
        if (colon < 0) return null;
        var port = publishEndpoint.AsSpan(colon + 1);
        if (port.SequenceEqual("*")) return publishEndpoint;
        return int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p < 65535
            ? string.Concat(publishEndpoint.AsSpan(0, colon + 1), (p + 1).ToString(CultureInfo.InvariantCulture))
            : null;
    }
}
