using System.CommandLine;
using System.Text.RegularExpressions;
using MeowRobot.Bridge.Zmq;

namespace MeowRobot.Hosting;

/// <summary>
/// <c>keys generate --out DIR [--name NAME]</c>: a CURVE key pair for the weight stream or the sim protocol, as NAME.key (public, mode 644:
/// copy it to the other side) and NAME.key_secret (mode 600: never leaves this machine).
/// </summary>
public static partial class KeysCommand
{
    /// <param name="defaultName">File name stem when --name is not given ("trainer", "robot").</param>
    public static Command Create(string defaultName)
    {
        var outDir = new Option<string>("--out") { Description = "directory for the key files (created with mode 700 if missing)", Required = true };
        var name = new Option<string>("--name") { Description = "file name stem: NAME.key and NAME.key_secret", DefaultValueFactory = _ => defaultName };
        var force = new Option<bool>("--force") { Description = "replace existing key files (everything holding the old public key must get the new one)" };
        var generate = new Command("generate", "Generate a CURVE key pair: NAME.key (public) and NAME.key_secret (secret, mode 600)") { outDir, name, force };
        generate.SetAction(parse => Generate(parse.GetValue(outDir)!, parse.GetValue(name)!, parse.GetValue(force),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return new Command("keys", "CURVE keys that authenticate the weight stream and the sim protocol (docs/operations.md)") { generate };
    }

    private static int Generate(string directory, string name, bool force, TextWriter output, TextWriter error)
    {
        if (!SafeName().IsMatch(name))
        {
            error.WriteLine($"keys generate: --name '{name}' must be letters, digits, '.', '_' or '-'");
            return 2;
        }
        var publicFile = Path.Combine(directory, name + ".key");
        var secretFile = Path.Combine(directory, name + ".key_secret");
        try
        {
            if (!Directory.Exists(directory) && !OperatingSystem.IsWindows())
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            if (!force && (File.Exists(publicFile) || File.Exists(secretFile)))
            {
                error.WriteLine($"keys generate: {publicFile} or {secretFile} exists; keep it, or replace it with --force");
                return 1;
            }
            ZmqCurveKeyPair.Generate().Save(secretFile, publicFile);
            // Read back the way the services will, so a broken pair is caught here and not on a robot.
            var pair = ZmqCurveKeyPair.Load(secretFile, publicFile);
            output.WriteLine($"public key {pair.PublicKeyZ85}");
            output.WriteLine($"wrote {publicFile} (public: copy to the peers) and {secretFile} (secret: stays here, mode 600)");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ZmqException or Bridge.Native.MissingNativeLibraryException)
        {
            error.WriteLine($"keys generate: {e.Message}");
            return 1;
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex SafeName();
}
