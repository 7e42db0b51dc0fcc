using System.CommandLine;
using System.Text.Json;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Hosting.Logging;
using MeowRobot.Hosting.Systemd;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace MeowRobot.Hosting;

/// <summary>
/// The generic host every service runs on, and its <c>serve</c> command. Configuration, later sources winning:
/// appsettings.json beside the executable (shipped defaults) → the site file(s) (/etc/meowrobot/NAME.json, or each
/// --config FILE) → environment variables MEOW_Section__Key → command line --Section:Key=value. Options are bound and
/// validated before anything starts; a bad configuration exits with <see cref="ConfigurationErrorExitCode"/>, naming
/// every bad key. sd_notify READY/STOPPING/watchdog and the journald log format switch on under systemd.
/// </summary>
public static class ServiceHostBuilder
{
    /// <summary>EX_CONFIG (sysexits.h); units list it in RestartPreventExitStatus= so systemd does not retry a broken configuration.</summary>
    public const int ConfigurationErrorExitCode = 78;

    /// <summary>The service's builder, before the service adds its options and workers.</summary>
    /// <param name="configFiles">Site files given with --config (each required); empty: the default site file, if present.</param>
    /// <param name="commandLine">--Section:Key=value arguments.</param>
    /// <param name="getEnvironmentVariable">Decides journald format and sd_notify (tests pass their own); MEOW_ variables are always read from the process.</param>
    public static HostApplicationBuilder Create(ServiceDefinition service, IReadOnlyList<string> configFiles, IReadOnlyList<string> commandLine,
        Func<string, string?>? getEnvironmentVariable = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(configFiles);
        ArgumentNullException.ThrowIfNull(commandLine);
        var env = getEnvironmentVariable ?? Environment.GetEnvironmentVariable;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings
        {
            ApplicationName = "meow-" + service.Name,
            ContentRootPath = service.BaseDirectory,
            EnvironmentName = Environments.Production,
        });

        var config = builder.Configuration;
        config.AddJsonFile(Path.Combine(service.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        if (configFiles.Count == 0)
            config.AddJsonFile(service.SiteConfig, optional: true, reloadOnChange: false);
        foreach (var file in configFiles)
            config.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        config.AddEnvironmentVariables(ConfigurationSources.EnvironmentPrefix);
        config.AddCommandLine(commandLine.ToArray());

        var underSystemd = JournaldConsoleFormatter.UnderSystemd(env);
        builder.Logging.AddConfiguration(config.GetSection("Logging"));
        builder.Logging.AddConsole();
        builder.Logging.AddConsoleFormatter<JournaldConsoleFormatter, ConsoleFormatterOptions>();
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.FormatterName = underSystemd ? JournaldConsoleFormatter.FormatterName : ConsoleFormatterNames.Simple);
        builder.Services.Configure<SimpleConsoleFormatterOptions>(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = underSystemd);
        builder.Services.Configure<HostOptions>(o =>
        {
            o.ShutdownTimeout = service.ShutdownTimeout;
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost;
        });
        builder.ConfigureContainer(new DefaultServiceProviderFactory(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }));

