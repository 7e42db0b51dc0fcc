using System.Collections;
using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace MeowRobot.Hosting.Configuration;

/// <summary>
/// Binds a configuration section onto an options object and reports every problem as "Key: reason (source)":
/// keys that match no property (a typo in a unit file must not be silently ignored on a robot) and values that do not
/// convert. The binder alone stops at the first problem and names neither the source nor the known keys.
/// </summary>
public static class OptionsBinding
{
    /// <summary>Binds <paramref name="section"/> of <paramref name="configuration"/> onto <paramref name="target"/>; returns the problems (empty when none).</summary>
    public static IReadOnlyList<string> Bind(IConfiguration configuration, string section, object target)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(target);
        var problems = new List<string>();
        var node = configuration.GetSection(section);
        CheckKeys(configuration, node, target.GetType(), problems);
        // Scalars are converted here first, so that every bad value is reported and the good ones still bind.
        var values = new List<KeyValuePair<string, string?>>();
        foreach (var (path, value) in node.AsEnumerable(makePathsRelative: true))
        {
            if (value is null) continue;
            if (TypeAt(target.GetType(), path) is { } type && IsScalar(type) && Convert(type, value) is { } reason)
            {
                var key = ConfigurationPath.Combine(node.Path, path);
                problems.Add($"{key}: cannot convert to {Describe(type)}: {reason}{ConfigurationSources.Describe(configuration, key)}");
                continue;
            }
            values.Add(KeyValuePair.Create<string, string?>(path, value));
        }
        try
        {
            new ConfigurationBuilder().AddInMemoryCollection(values).Build().Bind(target);
        }
        catch (InvalidOperationException e)
        {
            // What the converters above accept but the binder does not (e.g. a type without a public constructor).
            problems.Add($"{node.Path}: {e.Message}{(e.InnerException is { } inner ? " " + inner.Message : "")}");
        }
        return problems;
    }

    /// <summary>The configuration key of a property: [ConfigurationKeyName] or its name.</summary>
    public static string KeyOf(PropertyInfo property)
    {
        ArgumentNullException.ThrowIfNull(property);
        return property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
    }

    private static void CheckKeys(IConfiguration configuration, IConfigurationSection node, Type type, List<string> problems)
    {
        if (IsScalar(type)) return;
        if (ElementType(type) is { } element)
        {
            // Arrays and lists: children are indices; dictionaries: children are free-form names.
            foreach (var item in node.GetChildren()) CheckKeys(configuration, item, element, problems);
            return;
        }
        foreach (var child in node.GetChildren())
        {
            if (FindProperty(type, child.Key) is { } property)
            {
                CheckKeys(configuration, child, property.PropertyType, problems);
                continue;
            }
            var known = string.Join(", ", Properties(type).Select(KeyOf));
            problems.Add($"{child.Path}: unknown key (known keys of {node.Path}: {known}){ConfigurationSources.Describe(configuration, FirstLeafPath(child))}");
        }
    }

    /// <summary>The type a relative key path lands on ("Envelope:StateBounds:0:Min" → Single), or null.</summary>
    private static Type? TypeAt(Type type, string path)
    {
        Type? current = type;
        foreach (var segment in path.Split(ConfigurationPath.KeyDelimiter))
        {
            if (current is null) return null;
            current = ElementType(current) is { } element && !IsScalar(current) ? element : FindProperty(current, segment)?.PropertyType;
        }
        return current;
    }

    /// <summary>Null when <paramref name="value"/> converts to <paramref name="type"/> as the binder converts it, else why not.</summary>
    private static string? Convert(Type type, string value)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(string) || (value.Length == 0 && target != type)) return null;
        try
        {
            _ = TypeDescriptor.GetConverter(target).ConvertFromInvariantString(value);
            return null;
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException or OverflowException)
        {
            return e.Message;
        }
        catch (Exception e) when (e.InnerException is FormatException or OverflowException)
        {
            return e.InnerException.Message;
        }
    }

    private static PropertyInfo? FindProperty(Type type, string key) =>
        Properties(type).FirstOrDefault(p => string.Equals(KeyOf(p), key, StringComparison.OrdinalIgnoreCase));

    private static IEnumerable<PropertyInfo> Properties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && (p.SetMethod is { IsPublic: true } || !IsScalar(p.PropertyType)));

    private static string FirstLeafPath(IConfigurationSection s)
    {
        while (s.Value is null && s.GetChildren().FirstOrDefault() is { } c) s = c;
        return s.Path;
    }

    /// <summary>Values the binder converts from one string (numbers, enums, TimeSpan, Uri, …).</summary>
    private static bool IsScalar(Type type) =>
        type == typeof(string) || type.IsPrimitive || type.IsEnum ||
        TypeDescriptor.GetConverter(Nullable.GetUnderlyingType(type) ?? type).CanConvertFrom(typeof(string));

    private static Type? ElementType(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        if (!typeof(IEnumerable).IsAssignableFrom(type)) return null;
        var generic = type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType &&
            (i.GetGenericTypeDefinition() == typeof(IDictionary<,>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)));
        if (generic is not null) return generic.GetGenericArguments()[1];
        var enumerable = type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable?.GetGenericArguments()[0];
    }

    private static string Describe(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(t))}" : t.Name;
    }
}
