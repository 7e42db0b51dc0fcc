using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MeowRobot.Trainer.Service;

/// <summary>What the service keeps beside the learner's own state: which task the run is for and its counters.</summary>
/// <param name="PublishedVersion">The newest bundle version published when the checkpoint was written.</param>
/// <param name="WallSeconds">Training time summed over every process of the run (resumes included).</param>
public sealed record RunCounters(string Task, int ObsDim, int ActDim, long EnvSteps, long Updates, ulong PublishedVersion, double WallSeconds,
    DateTimeOffset SavedAt);

/// <summary>A checkpoint file that was found intact: its counters, and where the learner's state starts in it.</summary>
public sealed record CheckpointCandidate(string Path, RunCounters Counters, long LearnerOffset, long LearnerLength);

/// <summary>
/// The run's checkpoints in RunDir, written so that a crash at any instant (kill -9, power loss) leaves a complete
/// checkpoint behind: the new one goes to <c>checkpoint.tmp</c>, is fsynced, the current <c>checkpoint.bin</c> becomes
/// <c>checkpoint.prev.bin</c>, the new file is renamed to <c>checkpoint.bin</c>, and the directory is fsynced.
/// <para>File: "MEOWRUN\n", format (int32), payload length (int64), payload = counters then the learner's checkpoint
/// (<see cref="Learner.OffPolicyLearner.SaveCheckpoint"/>), then the SHA-256 of the payload. A file whose length or hash
/// does not match is partial or corrupted and is skipped (with the reason) when resuming.</para>
/// </summary>
public sealed class RunCheckpoint(string runDirectory)
{
    public const string FileName = "checkpoint.bin";
    public const string PreviousFileName = "checkpoint.prev.bin";
    public const string TempFileName = "checkpoint.tmp";
    public const int Format = 1;

    private static ReadOnlySpan<byte> Magic => "MEOWRUN\n"u8;
    private const int HeaderLength = 8 + 4 + 8;
    private const int MaxTaskNameBytes = 256;

    public string Directory { get; } = runDirectory;
    public string Current => Path.Combine(Directory, FileName);

