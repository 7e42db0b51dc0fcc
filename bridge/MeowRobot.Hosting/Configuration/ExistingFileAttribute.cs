using System.ComponentModel.DataAnnotations;

namespace MeowRobot.Hosting.Configuration;

/// <summary>A path that must name a readable file when the service starts (key files, policy files). Null passes.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter)]
public sealed class ExistingFileAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        if (value is not string path) return ValidationResult.Success;
        var member = validationContext.MemberName is { } m ? [m] : Array.Empty<string>();
        try
        {
            using var _ = File.OpenRead(path);
            return ValidationResult.Success;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return new ValidationResult($"cannot read file '{path}': {e.Message}", member);
        }
    }
}
