using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Campaign.Spec;
using MeowRobot.Control.WeightStream;
using MeowRobot.Hosting;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeowRobot.Campaign.Promotion;

/// <summary>Configuration section "Promotion" of <c>campaign stream serve</c>.</summary>
public sealed class PromotionStreamOptions : IValidatableObject
{
    public const string Section = "Promotion";

    /// <summary>The campaign directory whose promotion/state.json is served (its spec.yaml names the robots).</summary>
    [Required]
    public string Campaign { get; set; } = "";

    /// <summary>How often state.json is read for changes.</summary>
    [Range(10, 10_000)]
    public int PollMilliseconds { get; set; } = 200;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        string? problem = null;
        try
        {
            Load(Campaign);
        }
        catch (Exception e) when (e is CampaignException or CampaignSpecException or ZmqKeyFileException)
        {
            problem = e.Message;
        }
        if (problem is not null) yield return new ValidationResult(problem, [nameof(Campaign)]);
    }

    /// <summary>The campaign's promotion section and the stream's key pair (errors name the spec's key and line).</summary>
    internal static (CampaignSpec Spec, PromotionSpec Promotion, ZmqCurveKeyPair Keys) Load(string directory)
    {
        using var campaign = MeowRobot.Campaign.Campaign.Open(directory);
        var promotion = campaign.Spec.Promotion ?? throw new CampaignException($"{campaign.Directory}/{MeowRobot.Campaign.Campaign.SpecFileName} has no promotion: section (docs/campaigns.md, \"Promotion\")");
        try
        {
            return (campaign.Spec, promotion, ZmqCurveKeyPair.Load(promotion.StreamKeyFile));
        }
        catch (ZmqKeyFileException e)
        {
            throw new CampaignSpecException(MeowRobot.Campaign.Campaign.SpecFileName, promotion.StreamKeyLine, "promotion.stream_key", e.Message);
        }
    }
}

