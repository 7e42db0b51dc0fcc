using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace MeowRobot.Campaign.Promotion;

/// <summary>How a promote or rollback ended (the command's exit code).</summary>
public enum PromotionOutcome
{
    /// <summary>The canaries passed and every robot was given the candidate (or a rollback was published).</summary>
    Done = 0,
    /// <summary>The canaries' telemetry failed the rule: they were rolled back to their previous releases.</summary>
    RolledBack = 1,
    /// <summary>Nothing was published: another promote or rollback holds the lock (EX_TEMPFAIL).</summary>
    Busy = 75,
    /// <summary>Nothing was published: unknown candidate, a gate verdict that did not pass, no promotion section (EX_CONFIG).</summary>
    Refused = 78,
}

/// <summary>A promote or rollback refused before anything was published; the reason is recorded in history.jsonl.</summary>
public sealed class PromotionRefusedException : Exception
{
    public PromotionRefusedException() { }
    public PromotionRefusedException(string message) : base(message) { }
    public PromotionRefusedException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// <c>campaign promote</c> and <c>campaign rollback</c> (docs/campaigns.md, "Promotion"). A promote checks the candidate
/// (its gate verdict passed, for this very policy file), gives it to the canary robots by writing promotion/state.json
/// (the promotion stream serves it), waits until each canary's telemetry shows it running, watches their telemetry for
/// the watch window, and then either widens to the other robots or rolls the canaries back to their previous release
/// under a new, higher version. Every step is a line in history.jsonl.
/// </summary>
public sealed class Promoter
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(50);
    private readonly Campaign _campaign;
    private readonly PromotionSpec _spec;
    private readonly PromotionRecords _records;
    private readonly TextWriter _out;

    /// <exception cref="PromotionRefusedException">The campaign's spec has no promotion: section.</exception>
    public Promoter(Campaign campaign, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        _campaign = campaign;
        _spec = campaign.Spec.Promotion ?? throw new PromotionRefusedException(
            $"{Path.Combine(campaign.Directory, Campaign.SpecFileName)} has no promotion: section (robots, canary, watch, rollback rule: docs/campaigns.md)");
        _records = new PromotionRecords(campaign.Directory);
        _out = output;
    }

    public PromotionRecords Records => _records;

