using System.Text.Json;

namespace MeowRobot.Campaign;

/// <summary>
/// The campaign directory's JSON files (run states, verdicts): read with a typed error naming the file, written whole
/// (beside, flushed, then renamed over), so a runner killed at any instant leaves the previous or the next file, never
/// half of one.
/// </summary>
public static class CampaignJson
{
    /// <summary>The file's value, or null when there is none; <see cref="InvalidDataException"/> naming it when it is
    /// not <paramref name="what"/>.</summary>
    public static T? Read<T>(string path, string what, JsonSerializerOptions options) where T : class
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), options) ?? throw new InvalidDataException($"{path} is empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not {what}: {e.Message}", e);
        }
    }

    public static void Write<T>(string path, T value, JsonSerializerOptions options)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, value, options);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
