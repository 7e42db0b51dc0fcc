using System.Globalization;
using System.Security.Cryptography;
using MeowRobot.Bridge.Sim;
using MeowRobot.Hosting.Systemd;
using MeowRobot.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeowRobot.Sim;

/// <summary>
/// The body of <c>sim serve</c>: a <see cref="SimWorker"/> bound on Sim:Bind serving Sim:Envs copies of Sim:Task, with
/// the randomisable parameters of section Sim:Params (e.g. <c>--Sim:Params:mass=1.5</c>) set in every env. Stops
/// (closing its socket) when the host stops.
/// </summary>
public sealed partial class SimWorkerService(IOptions<SimOptions> options, IConfiguration configuration, SystemdNotifier notifier,
    ILogger<SimWorkerService> logger) : BackgroundService
{
    public const string ParamsSection = "Sim:Params";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var seed = o.Seed ?? RandomNumberGenerator.GetInt32(int.MaxValue);
        using var service = new SimService(TaskCatalog.CreateVectorEnv(o.Task, o.Envs, new TaskOptions(o.Model), seed, ReadParameters(configuration)));
        await SimWorker.RunAsync(service, o.Bind, worker =>
        {
            LogServing(logger, o.Task, o.Envs, worker.Endpoint, seed, service.Session);
            notifier.Status($"serving {o.Task} × {o.Envs} on {worker.Endpoint}");
        }, stoppingToken).ConfigureAwait(false);
        LogStopped(logger, service.Requests, service.Errors);
    }

    /// <summary>Sim:Params as name → value; a value that is not a number is an <see cref="ArgumentException"/> naming it.</summary>
    public static Dictionary<string, double> ReadParameters(IConfiguration configuration)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var child in configuration.GetSection(ParamsSection).GetChildren())
        {
            if (!double.TryParse(child.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                throw new ArgumentException($"{ParamsSection}:{child.Key} = '{child.Value}' is not a number");
            result[child.Key] = value;
        }
        return result;
    }

    [LoggerMessage(1, LogLevel.Information, "serving {Task} × {Envs} on {Endpoint} (seed {Seed}, session {Session})")]
    private static partial void LogServing(ILogger logger, string task, int envs, string endpoint, int seed, ulong session);

    [LoggerMessage(2, LogLevel.Information, "stopped after {Requests} requests ({Errors} answered with errors)")]
    private static partial void LogStopped(ILogger logger, long requests, long errors);
}
