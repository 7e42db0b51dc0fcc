using System.Text.Json;

namespace MeowRobot.Campaign;

/// <summary>The campaign directory's JSON files are replaced whole: written beside, flushed, renamed over, so a reader
/// (or a process killed mid-write) sees the previous or the next content, never half of one.</summary>
internal static class AtomicJson
{
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
