using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MeowRobot.Hosting;

namespace MeowRobot.Campaign.Promotion;

/// <summary>What one robot is meant to run: a candidate's policy (by the SHA-256 of its file, kept in
/// promotion/bundles/) under a version number that only grows for that robot, and what it was meant to run before (the
/// rollback target; nested, a bounded chain). <see cref="Candidate"/> null: withdrawn (nothing is served to it).</summary>
public sealed record RobotRelease
{
    public string? Candidate { get; init; }
    public ulong Version { get; init; }
    public string? Sha256 { get; init; }
    public DateTimeOffset At { get; init; }
    public RobotRelease? Previous { get; init; }

    /// <summary>How many releases back a robot can be rolled, one at a time.</summary>
    public const int MaxDepth = 8;

    /// <summary>This release with its chain of previous ones cut at <see cref="MaxDepth"/>.</summary>
    public RobotRelease Bounded(int depth = MaxDepth) =>
        this with { Previous = depth <= 1 ? null : Previous?.Bounded(depth - 1) };
}

/// <summary>promotion/state.json: each robot's release, and where the last promotion stands (<c>canary</c> while its
/// canaries are watched, then <c>widened</c>, <c>rolled-back</c> or <c>manual-rollback</c>). The promotion stream
/// serves exactly what it says; only promote and rollback (holding promotion.lock) write it.</summary>
public sealed record PromotionState
{
    public Dictionary<string, RobotRelease> Robots { get; init; } = new(StringComparer.Ordinal);
    public string Phase { get; init; } = "none";
    public string? Candidate { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
}

/// <summary>One line of promotion/history.jsonl (appended, never rewritten).</summary>
public sealed record PromotionEvent
{
    public DateTimeOffset At { get; init; }
    /// <summary><c>canary</c>, <c>widen</c>, <c>rollback</c>, <c>manual-rollback</c> or <c>refused</c>.</summary>
    public required string Action { get; init; }
    public string? Candidate { get; init; }
    public IReadOnlyList<string> Robots { get; init; } = [];
    public string? Reason { get; init; }
    /// <summary>The version each robot was given by this event.</summary>
    public IReadOnlyDictionary<string, ulong>? Versions { get; init; }
    /// <summary>A candidate promoted whose gate verdict did not pass (<c>--force</c>).</summary>
    public bool Forced { get; init; }
    public IReadOnlyDictionary<string, CanaryObservation>? Telemetry { get; init; }
}

/// <summary>
/// A campaign's promotion/ directory: state.json, history.jsonl, the promoted policies (bundles/SHA256.safetensors:
/// the stream serves these copies, so a run directory changed or removed later never changes what robots get), and
/// promotion.lock, held by the promote or rollback in progress (a second one is refused).
/// </summary>
public sealed class PromotionRecords
{
    public const string DirectoryName = "promotion";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Reasons and transitions are read by people (history.jsonl, the report): '>' and quotes as they are.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonSerializerOptions Line = new(Json) { WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public PromotionRecords(string campaignDirectory)
    {
        Directory = Path.Combine(campaignDirectory, DirectoryName);
    }

    public string Directory { get; }
    public string StatePath => Path.Combine(Directory, "state.json");
    public string HistoryPath => Path.Combine(Directory, "history.jsonl");
    public string BundlePath(string sha256) => Path.Combine(Directory, "bundles", sha256 + ".safetensors");

    /// <summary>The state (an empty one before the first promotion).</summary>
    /// <exception cref="InvalidDataException">The file is not a promotion state.</exception>
    public PromotionState ReadState()
    {
        if (!File.Exists(StatePath)) return new PromotionState();
        return Parse(File.ReadAllText(StatePath), StatePath);
    }

    /// <exception cref="InvalidDataException">The text is not a promotion state.</exception>
    public static PromotionState Parse(string text, string path)
    {
        try
        {
            var state = JsonSerializer.Deserialize<PromotionState>(text, Json) ?? throw new InvalidDataException($"{path} is empty");
            foreach (var (name, release) in state.Robots)
            {
                if (release is null) throw new InvalidDataException($"{path}: robot '{name}' has no release");
                if (release.Candidate is not null && (release.Sha256 is not { Length: 64 } || release.Version == 0))
                    throw new InvalidDataException($"{path}: robot '{name}' names candidate '{release.Candidate}' without a version and a 64-digit sha256");
            }
            return state;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a promotion state: {e.Message}", e);
        }
    }

    public void WriteState(PromotionState state)
    {
        System.IO.Directory.CreateDirectory(Directory);
        CampaignJson.Write(StatePath, state, Json);
    }

    public void Append(PromotionEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        System.IO.Directory.CreateDirectory(Directory);
        var line = JsonSerializer.Serialize(e, Line) + "\n";
        using var file = new FileStream(HistoryPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        file.Write(Encoding.UTF8.GetBytes(line));
        file.Flush(flushToDisk: true);
    }

    public IReadOnlyList<PromotionEvent> ReadHistory() =>
        File.Exists(HistoryPath)
            ? [.. File.ReadAllLines(HistoryPath).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<PromotionEvent>(l, Line)!)]
            : [];

    /// <summary>Copies a policy file into bundles/ under its SHA-256 (kept once per content) and returns the hash.</summary>
    public string Keep(string policyPath)
    {
        var bytes = File.ReadAllBytes(policyPath);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var path = BundlePath(sha);
        if (!File.Exists(path))
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path + ".tmp", bytes);
            File.Move(path + ".tmp", path, overwrite: true);
        }
        return sha;
    }

    /// <summary>Holds promotion.lock for one promote or rollback (released by the kernel with the process, kill -9 too).</summary>
    /// <exception cref="PromotionInProgressException">Another promote or rollback holds it.</exception>
    public IDisposable Lock()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, "promotion.lock");
        return LockFile.TryTake(path)
            ?? throw new PromotionInProgressException($"another promote or rollback is in progress on this campaign ({path} is locked); wait for it to finish");
    }
}

/// <summary>A second promote or rollback while one holds the campaign's promotion lock.</summary>
public sealed class PromotionInProgressException : Exception
{
    public PromotionInProgressException() { }
    public PromotionInProgressException(string message) : base(message) { }
    public PromotionInProgressException(string message, Exception inner) : base(message, inner) { }
}