    /// <summary>Writes a checkpoint atomically (see the class notes); returns its size in bytes.</summary>
    /// <param name="writeLearner">Writes the learner's state to the stream it is given.</param>
    public long Save(RunCounters counters, Action<Stream> writeLearner)
    {
        ArgumentNullException.ThrowIfNull(counters);
        ArgumentNullException.ThrowIfNull(writeLearner);
        var temp = Path.Combine(Directory, TempFileName);
        long length;
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            file.Write(new byte[HeaderLength]); // patched below, once the payload length is known
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using (var payload = new BufferedStream(new HashingStream(file, hash), 1 << 20))
            {
                WriteCounters(payload, counters);
                writeLearner(payload);
            }
            var payloadLength = file.Position - HeaderLength;
            file.Write(hash.GetHashAndReset());
            length = file.Position;
            file.Position = 0;
            Span<byte> header = stackalloc byte[HeaderLength];
            Magic.CopyTo(header);
            BinaryPrimitives.WriteInt32LittleEndian(header[8..], Format);
            BinaryPrimitives.WriteInt64LittleEndian(header[12..], payloadLength);
            file.Write(header);
            file.Flush(flushToDisk: true);
        }
        var current = Current;
        if (File.Exists(current)) File.Move(current, Path.Combine(Directory, PreviousFileName), overwrite: true);
        File.Move(temp, current, overwrite: true);
        DirectorySync.Flush(Directory);
        return length;
    }

    /// <summary>
    /// The intact checkpoints of the run directory, newest (most env steps) first; each file that is not one (partial,
    /// corrupted, another format) is passed to <paramref name="skipped"/> with the reason. checkpoint.tmp is never a
    /// candidate: it is either a checkpoint that was not finished or one already renamed.
    /// </summary>
    public IReadOnlyList<CheckpointCandidate> FindIntact(Action<string, string> skipped)
    {
        ArgumentNullException.ThrowIfNull(skipped);
        var found = new List<CheckpointCandidate>();
        foreach (var name in new[] { FileName, PreviousFileName })
        {
            var path = Path.Combine(Directory, name);
            if (!File.Exists(path)) continue;
            try
            {
                found.Add(Inspect(path));
            }
            catch (InvalidDataException e)
            {
                skipped(path, e.Message);
            }
            catch (IOException e)
            {
                skipped(path, "unreadable: " + e.Message);
            }
        }
        return found.OrderByDescending(c => c.Counters.EnvSteps).ThenByDescending(c => c.Counters.SavedAt).ToList();
    }

    /// <summary>
    /// <see cref="FindIntact"/>, refusing a run directory whose checkpoint files are all damaged: starting over there
    /// would overwrite the run (and its metrics) within seconds, so that must be the operator's deliberate choice.
    /// </summary>
    /// <exception cref="TrainerSetupException">Checkpoint files exist and none is intact; the message says how to go on.</exception>
    public IReadOnlyList<CheckpointCandidate> FindResumable(Action<string, string> skipped)
    {
        ArgumentNullException.ThrowIfNull(skipped);
        var damaged = new List<string>();
        var found = FindIntact((path, why) =>
        {
            damaged.Add($"{path} ({why})");
            skipped(path, why);
        });
        if (found.Count > 0 || damaged.Count == 0) return found;
        throw new TrainerSetupException(
            $"every checkpoint of Trainer:RunDir {Directory} is damaged: {string.Join("; ", damaged)}. The trainer does not start over in " +
            "this directory, which would overwrite the run. To resume, put back an intact checkpoint (a backup); to start a new run " +
            $"deliberately, move the damaged files aside (mkdir {Directory}/damaged && mv {Directory}/checkpoint*.bin {Directory}/damaged/), " +
            "keeping published.version so that new bundles are numbered after those robots have, or set a new Trainer:RunDir");
    }

    /// <summary>Checks a checkpoint file's framing and hash and reads its counters.</summary>
    /// <exception cref="InvalidDataException">Partial, corrupted or not a run checkpoint.</exception>
    public static CheckpointCandidate Inspect(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> header = stackalloc byte[HeaderLength];
        if (file.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false) < HeaderLength) throw new InvalidDataException("shorter than a checkpoint header");
        if (!header[..8].SequenceEqual(Magic)) throw new InvalidDataException("not a MeowRobot run checkpoint");
        var format = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (format != Format) throw new InvalidDataException($"checkpoint format {format}; this build reads {Format}");
        var payloadLength = BinaryPrimitives.ReadInt64LittleEndian(header[12..]);
        if (payloadLength < 0 || HeaderLength + payloadLength + SHA256.HashSizeInBytes != file.Length)
            throw new InvalidDataException($"{file.Length} bytes where the header announces {HeaderLength + payloadLength + SHA256.HashSizeInBytes} (partial write?)");

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        for (var left = payloadLength; left > 0;)
        {
            var n = file.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0) throw new InvalidDataException("ends inside its payload");
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
        Span<byte> stored = stackalloc byte[SHA256.HashSizeInBytes];
        file.ReadExactly(stored);
        if (!hash.GetHashAndReset().AsSpan().SequenceEqual(stored)) throw new InvalidDataException("SHA-256 does not match its content (corrupted)");

        file.Position = HeaderLength;
        var counters = ReadCounters(file);
        var learnerOffset = file.Position;
        return new CheckpointCandidate(path, counters, learnerOffset, HeaderLength + payloadLength - learnerOffset);
    }

    /// <summary>Opens the learner's part of an intact checkpoint (a stream that ends where it ends).</summary>
    public static Stream OpenLearnerState(CheckpointCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var file = new FileStream(candidate.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        file.Position = candidate.LearnerOffset;
        return file;
    }

    private static void WriteCounters(Stream s, RunCounters c)
    {
        using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
        w.Write(c.Task);
        w.Write(c.ObsDim);
        w.Write(c.ActDim);
        w.Write(c.EnvSteps);
        w.Write(c.Updates);
        w.Write(c.PublishedVersion);
        w.Write(c.WallSeconds);
        w.Write(c.SavedAt.ToUnixTimeMilliseconds());
    }

    private static RunCounters ReadCounters(Stream s)
    {
        using var r = new BinaryReader(s, Encoding.UTF8, leaveOpen: true);
        try
        {
            var task = r.ReadString();
            if (Encoding.UTF8.GetByteCount(task) > MaxTaskNameBytes) throw new InvalidDataException("task name too long");
            var counters = new RunCounters(task, r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), r.ReadInt64(), r.ReadUInt64(), r.ReadDouble(),
                DateTimeOffset.FromUnixTimeMilliseconds(r.ReadInt64()));
            if (counters.EnvSteps < 0 || counters.Updates < 0 || !double.IsFinite(counters.WallSeconds))
                throw new InvalidDataException("counters out of range");
            return counters;
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentOutOfRangeException or FormatException)
        {
            throw new InvalidDataException("unreadable counters: " + e.Message, e);
        }
    }

    /// <summary>Forwards writes to the file and hashes them on the way.</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }

        // The file belongs to the caller: disposing the buffered writer must not close it.
        protected override void Dispose(bool disposing) => Flush();
    }
}
