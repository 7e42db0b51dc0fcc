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

    /// <param name="checkpointVersion">The version the resumed checkpoint recorded (0 for a new run).</param>
    public BundleStream(TrainerOptions options, ulong checkpointVersion)
    {
        ArgumentNullException.ThrowIfNull(options);
        _versionFile = Path.Combine(options.RunDir, VersionFileName);
        Version = Math.Max(checkpointVersion, ReadVersionFile(_versionFile));
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

    private static ulong ReadVersionFile(string path)
    {
        try
        {
            return ulong.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
        }
        catch (FileNotFoundException)
        {
            return 0;
        }
    }

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
