using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;

namespace MeowRobot.Hosting.Configuration;

/// <summary>
/// A ZeroMQ endpoint: <c>tcp://HOST:PORT</c> (HOST may be <c>*</c> for a bind), <c>ipc://PATH</c>, or, where the
/// property allows it, <c>serial:///PATH</c> (an absolute device path: <c>/dev/ttyUSB0</c>, a <c>/dev/serial/by-id</c> link,
/// or a pty link such as socat makes for a rehearsal). Null passes: combine with [Required] when the key is mandatory.
/// A numeric host must be an IP address (<c>tcp://256.1.1.1:5000</c> is refused here, not by libzmq at bind time);
/// with <see cref="Bind"/> an ipc path's directory must exist.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter)]
public sealed class EndpointAttribute : ValidationAttribute
{
    /// <summary>Also accept <c>serial:///PATH</c> (robot I/O over a serial port).</summary>
    public bool AllowSerial { get; init; }

    /// <summary>The service binds this endpoint: an ipc:// path's directory must exist.</summary>
    public bool Bind { get; init; }

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        if (value is null) return ValidationResult.Success;
        var member = validationContext.MemberName is { } m ? [m] : Array.Empty<string>();
        return Problem(value as string ?? "", AllowSerial, Bind) is { } problem
            ? new ValidationResult($"'{value}' is not a valid endpoint: {problem}", member)
            : ValidationResult.Success;
    }

    /// <summary>Null when <paramref name="endpoint"/> is valid, else why not.</summary>
    /// <param name="bind">The endpoint is bound here: an ipc path's directory must exist.</param>
    public static string? Problem(string endpoint, bool allowSerial = false, bool bind = false)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var expected = allowSerial ? "expected tcp://HOST:PORT, ipc://PATH or serial:///PATH" : "expected tcp://HOST:PORT or ipc://PATH";
        if (endpoint.StartsWith("ipc://", StringComparison.Ordinal))
        {
            var path = endpoint["ipc://".Length..];
            if (path.Length == 0) return "ipc:// needs a path";
            if (!bind || path.StartsWith('@')) return null;   // @name: Linux's abstract namespace, no directory
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            return string.IsNullOrEmpty(dir) || Directory.Exists(dir) ? null : $"the directory {dir} does not exist";
        }
        if (allowSerial && endpoint.StartsWith("serial://", StringComparison.Ordinal))
            return endpoint.StartsWith("serial:///", StringComparison.Ordinal) && endpoint.Length > "serial:///".Length
                ? null
                : "serial endpoints name a device by its absolute path, e.g. serial:///dev/ttyUSB0";
        if (!endpoint.StartsWith("tcp://", StringComparison.Ordinal)) return expected;
        var rest = endpoint.AsSpan("tcp://".Length);
        var colon = rest.LastIndexOf(':');
        if (colon <= 0) return "tcp:// needs HOST:PORT";
        var host = rest[..colon];
        if (host.IsEmpty || host.ContainsAny(" /\t")) return "bad host";
        if (HostProblem(host.ToString()) is { } hostProblem) return hostProblem;
        var port = rest[(colon + 1)..];
        if (port is "*") return null;
        return int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535
            ? null
            : "port must be 1-65535 (or * to bind an ephemeral one)";
    }

    /// <summary>A host of digits and dots is an IPv4 address, one in brackets an IPv6 address; anything else is a name
    /// (a host, or an interface to bind) that only the network can judge.</summary>
    private static string? HostProblem(string host)
    {
        if (host is "*") return null;
        if (host.StartsWith('[') || host.Contains(':', StringComparison.Ordinal))
        {
            var inner = host.TrimStart('[').TrimEnd(']');
            return host.StartsWith('[') && host.EndsWith(']') && IPAddress.TryParse(inner, out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                ? null
                : $"'{host}' is not an IPv6 address (write it in brackets: [::1])";
        }
        if (!host.All(c => char.IsAsciiDigit(c) || c == '.')) return null;
        var octets = host.Split('.');
        return octets.Length == 4 && octets.All(o => o.Length is >= 1 and <= 3 && int.Parse(o, CultureInfo.InvariantCulture) <= 255)
            ? null
            : $"'{host}' is not an IPv4 address (four numbers 0-255)";
    }
}
