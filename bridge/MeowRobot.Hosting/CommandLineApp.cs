using System.CommandLine;
using System.Text;

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

    /// <param name="processTerminationTimeout">How long a SIGTERM or Ctrl-C waits for the command's action to finish
    /// (System.CommandLine's default, 2 s, when null).</param>
    public static int Invoke(RootCommand root, string[] args, TimeSpan? processTerminationTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        var configuration = new InvocationConfiguration();
        if (processTerminationTimeout is { } wait) configuration.ProcessTerminationTimeout = wait;
        var invokedAs = Environment.GetEnvironmentVariable(InvokedAsVariable);
        if (string.IsNullOrWhiteSpace(invokedAs)) return root.Parse(args).Invoke(configuration);
        using var output = new UsageWriter(Console.Out, RootCommand.ExecutableName, invokedAs.Trim());
        configuration.Output = output;
        return root.Parse(args).Invoke(configuration);
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
