using System.Globalization;
using System.Text.Json;
using MeowRobot.Bridge.Sim;

namespace MeowRobot.Control.RobotIo;

/// <summary>One finished episode of a simulated robot (or of an evaluation): the seed it was reset with (null: the
/// env's own stream), its undiscounted return, its length in steps, whether it terminated (else it was truncated), its
/// last observation, the randomised parameters it was played with (null: nothing randomised), and in a rehearsal the
/// controller's safe stops during it by reason (<see cref="Modes.SafeStopReason.Name"/> → count; null: not a rehearsal).</summary>
public sealed record EpisodeResult(int? Seed, double Return, int Length, bool Terminated, float[] FinalObs,
    IReadOnlyDictionary<string, double>? Params = null, IReadOnlyDictionary<string, long>? SafeStops = null)
{
    /// <summary>The values of an ended episode's randomised parameters as a batch reports them
    /// (<see cref="VectorBatch.FinalEpisodeParamsRow"/> of env <paramref name="env"/>), or null when nothing is randomised.</summary>
    public static IReadOnlyDictionary<string, double>? ParamsOf(VectorBatch batch, int env)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.EpisodeParamNames.Count == 0) return null;
        var row = batch.FinalEpisodeParamsRow(env);
        var values = new Dictionary<string, double>(batch.EpisodeParamNames.Count, StringComparer.Ordinal);
        for (var k = 0; k < row.Length; k++) values[batch.EpisodeParamNames[k]] = row[k];
        return values;
    }
}

/// <summary>
/// Episodes and their statistics as <c>trainer policy eval</c> and <c>controller run --episodes</c> both report them, so
/// the two compare line for line: JSON <c>{"episodes": [{"seed", "return", "length", "terminated", "final_obs",
/// "params"?, "safe_stops"?}, ...], "mean_return", "std_return", "controller"?}</c>, std over the episodes (÷ N, as the
/// trainer's evaluation); <c>params</c> (name → value) where parameters were randomised, <c>safe_stops</c> (reason →
/// count) an episode's safe stops in a rehearsal, <c>controller</c> (name → count) the controller's counters over a rehearsal.
/// </summary>
public sealed class EpisodeReport
{
    public EpisodeReport(IReadOnlyList<EpisodeResult> episodes, IReadOnlyList<KeyValuePair<string, long>>? counters = null)
    {
        ArgumentNullException.ThrowIfNull(episodes);
        Episodes = episodes;
        Counters = counters ?? [];
        if (episodes.Count == 0)
        {
            MeanReturn = StdReturn = MeanLength = double.NaN;
            return;
        }
        MeanReturn = episodes.Average(e => e.Return);
        var mean = MeanReturn;
        StdReturn = Math.Sqrt(episodes.Sum(e => (e.Return - mean) * (e.Return - mean)) / episodes.Count);
        MeanLength = episodes.Average(e => e.Length);
    }

    public IReadOnlyList<EpisodeResult> Episodes { get; }

    /// <summary>Counts that go with the episodes (a rehearsal's safe stops, envelope interventions, deadline misses).</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Counters { get; }
    public double MeanReturn { get; }
    public double StdReturn { get; }
    public double MeanLength { get; }

    /// <summary><c>mean_return=X std_return=Y episodes=N</c>, the common part of both summary lines.</summary>
    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"mean_return={MeanReturn:0.###} std_return={StdReturn:0.###} episodes={Episodes.Count}");

    public byte[] ToJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("episodes");
            foreach (var e in Episodes)
            {
                w.WriteStartObject();
                if (e.Seed is { } seed) w.WriteNumber("seed", seed);
                else w.WriteNull("seed");
                w.WriteNumber("return", e.Return);
                w.WriteNumber("length", e.Length);
                w.WriteBoolean("terminated", e.Terminated);
                w.WriteStartArray("final_obs");
                foreach (var v in e.FinalObs)
                {
                    if (float.IsFinite(v)) w.WriteNumberValue(v);
                    else w.WriteNullValue();   // JSON has no NaN; a non-finite observation is reported as null
                }
                w.WriteEndArray();
                if (e.Params is { } values)
                {
                    w.WriteStartObject("params");
                    foreach (var (name, value) in values) Number(w, name, value);
                    w.WriteEndObject();
                }
                if (e.SafeStops is { } stops)
                {
                    w.WriteStartObject("safe_stops");
                    foreach (var (reason, count) in stops) w.WriteNumber(reason, count);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Number(w, "mean_return", MeanReturn);
            Number(w, "std_return", StdReturn);
            if (Counters.Count > 0)
            {
                w.WriteStartObject("controller");
                foreach (var (name, count) in Counters) w.WriteNumber(name, count);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes <see cref="ToJson"/> atomically (a temporary file beside it, then a rename).</summary>
    public void Save(string path)
    {
        var full = Path.GetFullPath(path);
        var tmp = full + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(tmp, ToJson());
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>Reads a report written by <see cref="Save"/> (its statistics are recomputed from the episodes);
    /// <see cref="InvalidDataException"/> naming the file when it is not one.</summary>
    public static EpisodeReport Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            var episodes = root.GetProperty("episodes").EnumerateArray().Select(e => new EpisodeResult(
                e.GetProperty("seed").ValueKind == JsonValueKind.Null ? null : e.GetProperty("seed").GetInt32(),
                e.GetProperty("return").GetDouble(),
                e.GetProperty("length").GetInt32(),
                e.GetProperty("terminated").GetBoolean(),
                e.GetProperty("final_obs").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? float.NaN : v.GetSingle()).ToArray(),
                e.TryGetProperty("params", out var p) ? p.EnumerateObject().ToDictionary(x => x.Name, x => x.Value.GetDouble(), StringComparer.Ordinal) : null,
                e.TryGetProperty("safe_stops", out var s) ? s.EnumerateObject().ToDictionary(x => x.Name, x => x.Value.GetInt64(), StringComparer.Ordinal) : null)).ToArray();
            var counters = root.TryGetProperty("controller", out var c)
                ? c.EnumerateObject().Select(x => KeyValuePair.Create(x.Name, x.Value.GetInt64())).ToArray()
                : null;
            return new EpisodeReport(episodes, counters);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path} is not an episode report: {e.Message}", e);
        }
    }

    /// <summary>Parses <c>k=v</c> task parameters (<c>--param</c>); a malformed one is an <see cref="ArgumentException"/>.</summary>
    public static IReadOnlyDictionary<string, double>? ParseParameters(IReadOnlyList<string>? pairs)
    {
        if (pairs is null || pairs.Count == 0) return null;
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !double.TryParse(pair.AsSpan(eq + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                throw new ArgumentException($"--param '{pair}' is not NAME=NUMBER");
            if (!result.TryAdd(pair[..eq], value)) throw new ArgumentException($"--param {pair[..eq]} given twice");
        }
        return result;
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }
}
