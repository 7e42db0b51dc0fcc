using System.ComponentModel.DataAnnotations;
using MeowRobot.Bridge.Native;
using MeowRobot.Bridge.Zmq;

namespace MeowRobot.Hosting.Configuration;

/// <summary>
/// A CURVE key file that must load when the service starts: a public key (40 Z85 characters), or with
/// <see cref="Secret"/> a secret key file that also must not be open to group or others. Null passes.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter)]
public sealed class CurveKeyFileAttribute : ValidationAttribute
{
    public bool Secret { get; init; }

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        if (value is not string path) return ValidationResult.Success;
        var member = validationContext.MemberName is { } m ? [m] : Array.Empty<string>();
        try
        {
            if (Secret) ZmqCurveKeyPair.Load(path);
            else ZmqCurveKeyPair.LoadPublicKey(path);
            return ValidationResult.Success;
        }
        catch (Exception e) when (e is ZmqKeyFileException or ZmqException or MissingNativeLibraryException)
        {
            return new ValidationResult($"unusable {(Secret ? "secret" : "public")} key file: {e.Message}", member);
        }
    }
}
