using System.CommandLine;
using System.Text;
using MeowRobot.Bridge.Native;

namespace MeowRobot.Hosting;

/// <summary>
/// How the executables run their root command. Help's <c>Usage:</c> lines name the command the way the user typed it:
/// <c>./meow trainer serve [options]</c> when started by ./meow (which sets <see cref="InvokedAsVariable"/>), else the
/// executable's own name (e.g. /opt/meowrobot/trainer/MeowRobot.Trainer as installed).
/// </summary>
public static class CommandLineApp
{
    /// <summary>What ./meow puts here: "./meow trainer" and so on.</summary>
    public const string InvokedAsVariable = "MEOWROBOT_CLI";

    /// <summary>EX_UNAVAILABLE (sysexits.h): a native library the command needs is not installed.</summary>
    public const int MissingLibraryExitCode = 69;

    /// <param name="processTerminationTimeout">How long a SIGTERM or Ctrl-C waits for the command's action to finish
    /// (System.CommandLine's default, 2 s, when null).</param>
    public static int Invoke(RootCommand root, string[] args, TimeSpan? processTerminationTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        // Our own handler: a missing Debian package is the user's next step, not a stack trace.
        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        if (processTerminationTimeout is { } wait) configuration.ProcessTerminationTimeout = wait;
        var invokedAs = Environment.GetEnvironmentVariable(InvokedAsVariable);
        using var output = string.IsNullOrWhiteSpace(invokedAs) ? null : new UsageWriter(Console.Out, RootCommand.ExecutableName, invokedAs.Trim());
        if (output is not null) configuration.Output = output;
        try
        {
            return root.Parse(args).Invoke(configuration);
        }
        catch (Exception e)
        {
            return Report(e, configuration.Error);
        }
    }

    /// <summary>What the exit code and stderr say about an exception no command handled.</summary>
    public static int Report(Exception exception, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(error);
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is MissingNativeLibraryException missing)
            {
                error.WriteLine($"error: {missing.Message}");
                return MissingLibraryExitCode;
            }
        }
        // As System.CommandLine's own handler: a cancelled command says nothing more.
        if (exception is not OperationCanceledException) error.WriteLine($"Unhandled exception: {exception}");
        return 1;
    }

    /// <summary>Passes text through line by line, rewriting a usage line's leading executable name.</summary>
    private sealed class UsageWriter(TextWriter inner, string executable, string invokedAs) : TextWriter
    {
        private readonly StringBuilder _line = new();

        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            _line.Append(value);
            if (value == '\n') Emit();
        }

        public override void Write(string? value)
        {
            foreach (var c in value ?? "") Write(c);
        }

        public override void Flush()
        {
            if (_line.Length > 0) Emit();
            inner.Flush();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) Flush();
            base.Dispose(disposing);
        }

        private void Emit()
        {
            var line = _line.ToString();
            _line.Clear();
            var trimmed = line.TrimStart(' ');
            var indent = line.Length - trimmed.Length;
            // Usage lines are "  NAME sub [options]"; the name alone never starts any other line of help or output.
            if (indent > 0 && trimmed.StartsWith(executable, StringComparison.Ordinal) &&
                (trimmed.Length == executable.Length || trimmed[executable.Length] is ' ' or '\n' or '\r'))
                line = line[..indent] + invokedAs + trimmed[executable.Length..];
            inner.Write(line);
        }
    }
}
