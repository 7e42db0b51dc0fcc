using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace MeowRobot.Hosting.Logging;

/// <summary>
/// Console lines for journald: <c>&lt;6&gt;Category[EventId] message</c>, one line per entry. journald reads the
/// syslog priority prefix (SyslogLevelPrefix=yes, the default) so <c>journalctl -p warning</c> works, and adds its own
/// timestamps, so none are written. Newlines inside messages and exceptions become spaces: journald would split them
/// into separate entries at priority 6.
/// </summary>
public sealed class JournaldConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "journald";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        ArgumentNullException.ThrowIfNull(textWriter);
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (logEntry.Exception is null && string.IsNullOrEmpty(message)) return;
        if (Priority(logEntry.LogLevel) is not { } priority) return;

        textWriter.Write(priority);
        textWriter.Write(logEntry.Category);
        textWriter.Write('[');
        textWriter.Write(logEntry.EventId.Id);
        textWriter.Write("] ");
        WriteOneLine(textWriter, message);
        if (logEntry.Exception is { } e)
        {
            textWriter.Write(' ');
            WriteOneLine(textWriter, e.ToString());
        }
        textWriter.Write('\n');
    }

    /// <summary>The syslog priority prefix for a level (sd-daemon(3) SD_DEBUG … SD_CRIT); null for None.</summary>
    public static string? Priority(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "<7>",
        LogLevel.Information => "<6>",
        LogLevel.Warning => "<4>",
        LogLevel.Error => "<3>",
        LogLevel.Critical => "<2>",
        _ => null,
    };

    /// <summary>True when stdout/stderr go to journald (JOURNAL_STREAM) or the process runs as a systemd unit (INVOCATION_ID).</summary>
    public static bool UnderSystemd(Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        return !string.IsNullOrEmpty(getEnvironmentVariable("JOURNAL_STREAM")) || !string.IsNullOrEmpty(getEnvironmentVariable("INVOCATION_ID"));
    }

    private static void WriteOneLine(TextWriter w, string s)
    {
        var span = s.AsSpan();
        while (span.Length > 0)
        {
            var i = span.IndexOfAny('\r', '\n');
            if (i < 0) { w.Write(span); return; }
            w.Write(span[..i]);
            w.Write(' ');
            // CRLF is one line break, not two spaces.
            span = span[i] == '\r' && i + 1 < span.Length && span[i + 1] == '\n' ? span[(i + 2)..] : span[(i + 1)..];
        }
    }
}
