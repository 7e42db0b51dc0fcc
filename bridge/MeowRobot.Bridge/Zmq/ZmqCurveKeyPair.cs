using System.Security.Cryptography;
using System.Text;

namespace MeowRobot.Bridge.Zmq;

/// <summary>
/// A CURVE key pair (32-byte Curve25519 keys). Key files are text: one line of 40 Z85 characters; blank lines and lines
/// starting with '#' are ignored. The secret key lives in its own file, which must not be readable or writable by group
/// or others (like an ssh key): loading refuses it otherwise.
/// </summary>
public sealed class ZmqCurveKeyPair
{
    public const int KeySize = 32;
    public const int Z85KeyLength = 40;

    private readonly byte[] _publicKey;
    private readonly byte[] _secretKey;

    private ZmqCurveKeyPair(byte[] publicKey, byte[] secretKey)
    {
        _publicKey = publicKey;
        _secretKey = secretKey;
    }

    public ReadOnlySpan<byte> PublicKey => _publicKey;
    public ReadOnlySpan<byte> SecretKey => _secretKey;
    public string PublicKeyZ85 => Z85.Encode(_publicKey);

    /// <summary>A fresh pair from libzmq (libsodium's random source).</summary>
    public static unsafe ZmqCurveKeyPair Generate()
    {
        var pub = stackalloc byte[Z85KeyLength + 1];
        var sec = stackalloc byte[Z85KeyLength + 1];
        if (ZmqNative.CurveKeypair(pub, sec) != 0) throw ZmqException.For("zmq_curve_keypair", ZmqNative.Errno());
        try
        {
            return new ZmqCurveKeyPair(
                Z85.Decode(Encoding.ASCII.GetString(pub, Z85KeyLength)),
                Z85.Decode(Encoding.ASCII.GetString(sec, Z85KeyLength)));
        }
        finally
        {
            new Span<byte>(sec, Z85KeyLength + 1).Clear();
        }
    }

    /// <summary>The pair whose secret key is <paramref name="secretKey"/> (the public key is derived by libzmq).</summary>
    public static unsafe ZmqCurveKeyPair FromSecretKey(ReadOnlySpan<byte> secretKey)
    {
        if (secretKey.Length != KeySize) throw new ArgumentException($"a CURVE secret key is {KeySize} bytes", nameof(secretKey));
        var sec = stackalloc byte[Z85KeyLength + 1];
        var pub = stackalloc byte[Z85KeyLength + 1];
        try
        {
            Encoding.ASCII.GetBytes(Z85.Encode(secretKey), new Span<byte>(sec, Z85KeyLength));
            sec[Z85KeyLength] = 0;
            if (ZmqNative.CurvePublic(pub, sec) != 0) throw ZmqException.For("zmq_curve_public", ZmqNative.Errno());
            return new ZmqCurveKeyPair(Z85.Decode(Encoding.ASCII.GetString(pub, Z85KeyLength)), secretKey.ToArray());
        }
        finally
        {
            new Span<byte>(sec, Z85KeyLength + 1).Clear();
        }
    }

    /// <summary>Loads the pair from its secret key file, checking that <paramref name="publicKeyFile"/> (when given)
    /// holds the matching public key.</summary>
    /// <exception cref="ZmqKeyFileException">unreadable, malformed, too open, or not matching</exception>
    public static ZmqCurveKeyPair Load(string secretKeyFile, string? publicKeyFile = null)
    {
        RequireUsablePath(secretKeyFile);
        if (!OperatingSystem.IsWindows())
        {
            UnixFileMode mode;
            try { mode = File.GetUnixFileMode(secretKeyFile); }
            catch (IOException e) { throw new ZmqKeyFileException(secretKeyFile, e.Message, e); }
            catch (UnauthorizedAccessException e) { throw new ZmqKeyFileException(secretKeyFile, e.Message, e); }
            const UnixFileMode open = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & open) != 0)
                throw new ZmqKeyFileException(secretKeyFile, $"secret key file is accessible to group/others (mode {Convert.ToString((int)mode, 8)}); chmod 600 it");
        }
        var pair = FromSecretKey(ReadKey(secretKeyFile));
        if (publicKeyFile is not null && !pair.PublicKey.SequenceEqual(LoadPublicKey(publicKeyFile)))
            throw new ZmqKeyFileException(publicKeyFile, $"public key does not belong to the secret key in {secretKeyFile}");
        return pair;
    }

    /// <summary>Reads a public key file (a server's key for clients, or an allow-listed client's key).</summary>
    public static byte[] LoadPublicKey(string publicKeyFile) => ReadKey(publicKeyFile);

    /// <summary>Every public key file (<c>*.key</c>) in <paramref name="directory"/>, in file name order: an allow-list.</summary>
    /// <exception cref="ZmqKeyFileException">a file is unreadable or malformed, or the directory is missing</exception>
    public static byte[][] LoadPublicKeys(string directory)
    {
        if (!Directory.Exists(directory)) throw new ZmqKeyFileException(directory, "no such directory of public keys");
        return [.. Directory.EnumerateFiles(directory, "*.key").Order(StringComparer.Ordinal).Select(LoadPublicKey)];
    }

    /// <summary>Writes the public key file (mode 644) and the secret key file (created with mode 600).</summary>
    public void Save(string secretKeyFile, string publicKeyFile)
    {
        File.WriteAllText(publicKeyFile, $"# MeowRobot CURVE public key (Z85)\n{PublicKeyZ85}\n");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(secretKeyFile, options);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(secretKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        stream.Write(Encoding.ASCII.GetBytes($"# MeowRobot CURVE secret key (Z85): keep private\n{Z85.Encode(_secretKey)}\n"));
    }

    // Configuration hands us any string: an empty one or one with a NUL would escape as ArgumentException.
    private static void RequireUsablePath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Trim().Length == 0) throw new ZmqKeyFileException(path, "the key file path is empty");
        if (path.Contains('\0')) throw new ZmqKeyFileException(path, "the key file path contains a NUL character");
    }

    private static byte[] ReadKey(string path)
    {
        RequireUsablePath(path);
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (IOException e) { throw new ZmqKeyFileException(path, e.Message, e); }
        catch (UnauthorizedAccessException e) { throw new ZmqKeyFileException(path, e.Message, e); }
        var keys = lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        if (keys.Length != 1)
            throw new ZmqKeyFileException(path, $"expected one line with a {Z85KeyLength}-character Z85 key, found {keys.Length} non-comment lines");
        var key = new byte[KeySize];
        if (keys[0].Length != Z85KeyLength || !Z85.TryDecode(keys[0], key, out _))
            throw new ZmqKeyFileException(path, $"not a {Z85KeyLength}-character Z85 key");
        return key;
    }

    /// <summary>Constant-time comparison of two public keys (allow-list checks).</summary>
    internal static bool SameKey(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => CryptographicOperations.FixedTimeEquals(a, b);
}

/// <summary>A CURVE key file could not be used; the message says which file and why.</summary>
public sealed class ZmqKeyFileException : IOException
{
    public ZmqKeyFileException(string path, string reason, Exception? inner = null)
        : base($"{(path.Length == 0 ? "\"\"" : path)}: {reason}", inner)
    {
        Path = path;
    }

    public string Path { get; }
}
