using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace MeowRobot.Hosting.Configuration;

/// <summary>
/// A ZeroMQ endpoint: <c>tcp://HOST:PORT</c> (HOST may be <c>*</c> for a bind), <c>ipc://PATH</c>, or, where the
/// property allows it, <c>serial:///PATH</c> (an absolute device path: <c>/dev/ttyUSB0</c>, a <c>/dev/serial/by-id</c> link,
/// or a pty link such as socat makes for a rehearsal). Null passes: combine with [Required] when the key is mandatory.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter)]
public sealed class EndpointAttribute : ValidationAttribute
{
    /// <summary>Also accept <c>serial:///PATH</c> (robot I/O over a serial port).</summary>
    public bool AllowSerial { get; init; }

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        if (value is null) return ValidationResult.Success;
        var member = validationContext.MemberName is { } m ? [m] : Array.Empty<string>();
        return Problem(value as string ?? "", AllowSerial) is { } problem
            ? new ValidationResult($"'{value}' is not a valid endpoint: {problem}", member)
            : ValidationResult.Success;
    }

    /// <summary>Null when <paramref name="endpoint"/> is valid, else why not.</summary>
    public static string? Problem(string endpoint, bool allowSerial = false)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var expected = allowSerial ? "expected tcp://HOST:PORT, ipc://PATH or serial:///PATH" : "expected tcp://HOST:PORT or ipc://PATH";
        if (endpoint.StartsWith("ipc://", StringComparison.Ordinal))
            return endpoint.Length > "ipc://".Length ? null : "ipc:// needs a path";
        if (allowSerial && endpoint.StartsWith("serial://", StringComparison.Ordinal))
            return endpoint.StartsWith("serial:///", StringComparison.Ordinal) && endpoint.Length > "serial:///".Length
                ? null
                : "serial endpoints name a device by its absolute path, e.g. serial:///dev/ttyUSB0";
        if (!endpoint.StartsWith("tcp://", StringComparison.Ordinal)) return expected;
        var rest = endpoint.AsSpan("tcp://".Length);
        var colon = rest.LastIndexOf(':');
        if (colon <= 0) return "tcp:// needs HOST:PORT";
        var host = rest[..colon];
        if (host.ContainsAny(" /\t")) return "bad host";
        var port = rest[(colon + 1)..];
        if (port is "*") return null;
        return int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535
            ? null
            : "port must be 1-65535 (or * to bind an ephemeral one)";
    }
}