        var pid = Environment.ProcessId;
        builder.Services.AddSingleton(_ => new SystemdNotifier(env, pid));
        builder.Services.AddHostedService<SystemdLifecycle>();
        builder.Services.AddHostedService<WatchdogPinger>();
        return builder;
    }

    /// <summary>
    /// The <c>serve</c> subcommand: --config FILE (repeatable), --check (validate, print the effective options, exit),
    /// and any --Section:Key=value overrides.
    /// </summary>
    /// <param name="configure">Adds the service's options (<see cref="ValidatedOptions.AddValidatedOptions{TOptions}"/>) and hosted services.</param>
    public static Command ServeCommand(ServiceDefinition service, Action<HostApplicationBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(service);
        var configFiles = new Option<string[]>("--config")
        {
            Description = $"site configuration file (JSON; repeatable, later files win; default {service.SiteConfig} when present)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var check = new Option<bool>("--check") { Description = "validate the configuration, print the effective options as JSON and exit" };
        var command = new Command("serve",
            $"{service.Description}. Configuration: appsettings.json beside the executable, then {service.SiteConfig} (or --config), " +
            "then MEOW_Section__Key environment variables, then --Section:Key=value arguments; see docs/operations.md")
        {
            configFiles,
            check,
        };
        var shorthands = service.Shorthands.Select(s => (s, option: s.Kind == ShorthandKind.Single
            ? (Option)new Option<string?>(s.Option) { Description = $"{s.Description} (sets {s.Key})" }
            : new Option<string[]>(s.Option)
            {
                Description = s.Kind == ShorthandKind.Named
                    ? $"{s.Description} (NAME=VALUE, repeatable; sets {s.Key}:NAME)"
                    : $"{s.Description} (repeatable; sets {s.Key}:0, :1, …)",
            })).ToArray();
        foreach (var (_, option) in shorthands) command.Options.Add(option);
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse =>
        {
            // Short options first, so that an explicit --Section:Key=value given too wins (later command-line values win).
            var overrides = new List<string>();
            foreach (var (s, option) in shorthands)
            {
                if (option is Option<string?> one)
                {
                    if (parse.GetValue(one) is { } value) overrides.Add($"--{s.Key}={value}");
                    continue;
                }
                var values = parse.GetValue((Option<string[]>)option) ?? [];
                for (var i = 0; i < values.Length; i++)
                {
                    var value = values[i];
                    var eq = value.IndexOf('=', StringComparison.Ordinal);
                    overrides.Add(s.Kind == ShorthandKind.Indexed ? $"--{s.Key}:{i}={value}"
                        : eq > 0 ? $"--{s.Key}:{value[..eq]}={value[(eq + 1)..]}"
                        : value); // not NAME=VALUE: Run refuses it
                }
            }
            overrides.AddRange(parse.UnmatchedTokens);
            return Run(service, configure, parse.GetValue(configFiles) ?? [], overrides, parse.GetValue(check),
                parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    /// <summary>Builds, validates and runs the host until it stops; returns the process exit code.</summary>
    public static int Run(ServiceDefinition service, Action<HostApplicationBuilder> configure, IReadOnlyList<string> configFiles,
        IReadOnlyList<string> commandLine, bool checkOnly, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        // Overrides need their '=': "--Key value" pairs are ambiguous next to the command's own options.
        var stray = commandLine.Where(a => !a.StartsWith("--", StringComparison.Ordinal) || !a.Contains('=', StringComparison.Ordinal))
            .Select(a => $"unexpected argument '{a}': configuration overrides are written --Section:Key=value").ToList();
        if (stray.Count > 0) return ConfigurationError(service, error, stray, notifier: null);
        IHost host;
        try
        {
            var builder = Create(service, configFiles, commandLine);
            configure(builder);
            host = builder.Build();
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or FormatException or DirectoryNotFoundException)
        {
            // Unreadable or malformed JSON, a missing --config file, a malformed --Key=value argument.
            return ConfigurationError(service, error, [e.Message], notifier: null);
        }

        using (host)
        {
            var notifier = host.Services.GetRequiredService<SystemdNotifier>();
            try
            {
                host.Services.GetRequiredService<IStartupValidator>().Validate();
            }
            catch (Exception e) when (e is OptionsValidationException or AggregateException)
            {
                return ConfigurationError(service, error, Failures(e), notifier);
            }
            // --check tells the person at the terminal; serve logs them (the journal keeps them with the service's other lines).
            var configurationLog = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MeowRobot.Hosting.Configuration");
            foreach (var warning in Warnings(host.Services))
            {
                if (checkOnly) error.WriteLine($"meow {service.Name}: warning: {warning.ReplaceLineEndings(" ")}");
                else LogWarning(configurationLog, warning, null);
            }
            if (checkOnly)
            {
                PrintEffectiveOptions(host.Services, output);
                return 0;
            }

            // Run() disposes the host's services: take the workers first, to judge how they ended.
            var workers = host.Services.GetServices<IHostedService>().OfType<BackgroundService>().ToList();
            try
            {
                host.Run();
            }
            catch (Exception e)
            {
                if (StartProblem(e) is { } problem) return ConfigurationError(service, error, [problem], notifier);
                // The host has logged it with its stack trace; this line is what `systemctl status` and a terminal show.
                error.WriteLine($"{Prefix(3)}meow {service.Name}: failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
                notifier.Status("failed: " + e.Message.ReplaceLineEndings(" "));
                return 1;
            }
            // A worker that threw stopped the host (StopHost); that is a failure for systemd's Restart=on-failure, unless
            // it was the configuration (a port in use): that exits 78, which the units do not restart.
            var faults = workers.Where(w => w.ExecuteTask is { IsFaulted: true }).Select(w => w.ExecuteTask!.Exception!).ToList();
            if (faults.Select(StartProblem).FirstOrDefault(p => p is not null) is { } startProblem)
                return ConfigurationError(service, error, [startProblem], notifier);
            return faults.Count > 0 ? 1 : Environment.ExitCode;
        }
    }

    private static int ConfigurationError(ServiceDefinition service, TextWriter error, IReadOnlyList<string> problems, SystemdNotifier? notifier)
    {
        error.WriteLine($"{Prefix(3)}meow {service.Name}: configuration error{(problems.Count > 1 ? "s" : "")}:");
        foreach (var p in problems) error.WriteLine($"{Prefix(3)}  {p.ReplaceLineEndings(" ")}");
        notifier?.Status("configuration error: " + problems[0].ReplaceLineEndings(" "));
        return ConfigurationErrorExitCode;
    }

    /// <summary>The configuration's part in a failed start, or null: a <see cref="ConfigurationProblemException"/>, or a
    /// bind that libzmq refused (address in use, not an address of this machine, no such ipc directory), or an ipc path
    /// another live worker holds.</summary>
    private static string? StartProblem(Exception e)
    {
        for (Exception? x = e; x is not null; x = x is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : x.InnerException)
        {
            if (x is ConfigurationProblemException) return x.Message;
            if (x is ZmqException z && z.Operation.StartsWith("zmq_bind", StringComparison.Ordinal)) return "cannot bind: " + z.Message;
            if (x is MeowRobot.Bridge.Sim.SimEndpointInUseException held) return "cannot bind: " + held.Message;
        }
        return null;
    }

    private static IEnumerable<string> Warnings(IServiceProvider services) =>
        services.GetServices<ValidatedSection>()
            .SelectMany(s => s.Value(services) is IConfigurationWarnings w ? w.Warnings().Select(line => s.Section + ":" + line) : []);

    private static readonly Action<ILogger, string, Exception?> LogWarning =
        LoggerMessage.Define<string>(LogLevel.Warning, new EventId(1, "ConfigurationWarning"), "configuration: {Warning}");

    private static string Prefix(int priority) =>
        JournaldConsoleFormatter.UnderSystemd(Environment.GetEnvironmentVariable) ? $"<{priority}>" : "";

    private static List<string> Failures(Exception e) => e switch
    {
        OptionsValidationException o => [.. o.Failures],
        AggregateException a => [.. a.Flatten().InnerExceptions.SelectMany(Failures)],
        _ => [e.Message],
    };

    private static void PrintEffectiveOptions(IServiceProvider services, TextWriter output)
    {
        var sections = services.GetServices<ValidatedSection>().ToDictionary(s => s.Section, s => s.Value(services));
        output.WriteLine(JsonSerializer.Serialize(sections, EffectiveOptionsJson));
    }

    private static readonly JsonSerializerOptions EffectiveOptionsJson = new()
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };
}