/// <summary>
/// The promotion stream: the weight stream (<see cref="WeightStreamPublisher"/>, CURVE with the stream's key pair) of one
/// campaign's robots, one publisher per robot on its own endpoints admitting only that robot's key, each serving exactly
/// the bundle promotion/state.json names for that robot (addressed to it by name, under its version). It is long-lived
/// (systemd/meow-promotion.service) because the snapshot must outlive any one promote: a robot that restarts or
/// reconnects at any time asks for it and gets what was promoted to it, and nothing else ever reaches it.
/// </summary>
public sealed partial class PromotionStream(IOptions<PromotionStreamOptions> options, ILogger<PromotionStream> logger) : BackgroundService
{
    private readonly Dictionary<string, WeightStreamPublisher> _publishers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ulong Version, string Sha)> _served = new(StringComparer.Ordinal);

    public static ServiceDefinition Service { get; } = new("promotion", "Serve a campaign's promoted bundles to its robots (the promotion stream)")
    {
        Shorthands = [new("--campaign", "Promotion:Campaign", "the campaign directory")],
    };

    public static void Configure(HostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddValidatedOptions<PromotionStreamOptions>(builder.Configuration, PromotionStreamOptions.Section);
        builder.Services.AddHostedService<PromotionStream>();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var o = options.Value;
        var (spec, promotion, keys) = PromotionStreamOptions.Load(o.Campaign);
        var records = new PromotionRecords(Path.GetFullPath(o.Campaign));
        foreach (var robot in promotion.Robots) Open(robot, keys);
        string? lastText = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var text = File.Exists(records.StatePath) ? await File.ReadAllTextAsync(records.StatePath, stoppingToken).ConfigureAwait(false) : null;
                if (text != lastText)
                {
                    lastText = text;
                    Serve(text, records, spec, promotion, keys);
                }
                await Task.Delay(o.PollMilliseconds, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            Close();
        }
    }

    private void Open(PromotionRobot robot, ZmqCurveKeyPair keys)
    {
        _publishers[robot.Name] = new WeightStreamPublisher(keys, [robot.PublicKey],
            new WeightStreamPublisherOptions { PublishEndpoint = robot.Stream, SnapshotEndpoint = robot.Snapshot });
        LogRobot(logger, robot.Name, _publishers[robot.Name].PublishEndpoint, _publishers[robot.Name].SnapshotEndpoint);
    }

    /// <summary>Publishes each robot's release where it differs from what its publisher serves. A damaged state file or
    /// bundle changes nothing (the robots keep being served what they were).</summary>
    private void Serve(string? text, PromotionRecords records, CampaignSpec spec, PromotionSpec promotion, ZmqCurveKeyPair keys)
    {
        PromotionState state;
        try
        {
            state = text is null ? new PromotionState() : PromotionRecords.Parse(text, records.StatePath);
        }
        catch (InvalidDataException e)
        {
            LogDamaged(logger, e.Message);
            return;
        }
        foreach (var name in state.Robots.Keys.Where(n => promotion.Robots.All(r => r.Name != n)))
            LogUnknownRobot(logger, name);
        foreach (var robot in promotion.Robots)
        {
            var release = state.Robots.GetValueOrDefault(robot.Name);
            if (release?.Candidate is null)
            {
                if (_served.Remove(robot.Name))
                {
                    // A publisher keeps its last bundle as the snapshot: a fresh one serves none.
                    _publishers[robot.Name].Dispose();
                    Open(robot, keys);
                    LogWithdrawn(logger, robot.Name);
                }
                continue;
            }
            if (_served.TryGetValue(robot.Name, out var served) && served == (release.Version, release.Sha256!)) continue;
            try
            {
                var bytes = File.ReadAllBytes(records.BundlePath(release.Sha256!));
                if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != release.Sha256)
                    throw new InvalidDataException($"{records.BundlePath(release.Sha256!)} does not hash to its name");
                var m = PolicyFile.Parse(bytes).Metadata;
                var bundle = PolicyBundle.Create(release.Version, new PolicyIdentity(m.Task ?? spec.Task, m.ObsDim, m.ActDim, robot.Name),
                    bytes, release.At, m.Algorithm.Name());
                _publishers[robot.Name].Publish(bundle);
                _served[robot.Name] = (release.Version, release.Sha256!);
                LogPublished(logger, robot.Name, release.Candidate, release.Version, release.Sha256![..16]);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or PolicyFileException or UnauthorizedAccessException)
            {
                LogBadBundle(logger, robot.Name, release.Candidate, e.Message);
            }
        }
    }

    private void Close()
    {
        foreach (var p in _publishers.Values) p.Dispose();
        _publishers.Clear();
    }

    public override void Dispose()
    {
        Close();
        base.Dispose();
    }

    [LoggerMessage(1, LogLevel.Information, "robot {Robot}: promotion stream {Endpoint} (snapshot {Snapshot}), admitting only its key")]
    private static partial void LogRobot(ILogger logger, string robot, string endpoint, string snapshot);

    [LoggerMessage(2, LogLevel.Information, "robot {Robot}: serving {Candidate} as version {Version} (sha256 {Sha}…)")]
    private static partial void LogPublished(ILogger logger, string robot, string candidate, ulong version, string sha);

    [LoggerMessage(3, LogLevel.Warning, "robot {Robot}: withdrawn (no release to serve): a controller that restarts gets no bundle")]
    private static partial void LogWithdrawn(ILogger logger, string robot);

    [LoggerMessage(4, LogLevel.Error, "promotion state unreadable, serving what was served before: {Problem}")]
    private static partial void LogDamaged(ILogger logger, string problem);

    [LoggerMessage(5, LogLevel.Error, "robot {Robot}: the bundle of {Candidate} cannot be served, serving what was served before: {Problem}")]
    private static partial void LogBadBundle(ILogger logger, string robot, string candidate, string problem);

    [LoggerMessage(6, LogLevel.Warning, "state.json names robot {Robot}, which the spec's promotion: section does not list: ignored")]
    private static partial void LogUnknownRobot(ILogger logger, string robot);
}
