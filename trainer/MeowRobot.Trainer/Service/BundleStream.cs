using System.Globalization;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.WeightStream;
using MeowRobot.Policy.Bundles;
using MeowRobot.Policy.Files;

namespace MeowRobot.Trainer.Service;

/// <summary>
/// The trainer's numbered policy bundles, and the weight stream publisher that carries them to robots when
/// Trainer:PublishEndpoint is set. Versions only ever grow, across restarts and crashes too: robots reject a bundle
/// that is not newer than the one they run, and a run resumed from a checkpoint may have published past it before
/// it crashed. So the newest version is also kept in RunDir/published.version, written before the bundle leaves.
/// </summary>
public sealed class BundleStream : IDisposable
{
    public const string VersionFileName = "published.version";

    private readonly WeightStreamPublisher? _publisher;
    private readonly string _versionFile;

    /// <param name="publishedVersion">The newest version of the run so far: its checkpoint's or <see cref="ReadVersionFile"/>'s, whichever is higher (0 for a new run).</param>
    public BundleStream(TrainerOptions options, ulong publishedVersion)
    {
        ArgumentNullException.ThrowIfNull(options);
        _versionFile = Path.Combine(options.RunDir, VersionFileName);
        Version = publishedVersion;
        if (options.PublishEndpoint is { } endpoint)
        {
            var keys = ZmqCurveKeyPair.Load(options.SecretKeyFile!);
            _publisher = new WeightStreamPublisher(keys, AllowedRobotKeys(options.AllowedRobotKeysDir), new WeightStreamPublisherOptions
            {
                PublishEndpoint = endpoint,
                SnapshotEndpoint = options.SnapshotEndpoint ?? WeightStreamEndpoints.DefaultSnapshot(endpoint)
                    ?? throw new InvalidOperationException($"no snapshot endpoint pairs with '{endpoint}'; set Trainer:SnapshotEndpoint"),
            });
        }
    }

    /// <summary>The newest version published (or recorded by an earlier process of the run).</summary>
    public ulong Version { get; private set; }

    /// <summary>The newest bundle this process published.</summary>
    public PolicyBundle? Latest { get; private set; }

    /// <summary>The bound endpoints (ports resolved), or null when not publishing.</summary>
    public string? PublishEndpoint => _publisher?.PublishEndpoint;
    public string? SnapshotEndpoint => _publisher?.SnapshotEndpoint;

    /// <summary>Robot keys admitted by the publisher (0 when not publishing).</summary>
    public int AllowedRobots { get; private set; }

    /// <summary>Numbers <paramref name="policy"/> with the next version and publishes it (when a publish endpoint is set).</summary>
    /// <param name="policy">The policy file for a given version (its metadata carries the version too).</param>
    public PolicyBundle Publish(Func<ulong, PolicyFile> policy, string task)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var version = Version + 1;
        var bundle = PolicyBundle.Create(version, policy(version), task, DateTimeOffset.UtcNow);
        AtomicFile.WriteAllText(_versionFile, version.ToString(CultureInfo.InvariantCulture) + "\n");
        Version = version;
        _publisher?.Publish(bundle);
        Latest = bundle;
        return bundle;
    }

    private byte[][] AllowedRobotKeys(string? directory)
    {
        if (directory is null) return [];
        var keys = Directory.EnumerateFiles(directory, "*.key").Order(StringComparer.Ordinal).Select(ZmqCurveKeyPair.LoadPublicKey).ToArray();
        AllowedRobots = keys.Length;
        return keys;
    }

    /// <summary>
    /// RunDir/published.version: the newest version robots may have (0 when the file is absent). Anything else than a
    /// version number refuses the start: reading it as 0 would number bundles again from the checkpoint's version, and
    /// robots already running a higher one would refuse every new bundle (or, worse, a reused number).
    /// </summary>
    /// <exception cref="TrainerSetupException">The file holds no version number.</exception>
    public static ulong ReadVersionFile(string runDirectory)
    {
        var path = Path.Combine(runDirectory, VersionFileName);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return 0;
        }
        if (ulong.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return v;
        var shown = text.Length > 40 ? text[..40] + "…" : text;
        throw new TrainerSetupException(
            $"{path} holds '{Sanitised(shown.Trim())}', not a version number: robots may run any version this run published, and numbering " +
            "again from the checkpoint could hand them one they already have. Write the newest version the robots run into it " +
            "(the controllers' telemetry says it), or remove the file if no robot ever ran this run's bundles");
    }

    private static string Sanitised(string s) => string.Concat(s.Select(c => char.IsControl(c) ? '?' : c));

    public void Dispose() => _publisher?.Dispose();
}

/// <summary>Small files replaced whole: write a temporary beside, fsync it, rename over, fsync the directory.</summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string text) => Write(path, s =>
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        s.Write(bytes);
    });

    public static void Write(string path, Action<Stream> write)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            write(file);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        DirectorySync.Flush(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }
}
