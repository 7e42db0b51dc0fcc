using System.Globalization;
using System.Security.Cryptography;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Hosting.Systemd;
using MeowRobot.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeowRobot.Sim;

/// <summary>
/// The body of <c>sim serve</c>: a <see cref="SimWorker"/> bound on Sim:Bind serving Sim:Envs copies of Sim:Task, with
/// the randomisable parameters of section Sim:Params (e.g. <c>--Sim:Params:mass=1.5</c>) set in every env and the
/// per-episode randomisation of Sim:Randomise (e.g. <c>--Sim:Randomise:mass=uniform(0.5, 2)</c>; a trainer may replace it). Stops
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
        var curve = o.SecretKeyFile is null ? null : SimServerCurve.Load(o.SecretKeyFile, o.AllowedClientKeysDir!);
        using var service = new SimService(TaskCatalog.CreateVectorEnv(o.Task, o.Envs, new TaskOptions(o.Model), seed, ReadParameters(configuration),
            o.Randomisation()));
        var refusals = new RefusalLog(logger);
        long refused = 0;
        await SimWorker.RunAsync(service, o.Bind, curve, worker =>
        {
            var serving = $"serving {o.Task} × {o.Envs} on {worker.Endpoint}" + (curve is null ? "" : $" (CURVE, {curve.AllowedClientKeys.Count} allowed client key(s))");
            LogServing(logger, o.Task, o.Envs, worker.Endpoint, seed, service.Session,
                curve is null ? "plain (loopback/ipc only)" : $"CURVE, {curve.AllowedClientKeys.Count} allowed client key(s)");
            notifier.Status(serving);
            if (worker.RemovedStaleSocket) LogStaleSocket(logger, worker.Endpoint);
            worker.ClientRefused += r =>
            {
                refusals.Report(r, Interlocked.Increment(ref refused));
                notifier.Status($"{serving}; {worker.Refused} client handshake(s) refused");
            };
        }, stoppingToken).ConfigureAwait(false);
        LogStopped(logger, service.Requests, service.Errors, Interlocked.Read(ref refused));
    }

    /// <summary>Logs refused handshakes: each of the first few, then at most one line a second with the count since the
    /// last line (a flood of bad handshakes must not flood the journal).</summary>
    private sealed class RefusalLog(ILogger logger)
    {
        private const int Verbatim = 10;
        private long lastLogged;
        private long suppressed;

        public void Report(ZapRefusal refusal, long total)
        {
            var now = Environment.TickCount64;
            if (total > Verbatim && now - lastLogged < 1000)
            {
                suppressed++;
                return;
            }
            lastLogged = now;
            LogRefused(logger, refusal.Address, refusal.ClientKey ?? "(none)", refusal.Reason, total, suppressed);
            suppressed = 0;
        }
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

    [LoggerMessage(1, LogLevel.Information, "serving {Task} × {Envs} on {Endpoint} (seed {Seed}, session {Session}, {Security})")]
    private static partial void LogServing(ILogger logger, string task, int envs, string endpoint, int seed, ulong session, string security);

    [LoggerMessage(2, LogLevel.Information, "stopped after {Requests} requests ({Errors} answered with errors, {Refused} client handshakes refused)")]
    private static partial void LogStopped(ILogger logger, long requests, long errors, long refused);

    [LoggerMessage(4, LogLevel.Warning, "removed a dead worker's socket file before binding {Endpoint} (its lock was free and nothing listened on it)")]
    private static partial void LogStaleSocket(ILogger logger, string endpoint);

    [LoggerMessage(3, LogLevel.Warning, "refused a client handshake from {Address} (key {ClientKey}): {Reason}; {Refused} refused so far ({Suppressed} more since the last line)")]
    private static partial void LogRefused(ILogger logger, string address, string clientKey, string reason, long refused, long suppressed);
}