    /// <summary>Promotes <paramref name="candidate"/> canary-first; <paramref name="force"/> promotes one whose gate did not pass.</summary>
    public PromotionOutcome Promote(string candidate, bool force, CancellationToken cancellation)
    {
        using var held = _records.Lock();
        var state = _records.ReadState();
        var canaries = _spec.Canary.Select(_spec.Robot).ToList();
        string policy, sha;
        string? gateProblem;
        try
        {
            if (state.Phase == "canary" && !force)
                throw new PromotionRefusedException($"the promotion of {state.Candidate} was interrupted during its canary watch (state.json phase 'canary'): " +
                    "run `campaign rollback` first, or promote with --force");
            (policy, sha, gateProblem) = Check(candidate);
            if (gateProblem is not null && !force) throw new PromotionRefusedException($"{gateProblem}; --force promotes it anyway (recorded in history.jsonl)");
        }
        catch (PromotionRefusedException e)
        {
            Refuse(candidate, canaries.Select(c => c.Name), e.Message);
            throw;
        }
        var kept = _records.Keep(policy);
        if (kept != sha) throw new PromotionRefusedException($"{policy} changed while it was being promoted");

        var watches = _spec.Robots.ToDictionary(r => r.Name, r => new RobotTelemetry(r.Name, r.Telemetry), StringComparer.Ordinal);
        try
        {
            // A canary that cannot be heard cannot be judged: nothing is published to any robot then.
            var silent = Await(canaries, r => watches[r.Name].Latest is not null, _spec.Silence, cancellation);
            if (silent.Count > 0)
            {
                var why = string.Join("; ", silent.Select(r => $"canary {r.Name}: no telemetry from {r.Telemetry} within {Seconds(_spec.Silence)}"));
                Refuse(candidate, canaries.Select(c => c.Name), why);
                throw new PromotionRefusedException(why + ": not promoting to robots whose telemetry cannot be judged");
            }

            var forced = gateProblem is not null;
            var versions = Give(canaries, candidate, sha, watches, "canary");
            _records.Append(new PromotionEvent
            {
                At = DateTimeOffset.UtcNow, Action = "canary", Candidate = candidate, Robots = [.. canaries.Select(c => c.Name)], Versions = versions, Forced = forced,
                Reason = forced ? $"forced: {gateProblem}" : "gate verdict passed",
            });
            _out.WriteLine($"promote {candidate}: canary {string.Join(", ", versions.Select(v => $"{v.Key} v{v.Value}"))}; watching for {Seconds(_spec.Watch)}");

            var failure = WatchCanaries(canaries, watches, cancellation);
            var telemetry = canaries.ToDictionary(c => c.Name, c => watches[c.Name].Observe(), StringComparer.Ordinal);
            if (failure is not null)
            {
                var back = RollBack(canaries, watches);
                _records.Append(new PromotionEvent
                {
                    At = DateTimeOffset.UtcNow, Action = "rollback", Candidate = candidate, Robots = [.. canaries.Select(c => c.Name)], Versions = back,
                    Reason = $"{failure}; {Describe(canaries, back)}", Forced = forced, Telemetry = telemetry,
                });
                _out.WriteLine($"promote {candidate}: rolled back ({failure}): {Describe(canaries, back)}");
                Report(canaries, watches, back, cancellation);
                return PromotionOutcome.RolledBack;
            }

            var rest = _spec.Rest.ToList();
            var widened = Give(rest, candidate, sha, watches, "widened");
            _records.Append(new PromotionEvent
            {
                At = DateTimeOffset.UtcNow, Action = "widen", Candidate = candidate, Robots = [.. rest.Select(r => r.Name)], Versions = widened, Forced = forced,
                Reason = $"canaries passed the watch of {Seconds(_spec.Watch)}: " + string.Join("; ", telemetry.Select(t => Summary(t.Key, t.Value))),
                Telemetry = telemetry,
            });
            _out.WriteLine($"promote {candidate}: canaries passed; widened to {(rest.Count == 0 ? "no other robot" : Describe(rest, widened))}");
            Report(rest, watches, widened, cancellation);
            return PromotionOutcome.Done;
        }
        finally
        {
            foreach (var w in watches.Values) w.Dispose();
        }
    }

    /// <summary>Gives every robot with a previous release (or those named) that release again, under a new version.</summary>
    public PromotionOutcome Rollback(IReadOnlyCollection<string> only, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(only);
        using var held = _records.Lock();
        foreach (var name in only.Where(n => _spec.Robots.All(r => r.Name != n)))
            throw new PromotionRefusedException($"'{name}' is not one of the campaign's robots ({string.Join(", ", _spec.Robots.Select(r => r.Name))})");
        var state = _records.ReadState();
        var robots = _spec.Robots.Where(r => (only.Count == 0 || only.Contains(r.Name)) && state.Robots.GetValueOrDefault(r.Name)?.Candidate is not null).ToList();
        if (robots.Count == 0) throw new PromotionRefusedException("no robot has a promoted release to roll back");
        var watches = robots.ToDictionary(r => r.Name, r => new RobotTelemetry(r.Name, r.Telemetry), StringComparer.Ordinal);
        try
        {
            // The versions the robots run, where they can be heard in a moment, so the rollback's version is above them.
            Await(robots, r => watches[r.Name].Latest is not null, _spec.Silence, cancellation);
            var back = RollBack(robots, watches, "manual-rollback");
            _records.Append(new PromotionEvent
            {
                At = DateTimeOffset.UtcNow, Action = "manual-rollback", Candidate = state.Candidate, Robots = [.. robots.Select(r => r.Name)], Versions = back,
                Reason = "campaign rollback: " + Describe(robots, back),
            });
            _out.WriteLine($"rollback: {Describe(robots, back)}");
            Report(robots, watches, back, cancellation);
            return PromotionOutcome.Done;
        }
        finally
        {
            foreach (var w in watches.Values) w.Dispose();
        }
    }

