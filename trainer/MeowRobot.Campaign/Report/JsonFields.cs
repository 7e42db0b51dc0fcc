using System.Globalization;
using System.Text.Json;

namespace MeowRobot.Campaign.Report;

/// <summary>
/// Typed reads of the JSON files other parts write (verdicts, promotion state and history), tolerant of keys added
/// later and strict about the ones the report shows: a missing or mistyped key is an <see cref="InvalidDataException"/>
/// naming it (<c>checks[2].value: expected a number</c>), which the report turns into a <see cref="ReportProblem"/>.
/// </summary>
internal readonly struct JsonFields(JsonElement element, string path)
{
    public JsonElement Element => element;

    public static JsonFields Object(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.Object ? new JsonFields(e, path) : throw Error(path, "expected an object");

    private static InvalidDataException Error(string path, string problem) => new(path.Length == 0 ? problem : $"{path}: {problem}");

    private string Key(string name) => path.Length == 0 ? name : $"{path}.{name}";

    private JsonElement? Get(string name) => element.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string? OptionalString(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw Error(Key(name), "expected a string"),
    };

    public string String(string name) => OptionalString(name) ?? throw Error(Key(name), "missing");

    /// <summary>A number, or null when absent, null or NaN (a figure that could not be measured).</summary>
    public double? OptionalNumber(string name) => Get(name) is { } v
        ? Number(v, Key(name)) is var d && double.IsNaN(d) ? null : d
        : null;

    /// <summary>A JSON number, or one of the named literals System.Text.Json writes with
    /// AllowNamedFloatingPointLiterals ("NaN", "Infinity", "-Infinity": how the gates write a value that is no number).</summary>
    private static double Number(JsonElement v, string key) => v.ValueKind switch
    {
        JsonValueKind.Number => v.GetDouble(),
        JsonValueKind.String when v.GetString() is "NaN" => double.NaN,
        JsonValueKind.String when v.GetString() is "Infinity" => double.PositiveInfinity,
        JsonValueKind.String when v.GetString() is "-Infinity" => double.NegativeInfinity,
        _ => throw Error(key, "expected a number"),
    };

    public long? OptionalInteger(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out var i) => i,
        _ => throw Error(Key(name), "expected an integer"),
    };

    public bool Bool(string name) => Get(name) switch
    {
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        null => throw Error(Key(name), "missing"),
        _ => throw Error(Key(name), "expected true or false"),
    };

    public JsonFields? OptionalObject(string name) => Get(name) is { } v ? Object(v, Key(name)) : null;

    public IEnumerable<JsonElement> Array(string name) => Get(name) switch
    {
        null => [],
        { ValueKind: JsonValueKind.Array } v => v.EnumerateArray(),
        _ => throw Error(Key(name), "expected an array"),
    };

    public IReadOnlyList<double> Numbers(string name)
    {
        var key = Key(name);
        return [.. Array(name).Select((v, i) => Number(v, $"{key}[{i.ToString(CultureInfo.InvariantCulture)}]"))];
    }

    /// <summary>The numeric members of this object (e.g. a rehearsal's per-episode figures), in file order.</summary>
    public IReadOnlyList<(string Name, double Value)> NumericMembers() =>
        [.. element.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number ||
                p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() is "NaN" or "Infinity" or "-Infinity")
            .Select(p => (p.Name, Number(p.Value, p.Name)))];

    /// <summary>The most a verdict, promotion state or history file may hold: far beyond any real one, and a bound on what a
    /// damaged or hostile file makes the report read.</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>A JSON file's text; <see cref="InvalidDataException"/> when it is larger than <see cref="MaxFileBytes"/>
    /// or cannot be read.</summary>
    public static string ReadText(string path)
    {
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxFileBytes)
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{length:N0} bytes, more than the {MaxFileBytes >> 20} MiB a report reads"));
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"cannot be read: {e.Message}", e);
        }
    }

    /// <summary>Parses a whole document; malformed JSON is an <see cref="InvalidDataException"/> with its line.</summary>
    public static JsonDocument Parse(string text)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            // The reader's message without its own position suffix (the line is given once, 1-based).
            var message = e.Message.Split([" Path:", " LineNumber:"], 2, StringSplitOptions.None)[0];
            throw new InvalidDataException($"malformed JSON (line {(e.LineNumber ?? 0) + 1}): {message}", e);
        }
    }
}
