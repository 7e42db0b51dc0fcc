using System.Globalization;
using System.Text.RegularExpressions;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Campaign.Spec;
using MeowRobot.Control.WeightStream;

namespace MeowRobot.Campaign.Promotion;

/// <summary>One robot a campaign promotes to: its name (the controller's Controller:RobotId, which the bundles name),
/// its CURVE public key (the promotion stream admits only it on its endpoint), the promotion stream's endpoints for it
/// (the controller's Controller:WeightStream:Endpoint / SnapshotEndpoint) and its controller's telemetry endpoint.</summary>
public sealed record PromotionRobot(string Name, byte[] PublicKey, string Stream, string Snapshot, string Telemetry);

/// <summary>When the canaries' telemetry over the watch window rolls a candidate back (each canary is judged alone; any
/// one failing rolls back every canary). The safe stops allowed are counted over all of them (<see cref="SafeStops"/>)
/// and by kind, as the gates split them: stalls (stale or missing observations, the deadline-miss budget: the machine's
/// doing) and policy stops (a state bound crossed, non-finite values). A limit left null is not checked; the spec
/// defaults to no safe stop of any kind. <see cref="MinMeanReturn"/> applies only to a robot that reported episodes.</summary>
public sealed record RollbackRule(int? SafeStops, int EnvelopeInterventions, double? MinMeanReturn, int? PolicySafeStops = null, int? StallSafeStops = null);