    /// <summary>The candidate's policy file, its SHA-256 and what is wrong with its gate verdict (null: it passed).</summary>
    private (string Policy, string Sha, string? GateProblem) Check(string candidate)
    {
        var run = _campaign.Plan.Runs.FirstOrDefault(r => r.Id == candidate)
            ?? throw new PromotionRefusedException($"unknown candidate '{candidate}' (the campaign's runs: {string.Join(", ", _campaign.Plan.Runs.Select(r => r.Id))})");
        var policy = Path.Combine(run.TrainerDirectory, "policy.safetensors");
        if (!File.Exists(policy)) throw new PromotionRefusedException($"candidate '{candidate}' has no final policy ({policy}): its run has not finished");
        var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(policy)));
        var verdictPath = Path.Combine(run.Directory, "gate", "verdict.json");
        if (!File.Exists(verdictPath)) return (policy, sha, $"candidate '{candidate}' has no gate verdict ({verdictPath})");
        try
        {
            using var verdict = JsonDocument.Parse(File.ReadAllText(verdictPath));
            var root = verdict.RootElement;
            if (root.TryGetProperty("policy_sha256", out var s) && s.ValueKind == JsonValueKind.String && !string.Equals(s.GetString(), sha, StringComparison.OrdinalIgnoreCase))
                return (policy, sha, $"candidate '{candidate}': its gate verdict is for another policy file (sha256 {s.GetString()}, the file's is {sha}): gate it again");
            if (root.TryGetProperty("passed", out var passed) && passed.ValueKind == JsonValueKind.True) return (policy, sha, null);
            var failed = root.TryGetProperty("checks", out var checks) && checks.ValueKind == JsonValueKind.Array
                ? checks.EnumerateArray().Where(c => c.TryGetProperty("passed", out var p) && p.ValueKind == JsonValueKind.False)
                    .Select(c => c.TryGetProperty("name", out var n) ? n.ToString() : "?").ToList()
                : [];
            return (policy, sha, $"candidate '{candidate}' did not pass its gates" + (failed.Count > 0 ? $" ({string.Join(", ", failed)})" : ""));
        }
        catch (JsonException e)
        {
            return (policy, sha, $"candidate '{candidate}': its gate verdict {verdictPath} is unreadable ({e.Message})");
        }
    }

    /// <summary>Gives <paramref name="robots"/> releases of <paramref name="candidate"/> (their watches started first,
    /// so no telemetry of the new version is missed) and returns the versions given.</summary>
    private Dictionary<string, ulong> Give(IReadOnlyList<PromotionRobot> robots, string candidate, string sha, Dictionary<string, RobotTelemetry> watches, string phase) =>
        Write(robots, watches, phase, candidate, (current, version, now) => new RobotRelease
        {
            Candidate = candidate, Version = version, Sha256 = sha, At = now,
            // What ran before is the rollback target; a withdrawn robot's target is the one before it.
            Previous = (current?.Candidate is not null ? current : current?.Previous)?.Bounded(RobotRelease.MaxDepth - 1),
        });

    /// <summary>Gives each robot its previous release again under a new version (a robot without one is withdrawn).</summary>
    private Dictionary<string, ulong> RollBack(IReadOnlyList<PromotionRobot> robots, Dictionary<string, RobotTelemetry> watches, string phase = "rolled-back") =>
        Write(robots, watches, phase, null, (current, version, now) => current?.Previous is { } previous
            ? previous with { Version = version, At = now }
            : new RobotRelease { Candidate = null, Version = current?.Version ?? 0, At = now });

    /// <summary>Replaces the releases of <paramref name="robots"/> in state.json by <paramref name="next"/>(current, the
    /// robot's next version, now), watches the versions given and returns them (withdrawn robots have none).</summary>
    private Dictionary<string, ulong> Write(IReadOnlyList<PromotionRobot> robots, Dictionary<string, RobotTelemetry> watches, string phase, string? candidate,
        Func<RobotRelease?, ulong, DateTimeOffset, RobotRelease> next)
    {
        var state = _records.ReadState();
        var releases = new Dictionary<string, RobotRelease>(state.Robots, StringComparer.Ordinal);
        var versions = new Dictionary<string, ulong>(StringComparer.Ordinal);
        var now = DateTimeOffset.UtcNow;
        foreach (var robot in robots)
        {
            var current = releases.GetValueOrDefault(robot.Name);
            var release = next(current, NextVersion(current, watches[robot.Name]), now);
            releases[robot.Name] = release;
            if (release.Candidate is null) continue;
            versions[robot.Name] = release.Version;
            watches[robot.Name].Watch(release.Version);
        }
        _records.WriteState(new PromotionState { Robots = releases, Phase = phase, Candidate = candidate ?? state.Candidate, UpdatedAt = now });
        return versions;
    }

    /// <summary>Above everything the robot was given and everything it says it runs (it may have followed a run live,
    /// or run a policy file of a higher version): a controller refuses a bundle that is not newer than its own.</summary>
    private static ulong NextVersion(RobotRelease? current, RobotTelemetry watch)
    {
        var heard = watch.Latest is { } r ? Math.Max(r.StreamVersion, (ulong)Math.Max(0, r.PolicyVersion)) : 0;
        return Math.Max(current?.Version ?? 0, heard) + 1;
    }

    /// <summary>Waits for every canary to run the candidate, then watches them; returns why they fail, or null.</summary>
    private string? WatchCanaries(IReadOnlyList<PromotionRobot> canaries, Dictionary<string, RobotTelemetry> watches, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (cancellation.IsCancellationRequested) return "promote interrupted during the canary watch";
            var engaged = true;
            var watched = TimeSpan.MaxValue;
            foreach (var canary in canaries)
            {
                var w = watches[canary.Name];
                if (w.Silence > _spec.Silence)
                    return $"canary {canary.Name}: telemetry silent for {Seconds(_spec.Silence)} ({canary.Telemetry})";
                if (w.Restarted) return $"canary {canary.Name}: its controller restarted during the watch";
                var o = w.Observe();
                if (!w.Engaged)
                {
                    engaged = false;
                    if (clock.Elapsed > _spec.Engage)
                    {
                        var why = w.Latest is { } r ? $"it runs v{r.PolicyVersion}" : "no telemetry";
                        return $"canary {canary.Name}: did not run the candidate within {Seconds(_spec.Engage)} ({why}; see its log for the bundle's verdict)";
                    }
                    continue;
                }
                if (o.PolicyVersion != w.Watched)
                    return $"canary {canary.Name}: runs v{o.PolicyVersion} instead of the candidate's v{w.Watched} (another source gave it a policy)";
                if (Judge(_spec.Rollback, canary.Name, o, final: false) is { } failed) return failed;
                watched = TimeSpan.FromSeconds(Math.Min(watched.TotalSeconds, o.WatchedSeconds));
            }
            if (engaged && watched >= _spec.Watch)
            {
                foreach (var canary in canaries)
                {
                    if (Judge(_spec.Rollback, canary.Name, watches[canary.Name].Observe(), final: true) is { } failed) return failed;
                }
                return null;
            }
            cancellation.WaitHandle.WaitOne(Tick);
        }
    }

    /// <summary>Why one canary's observation fails the rule (null: it passes so far). Returns are judged at the end of
    /// the window, on the episodes that finished in it.</summary>
    public static string? Judge(RollbackRule rule, string robot, CanaryObservation o, bool final)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(o);
        var inv = CultureInfo.InvariantCulture;
        foreach (var (count, limit, kind) in new[] { (o.SafeStops, rule.SafeStops, ""), (o.PolicySafeStops, rule.PolicySafeStops, "policy "), (o.StallSafeStops, rule.StallSafeStops, "stall ") })
        {
            if (count > limit)
                return string.Create(inv, $"canary {robot}: {count} {kind}safe stop(s) in {o.WatchedSeconds:0.##} s > {limit} allowed");
        }
        if (o.EnvelopeInterventions > rule.EnvelopeInterventions)
            return string.Create(inv, $"canary {robot}: {o.EnvelopeInterventions} envelope intervention(s) in {o.WatchedSeconds:0.##} s > {rule.EnvelopeInterventions} allowed");
        if (final && rule.MinMeanReturn is { } min && o.MeanReturn is { } mean && mean < min)
            return string.Create(inv, $"canary {robot}: mean return {mean:0.#} over {o.Returns.Count} episode(s) < {min:0.#}");
        return null;
    }

    /// <summary>Waits (bounded by the engage time) until the robots run the versions given, and says who does.</summary>
    private void Report(IReadOnlyList<PromotionRobot> robots, Dictionary<string, RobotTelemetry> watches, Dictionary<string, ulong> versions, CancellationToken cancellation)
    {
        var given = robots.Where(r => versions.ContainsKey(r.Name)).ToList();
        // A robot that cannot be heard is not waited for: it gets its release from the stream's snapshot when it is back.
        Await(given, r => watches[r.Name].Engaged || watches[r.Name].Silence > _spec.Silence, _spec.Engage, cancellation);
        var late = given.Where(r => !watches[r.Name].Engaged).ToList();
        foreach (var r in given)
            _out.WriteLine(late.Contains(r) ? $"  {r.Name}: v{versions[r.Name]} not running yet (it gets it from the stream's snapshot when it is back)" : $"  {r.Name}: runs v{versions[r.Name]}");
    }

    /// <summary>Waits until <paramref name="done"/> holds for every robot or the time is up; returns those it does not hold for.</summary>
    private static List<PromotionRobot> Await(IReadOnlyList<PromotionRobot> robots, Func<PromotionRobot, bool> done, TimeSpan limit, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var waiting = robots.Where(r => !done(r)).ToList();
            if (waiting.Count == 0 || clock.Elapsed >= limit || cancellation.IsCancellationRequested) return waiting;
            cancellation.WaitHandle.WaitOne(Tick);
        }
    }

    private void Refuse(string candidate, IEnumerable<string> robots, string reason) =>
        _records.Append(new PromotionEvent { At = DateTimeOffset.UtcNow, Action = "refused", Candidate = candidate, Robots = [.. robots], Reason = reason });

    private static string Summary(string robot, CanaryObservation o) => string.Create(CultureInfo.InvariantCulture,
        $"{robot}: {o.SafeStops} safe stops ({o.StallSafeStops} stalls), {o.EnvelopeInterventions} envelope interventions in {o.WatchedSeconds:0.#} s, {o.Returns.Count} episodes") +
        (o.MeanReturn is { } m ? string.Create(CultureInfo.InvariantCulture, $" (mean return {m:0.#})") : "");

    /// <summary>Each robot's new version, or why it has none: withdrawn, having no previous release to go back to.</summary>
    private static string Describe(IEnumerable<PromotionRobot> robots, Dictionary<string, ulong> versions) =>
        string.Join(", ", robots.Select(r => versions.TryGetValue(r.Name, out var v) ? $"{r.Name} v{v}"
            : $"{r.Name} withdrawn (no previous release: its stream now serves nothing; a running controller keeps the candidate until it is stopped or given another)"));

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
