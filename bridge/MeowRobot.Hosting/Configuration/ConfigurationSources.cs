using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Memory;

namespace MeowRobot.Hosting.Configuration;

/// <summary>Says, for a configuration key, which source gave its value and how else it could be set: error messages name both.</summary>
public static class ConfigurationSources
{
    /// <summary>The environment variable prefix of every service.</summary>
    public const string EnvironmentPrefix = "MEOW_";

    /// <summary><c>Controller:WeightStream:Endpoint</c> → <c>MEOW_Controller__WeightStream__Endpoint</c>.</summary>
    public static string EnvironmentVariable(string key) => EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>
    /// " (value 'x' from environment variable MEOW_A__B)" when the key is set, else " (not set: set A:B in the
    /// configuration file, MEOW_A__B or --A:B=…)". Values of keys that look secret are not echoed.
    /// </summary>
    public static string Describe(IConfiguration configuration, string key)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration[key] is null &&
            configuration.GetSection(key).AsEnumerable().Where(kv => kv.Value is not null && kv.Key != key)
                .OrderBy(kv => kv.Key, ConfigurationKeyComparer.Instance).FirstOrDefault() is { Key: { } leaf })
        {
            // A list or a section: point at its first value.
            return Describe(configuration, leaf).Replace(" (value ", $" (value at {leaf} ", StringComparison.Ordinal);
        }
        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers.Reverse())
            {
                if (provider.TryGet(key, out var value))
                    return $" (value {Quote(key, value)} from {Name(provider, key)})";
            }
        }
        else if (configuration[key] is { } value)
        {
            return $" (value {Quote(key, value)})";
        }
        return $" (not set: set {key} in the configuration file, {EnvironmentVariable(key)} or --{key}=…)";
    }

    private static string Quote(string key, string? value) =>
        key.Contains("Secret", StringComparison.OrdinalIgnoreCase) || key.Contains("Password", StringComparison.OrdinalIgnoreCase)
            ? "(hidden)"
            : "'" + value + "'";

    private static string Name(IConfigurationProvider provider, string key) => provider switch
    {
        EnvironmentVariablesConfigurationProvider => "environment variable " + EnvironmentVariable(key),
        CommandLineConfigurationProvider => "command line --" + key,
        FileConfigurationProvider f => "file " + (f.Source.FileProvider?.GetFileInfo(f.Source.Path ?? "").PhysicalPath ?? f.Source.Path),
        MemoryConfigurationProvider => "in-memory configuration",
        _ => provider.ToString() ?? provider.GetType().Name,
    };
}