/// <summary>
/// The spec's <c>promotion:</c> section (docs/campaigns.md, "Promotion"): the robots, the canaries among them, the
/// stream's key pair (the trainer's: the robots pin its public key), the watch window and the rollback rule.
/// </summary>
public sealed record PromotionSpec(
    string StreamKeyFile,
    long StreamKeyLine,
    IReadOnlyList<PromotionRobot> Robots,
    IReadOnlyList<string> Canary,
    TimeSpan Watch,
    TimeSpan Engage,
    TimeSpan Silence,
    RollbackRule Rollback)
{
    private static readonly Regex RobotName = new("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", RegexOptions.CultureInvariant);

    public PromotionRobot Robot(string name) => Robots.First(r => r.Name == name);

    /// <summary>The robots that are not canaries, in spec order (widened to once the canaries passed).</summary>
    public IEnumerable<PromotionRobot> Rest => Robots.Where(r => !Canary.Contains(r.Name));

    /// <summary>Reads the section; relative key files are relative to the spec's directory.</summary>
    internal static PromotionSpec Parse(SpecNode node, string baseDirectory)
    {
        var map = node.Mapping("stream_key", "robots", "canary", "watch_seconds", "engage_seconds", "silence_seconds", "rollback");
        var keyNode = map.Required("stream_key");
        var streamKey = Path.GetFullPath(Path.Combine(baseDirectory, keyNode.Text()));
        if (!File.Exists(streamKey)) throw keyNode.Error($"the stream's secret key file '{streamKey}' does not exist (`./meow trainer keys generate`)");

        var robots = new List<PromotionRobot>();
        var robotsNode = map.Required("robots");
        foreach (var item in robotsNode.Items())
        {
            var r = item.Mapping("name", "key", "key_file", "stream", "snapshot", "telemetry");
            var nameNode = r.Required("name");
            var name = nameNode.Text();
            if (!RobotName.IsMatch(name)) throw nameNode.Error("a robot name (its Controller:RobotId) of letters, digits, '_', '.' and '-' (at most 64)");
            if (robots.Any(x => x.Name == name)) throw nameNode.Error($"robot '{name}' is named twice");
            var key = (r.Optional("key"), r.Optional("key_file")) switch
            {
                ({ } z85, null) => DecodeKey(z85),
                (null, { } file) => LoadKey(file, baseDirectory),
                (null, null) => throw item.Error("give the robot's CURVE public key: 'key' (Z85) or 'key_file'"),
                _ => throw r.Optional("key_file")!.Value.Error("give 'key' or 'key_file', not both"),
            };
            if (robots.FirstOrDefault(x => x.PublicKey.AsSpan().SequenceEqual(key)) is { } same)
                throw item.Error($"robot '{name}' has the public key of robot '{same.Name}'");
            var streamNode = r.Required("stream");
            var stream = Endpoint(streamNode);
            var snapshot = r.Optional("snapshot") is { } s ? Endpoint(s)
                : WeightStreamEndpoints.DefaultSnapshot(stream) ?? throw streamNode.Error($"no snapshot endpoint pairs with '{stream}': give 'snapshot'");
            foreach (var other in robots)
            {
                if (other.Stream == stream || other.Snapshot == stream || other.Stream == snapshot || other.Snapshot == snapshot)
                    throw streamNode.Error($"robot '{name}' shares a stream endpoint with robot '{other.Name}' (each robot has its own, so it can only ever hear what was promoted to it)");
            }
            robots.Add(new PromotionRobot(name, key, stream, snapshot, Endpoint(r.Required("telemetry"))));
        }
        if (robots.Count == 0) throw robotsNode.Error("at least one robot is needed");

        var canaryNode = map.Required("canary");
        var canary = new List<string>();
        foreach (var c in canaryNode.Items())
        {
            var name = c.Text();
            if (robots.All(r => r.Name != name)) throw c.Error($"'{name}' is not one of the robots ({string.Join(", ", robots.Select(r => r.Name))})");
            if (canary.Contains(name)) throw c.Error($"'{name}' is listed twice");
            canary.Add(name);
        }
        if (canary.Count == 0) throw canaryNode.Error("at least one canary robot is needed (promotion is canary-first)");

        var watch = Seconds(map.Optional("watch_seconds"), 60);
        var engage = Seconds(map.Optional("engage_seconds"), 30);
        var silence = Seconds(map.Optional("silence_seconds"), 5);
        var rule = new RollbackRule(0, 0, null);
        if (map.Optional("rollback") is { } ruleNode)
        {
            var rm = ruleNode.Mapping("safe_stops", "policy_safe_stops", "stall_safe_stops", "envelope_interventions", "min_mean_return");
            int? Limit(string key) => rm.Optional(key)?.Int(0, int.MaxValue);
            var (all, policy, stall) = (Limit("safe_stops"), Limit("policy_safe_stops"), Limit("stall_safe_stops"));
            rule = new RollbackRule(all is null && policy is null && stall is null ? 0 : all,
                rm.Optional("envelope_interventions")?.Int(0, int.MaxValue) ?? 0,
                rm.Optional("min_mean_return")?.Double(), policy, stall);
        }
        return new PromotionSpec(streamKey, keyNode.Line, robots, canary, watch, engage, silence, rule);
    }

    private static TimeSpan Seconds(SpecNode? node, double fallback)
    {
        if (node is not { } n) return TimeSpan.FromSeconds(fallback);
        var v = n.Double();
        return v is > 0 and <= 86_400 ? TimeSpan.FromSeconds(v) : throw n.Error(string.Create(CultureInfo.InvariantCulture, $"{v} is outside (0, 86400] seconds"));
    }

    private static string Endpoint(SpecNode node)
    {
        var e = node.Text();
        return e.StartsWith("tcp://", StringComparison.Ordinal) || e.StartsWith("ipc://", StringComparison.Ordinal)
            ? e : throw node.Error($"'{e}' is not a tcp:// or ipc:// endpoint");
    }

    private static byte[] DecodeKey(SpecNode node)
    {
        var text = node.Text();
        var key = new byte[ZmqCurveKeyPair.KeySize];
        return text.Length == 40 && Z85.TryDecode(text, key, out var n) && n == key.Length ? key : throw node.Error("not a 40-character Z85 public key");
    }

    private static byte[] LoadKey(SpecNode node, string baseDirectory)
    {
        try
        {
            return ZmqCurveKeyPair.LoadPublicKey(Path.GetFullPath(Path.Combine(baseDirectory, node.Text())));
        }
        catch (ZmqKeyFileException e)
        {
            throw node.Error(e.Message);
        }
    }
}
