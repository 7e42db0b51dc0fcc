using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;

namespace MeowRobot.Policy.Bundles;

/// <summary>A malformed bundle message.</summary>
public sealed class PolicyBundleException : Exception
{
    public PolicyBundleException(string message, Exception? inner = null) : base(message, inner) { }

    public PolicyBundleException() : this("malformed policy bundle") { }

    public PolicyBundleException(string message) : this(message, null) { }
}

/// <summary>What the trainer streams to robots: a policy file's bytes with their SHA-256, a monotonic version, the
/// identity it is meant for and when it was made. The hash guards integrity; authenticity comes from the transport
/// (CURVE with a pinned trainer key). <see cref="Algorithm"/> names the algorithm that trained the policy (meow, sac,
/// s2ac, or one a newer trainer knows), so a controller can refuse what it cannot run before parsing the file.
/// Wire form: one MessagePack map (see controller/MeowRobot.Policy/README.md).</summary>
public sealed record PolicyBundle(ulong Version, PolicyIdentity Identity, DateTimeOffset CreatedAt, ReadOnlyMemory<byte> PolicyBytes, ReadOnlyMemory<byte> Sha256,
    string Algorithm = "meow")
{
    /// <summary>Format 2 carries <c>algorithm</c>; format-1 bundles (before there were several algorithms) are MEow's.</summary>
    public const int CurrentFormat = 2;

    /// <summary>Longest algorithm name accepted (UTF-8 bytes).</summary>
    public const int MaxAlgorithmBytes = 64;

    /// <summary>Largest policy accepted inside a bundle.</summary>
    public const long MaxPolicyBytes = PolicyFile.DefaultMaxBytes;

    /// <summary>A bundle of <paramref name="policyBytes"/>, hashing them.</summary>
    public static PolicyBundle Create(ulong version, PolicyIdentity identity, ReadOnlyMemory<byte> policyBytes, DateTimeOffset createdAt, string algorithm = "meow") =>
        new(version, identity, createdAt, policyBytes, SHA256.HashData(policyBytes.Span), algorithm);

    /// <summary>A bundle of a policy file, its identity taken from the file's metadata (meow.task, else
    /// <paramref name="task"/>; meow.robot, else "*").</summary>
    public static PolicyBundle Create(ulong version, PolicyFile policy, string task, DateTimeOffset createdAt)
    {
        var m = policy.Metadata;
        return Create(version, new PolicyIdentity(m.Task ?? task, m.ObsDim, m.ActDim, m.Robot ?? PolicyIdentity.AnyRobot), policy.ToBytes(), createdAt, m.Algorithm.Name());
    }

    /// <summary>Checks the bundle for this robot (its concrete identity) running policy version <paramref name="currentVersion"/>:
    /// hash, identity, dimensions, version, the algorithm (one this controller runs), then the file itself (valid, finite,
    /// metadata agreeing, the bundle's algorithm) and its runtime. Parses the file and builds the runtime, so call it off
    /// the control-loop thread.</summary>
    public BundleVerification Verify(PolicyIdentity robot, ulong currentVersion)
    {
        ArgumentNullException.ThrowIfNull(robot);
        if (Sha256.Length != SHA256.HashSizeInBytes || !SHA256.HashData(PolicyBytes.Span).AsSpan().SequenceEqual(Sha256.Span))
            return Reject(BundleVerdict.HashMismatch, "SHA-256 of the policy bytes does not match the bundle's");
        if (!Identity.Addresses(robot))
            return Reject(BundleVerdict.WrongIdentity, $"bundle is for task '{Identity.Task}' robot '{Identity.Robot}', this is task '{robot.Task}' robot '{robot.Robot}'");
        if (Identity.ObsDim != robot.ObsDim || Identity.ActDim != robot.ActDim)
            return Reject(BundleVerdict.WrongDimensions, $"bundle is ({Identity.ObsDim}, {Identity.ActDim}), this robot is ({robot.ObsDim}, {robot.ActDim})");
        if (Version <= currentVersion)
            return Reject(BundleVerdict.NotNewer, $"version {Version} is not newer than the running {currentVersion}");
        if (!PolicyAlgorithms.TryParse(Algorithm, out var algorithm))
            return Reject(BundleVerdict.UnsupportedAlgorithm, $"bundle carries a policy of algorithm '{Algorithm}', which this controller cannot run");
        PolicyFile policy;
        try
        {
            policy = PolicyFile.Parse(PolicyBytes);
        }
        catch (PolicyFileException e)
        {
            return Reject(e.Error switch
            {
                PolicyFileError.NonFinite => BundleVerdict.NonFiniteWeights,
                PolicyFileError.UnknownAlgorithm => BundleVerdict.UnsupportedAlgorithm,
                _ => BundleVerdict.MalformedFile,
            }, e.Message);
        }
        var m = policy.Metadata;
        if (m.ObsDim != Identity.ObsDim || m.ActDim != Identity.ActDim)
            return Reject(BundleVerdict.WrongDimensions, $"policy file is ({m.ObsDim}, {m.ActDim}) but the bundle says ({Identity.ObsDim}, {Identity.ActDim})");
        if ((m.Task is not null && m.Task != robot.Task) || (m.Robot is not null && m.Robot != PolicyIdentity.AnyRobot && m.Robot != robot.Robot))
            return Reject(BundleVerdict.WrongIdentity, $"policy file is for task '{m.Task}' robot '{m.Robot}'");
        if (m.Algorithm != algorithm)
            return Reject(BundleVerdict.MalformedFile, $"policy file is of algorithm {m.Algorithm.Name()} but the bundle says {Algorithm}");
        IPolicyRuntime runtime;
        try
        {
            runtime = PolicyRuntime.Create(policy);
        }
        catch (UnsupportedPolicyException e)
        {
            return Reject(BundleVerdict.UnsupportedAlgorithm, e.Message);
        }
        return new BundleVerification(BundleVerdict.Accepted, $"version {Version} accepted", this, policy, runtime);
    }

    /// <summary>Decodes then verifies; a malformed message gives <see cref="BundleVerdict.MalformedBundle"/>, never an exception.</summary>
    public static BundleVerification DecodeAndVerify(ReadOnlySpan<byte> message, PolicyIdentity robot, ulong currentVersion)
    {
        try
        {
            return Decode(message).Verify(robot, currentVersion);
        }
        catch (PolicyBundleException e)
        {
            return new BundleVerification(BundleVerdict.MalformedBundle, e.Message);
        }
    }

    private BundleVerification Reject(BundleVerdict verdict, string reason) => new(verdict, reason, this);

    // ---- wire form -------------------------------------------------------------------------------------------------

    /// <summary>Writes the bundle as one MessagePack map: format, version, task, robot, obs_dim, act_dim, created
    /// (timestamp), sha256 (bin 32), policy (bin), algorithm.</summary>
    public void Encode(IBufferWriter<byte> output)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(10);
        w.Write("format");
        w.Write(CurrentFormat);
        w.Write("version");
        w.Write(Version);
        w.Write("task");
        w.Write(Identity.Task);
        w.Write("robot");
        w.Write(Identity.Robot);
        w.Write("obs_dim");
        w.Write(Identity.ObsDim);
        w.Write("act_dim");
        w.Write(Identity.ActDim);
        w.Write("created");
        w.Write(CreatedAt);
        w.Write("sha256");
        w.WriteBinary(Sha256.Span);
        w.Write("policy");
        w.WriteBinary(PolicyBytes.Span);
        w.Write("algorithm");
        w.Write(Algorithm);
    }

    public byte[] ToMessagePack()
    {
        var buffer = new ArrayBufferWriter<byte>(PolicyBytes.Length + 256);
        Encode(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a bundle message: exactly its format's fields once each (format 1: nine, without algorithm; format 2:
    /// ten), nothing after the map.</summary>
    /// <exception cref="PolicyBundleException">Anything malformed (the MessagePack error, if any, is the inner exception).</exception>
    public static PolicyBundle Decode(ReadOnlySpan<byte> message)
    {
        try
        {
            return DecodeFields(message);
        }
        catch (MsgPackException e)
        {
            throw new PolicyBundleException("bundle is not valid MessagePack: " + e.Message, e);
        }
    }

    private static PolicyBundle DecodeFields(ReadOnlySpan<byte> message)
    {
        var r = new MsgPackReader(message);
        var fields = r.ReadMapHeader();
        var seen = default(MsgPackKeySet);
        int? format = null, obsDim = null, actDim = null;
        ulong? version = null;
        string? task = null, robot = null, algorithm = null;
        DateTimeOffset? created = null;
        byte[]? sha = null, policy = null;
        for (var i = 0; i < fields; i++)
        {
            var key = r.ReadUniqueKey(ref seen);
            if (key.SequenceEqual("format"u8)) format = r.ReadInt32();
            else if (key.SequenceEqual("version"u8)) version = r.ReadUInt64();
            else if (key.SequenceEqual("task"u8)) task = r.ReadString();
            else if (key.SequenceEqual("robot"u8)) robot = r.ReadString();
            else if (key.SequenceEqual("algorithm"u8))
            {
                algorithm = r.ReadString();
                if (algorithm.Length is 0 || Encoding.UTF8.GetByteCount(algorithm) > MaxAlgorithmBytes)
                    throw new PolicyBundleException($"algorithm name must be 1 to {MaxAlgorithmBytes} bytes");
            }
            else if (key.SequenceEqual("obs_dim"u8)) obsDim = r.ReadInt32();
            else if (key.SequenceEqual("act_dim"u8)) actDim = r.ReadInt32();
            else if (key.SequenceEqual("created"u8)) created = ToInstant(r.ReadTimestamp());
            else if (key.SequenceEqual("sha256"u8)) sha = r.ReadBinary().ToArray();
            else if (key.SequenceEqual("policy"u8))
            {
                var bytes = r.ReadBinary();
                if (bytes.Length > MaxPolicyBytes) throw new PolicyBundleException($"policy of {bytes.Length} bytes exceeds {MaxPolicyBytes}");
                policy = bytes.ToArray();
            }
            else throw new PolicyBundleException($"unknown bundle field '{Encoding.UTF8.GetString(key)}'");
        }
        if (!r.End) throw new PolicyBundleException($"{r.Remaining} bytes after the bundle map");
        if (format is null || version is null || task is null || robot is null || obsDim is null || actDim is null || created is null || sha is null || policy is null)
            throw new PolicyBundleException("bundle lacks a field (format, version, task, robot, obs_dim, act_dim, created, sha256, policy)");
        if (format is not (1 or CurrentFormat)) throw new PolicyBundleException($"bundle format {format}; this build reads 1 and {CurrentFormat}");
        if ((format == CurrentFormat) != (algorithm is not null))
            throw new PolicyBundleException(format == 1 ? "a format-1 bundle has no algorithm field" : "bundle lacks a field (algorithm)");
        if (obsDim < 1 || actDim < 1) throw new PolicyBundleException($"dimensions ({obsDim}, {actDim}) must be positive");
        return new PolicyBundle(version.Value, new PolicyIdentity(task, obsDim.Value, actDim.Value, robot), created.Value, policy, sha, algorithm ?? "meow");
    }

    private static DateTimeOffset ToInstant(MsgPackTimestamp t)
    {
        try
        {
            return t.ToDateTimeOffset();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new PolicyBundleException($"created timestamp {t.Seconds} s is outside the representable range", e);
        }
    }
}
