using System.Globalization;
using System.Text.Json;

namespace MeowRobot.Campaign.Report;

/// <summary>One line of promotion/history.jsonl: what happened (canary, widen, rollback, manual-rollback, refused), to
/// which candidate and robots, when and why; <paramref name="Telemetry"/> is the event's telemetry as JSON text.</summary>
/// <param name="Forced">Promoted although its verdict did not pass (<c>campaign promote --force</c>).</param>
public sealed record ReportedPromotionEvent(int Line, string At, string Action, string? Candidate, IReadOnlyList<string> Robots, string? Reason, string? Telemetry, bool Forced);

/// <summary>One robot in promotion/state.json: what it is meant to run now and what it ran before.</summary>
public sealed record ReportedRobot(string Robot, string? Candidate, long? Version, string? Sha256, string? PreviousCandidate, long? PreviousVersion);

/// <summary>
/// What was promoted where and when (written by <c>campaign promote</c>/<c>rollback</c>; format in docs/campaigns.md):
/// promotion/history.jsonl, one event a line, and promotion/state.json. Either may be absent (nothing promoted yet);
/// a malformed history line is a problem of its own, the other lines still count.
/// </summary>
public sealed record ReportedPromotion(bool HistoryExists, IReadOnlyList<ReportedPromotionEvent> Events, bool StateExists, IReadOnlyList<ReportedRobot> Robots, string? Phase)
{
    public const string DirectoryName = "promotion", HistoryFileName = "history.jsonl", StateFileName = "state.json";

    public static ReportedPromotion Read(string campaignDirectory, ReportProblems problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        var history = Path.Combine(campaignDirectory, DirectoryName, HistoryFileName);
        var state = Path.Combine(campaignDirectory, DirectoryName, StateFileName);
        var events = new List<ReportedPromotionEvent>();
        if (File.Exists(history))
        {
            string text;
            try
            {
                text = JsonFields.ReadText(history);
            }
            catch (InvalidDataException e)
            {
                problems.Add(history, e.Message);
                text = "";
            }
            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim().Length == 0) continue;
                var at = string.Create(CultureInfo.InvariantCulture, $"line {i + 1}");
                try
                {
                    events.Add(Event(lines[i], i + 1));
                }
                catch (InvalidDataException e)
                {
                    problems.Add(history, i == lines.Length - 1 && !text.EndsWith('\n') ? $"{at} (the last, unterminated): {e.Message}" : $"{at}: {e.Message}");
                }
            }
        }
        var robots = new List<ReportedRobot>();
        string? phase = null;
        if (File.Exists(state))
        {
            try
            {
                (robots, phase) = State(JsonFields.ReadText(state));
            }
            catch (InvalidDataException e)
            {
                problems.Add(state, e.Message);
            }
        }
        return new ReportedPromotion(File.Exists(history), events, File.Exists(state), robots, phase);
    }

    private static ReportedPromotionEvent Event(string line, int number)
    {
        using var doc = JsonFields.Parse(line);
        var f = JsonFields.Object(doc.RootElement, "");
        var robots = f.Array("robots").Select((r, i) => r.ValueKind == JsonValueKind.String
            ? r.GetString()!
            : throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"robots[{i}]: expected a string"))).ToArray();
        var telemetry = f.Element.TryGetProperty("telemetry", out var t) && t.ValueKind != JsonValueKind.Null ? t.GetRawText() : null;
        var forced = f.Element.TryGetProperty("forced", out var x) && x.ValueKind == JsonValueKind.True;
        return new ReportedPromotionEvent(number, f.String("at"), f.String("action"), f.OptionalString("candidate"), robots, f.OptionalString("reason"), telemetry, forced);
    }

    private static (List<ReportedRobot>, string?) State(string text)
    {
        using var doc = JsonFields.Parse(text);
        var root = JsonFields.Object(doc.RootElement, "");
        var robots = new List<ReportedRobot>();
        if (root.OptionalObject("robots") is { } map)
        {
            foreach (var r in map.Element.EnumerateObject())
            {
                var f = JsonFields.Object(r.Value, $"robots.{r.Name}");
                var previous = f.OptionalObject("previous");
                robots.Add(new ReportedRobot(r.Name, f.OptionalString("candidate"), f.OptionalInteger("version"), f.OptionalString("sha256"),
                    previous?.OptionalString("candidate"), previous?.OptionalInteger("version")));
            }
        }
        // The phase is the promotion's own (a word, or an object of its details): shown as written.
        var phase = root.Element.TryGetProperty("phase", out var p) && p.ValueKind != JsonValueKind.Null
            ? p.ValueKind == JsonValueKind.String ? p.GetString() : p.GetRawText()
            : null;
        return (robots, phase);
    }
}
