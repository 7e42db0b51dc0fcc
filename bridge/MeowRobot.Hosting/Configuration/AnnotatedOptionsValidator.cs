using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace MeowRobot.Hosting.Configuration;

/// <summary>
/// Validates an options object with its DataAnnotations attributes and <see cref="IValidatableObject"/>, walking into
/// members marked [ValidateObjectMembers] / [ValidateEnumeratedItems], and names each failure by its full configuration
/// key and where the value came from, e.g. <c>Controller:RateHz: The field RateHz must be between 50 and 5000. (value
/// '20000' from environment variable MEOW_Controller__RateHz)</c>.
/// </summary>
/// <param name="bindingProblems">Problems found while binding (unknown keys, values that do not convert), reported first.</param>
public sealed class AnnotatedOptionsValidator<TOptions>(string section, IConfiguration configuration, Func<IReadOnlyList<string>> bindingProblems)
    : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>(bindingProblems());
        Walk(options, section, failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private void Walk(object instance, string prefix, List<string> failures)
    {
        // Property attributes and IValidatableObject both, always: Validator.TryValidateObject skips the latter after
        // an attribute failure, and a person fixing a unit file wants every problem in one go.
        var results = new List<ValidationResult>();
        foreach (var property in instance.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length != 0 || property.GetMethod is null) continue;
            Validator.TryValidateProperty(property.GetValue(instance), new ValidationContext(instance) { MemberName = property.Name }, results);
        }
        if (instance is IValidatableObject self) results.AddRange(self.Validate(new ValidationContext(instance)));
        foreach (var r in results)
        {
            var members = r.MemberNames.Any() ? r.MemberNames : [""];
            foreach (var member in members)
            {
                var key = member.Length == 0 ? prefix : prefix + ":" + KeyOf(instance.GetType(), member);
                failures.Add($"{key}: {r.ErrorMessage}{ConfigurationSources.Describe(configuration, key)}");
            }
        }

        foreach (var property in instance.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length != 0 || property.GetValue(instance) is not { } value) continue;
            var key = prefix + ":" + OptionsBinding.KeyOf(property);
            if (property.IsDefined(typeof(ValidateObjectMembersAttribute)))
            {
                Walk(value, key, failures);
            }
            else if (property.IsDefined(typeof(ValidateEnumeratedItemsAttribute)) && value is IEnumerable items)
            {
                var i = 0;
                foreach (var item in items)
                {
                    if (item is not null) Walk(item, key + ":" + i, failures);
                    i++;
                }
            }
        }
    }

    private static string KeyOf(Type type, string member) =>
        type.GetProperty(member, BindingFlags.Public | BindingFlags.Instance) is { } p ? OptionsBinding.KeyOf(p) : member;
}
