using MeowRobot.Hosting;
using MeowRobot.Hosting.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace MeowRobot.Services.Tests;

public sealed class JournaldConsoleFormatterTests
{
    private static string Format(LogLevel level, string message, Exception? exception = null, string category = "MeowRobot.Trainer", int eventId = 7)
    {
        var writer = new StringWriter();
        new JournaldConsoleFormatter().Write(new LogEntry<string>(level, category, new EventId(eventId), message, exception, (s, _) => s), null, writer);
        return writer.ToString();
    }

    [Theory]
    [InlineData(LogLevel.Trace, "<7>")]
    [InlineData(LogLevel.Debug, "<7>")]
    [InlineData(LogLevel.Information, "<6>")]
    [InlineData(LogLevel.Warning, "<4>")]
    [InlineData(LogLevel.Error, "<3>")]
    [InlineData(LogLevel.Critical, "<2>")]
    public void Each_level_gets_its_syslog_priority(LogLevel level, string prefix) =>
        Assert.Equal(prefix + "MeowRobot.Trainer[7] checkpoint written\n", Format(level, "checkpoint written"));

    [Fact]
    public void Line_breaks_in_message_and_exception_become_spaces()
    {
        var e = new InvalidOperationException("disk full\nwhile writing");

        Assert.Equal("<3>Cat[12] first second third System.InvalidOperationException: disk full while writing\n",
            Format(LogLevel.Error, "first\r\nsecond\nthird", e, "Cat", 12));
    }

    [Fact]
    public void Nothing_is_written_for_an_empty_message_or_level_None()
    {
        Assert.Equal("", Format(LogLevel.Information, ""));
        Assert.Equal("", Format(LogLevel.None, "hidden"));
    }

    [Theory]
    [InlineData("JOURNAL_STREAM", "8:12345", JournaldConsoleFormatter.FormatterName)]
    [InlineData("INVOCATION_ID", "0123456789abcdef", JournaldConsoleFormatter.FormatterName)]
    [InlineData("TERM", "xterm", ConsoleFormatterNames.Simple)]
    public void The_host_picks_the_journald_format_only_under_systemd(string variable, string value, string expected)
    {
        var dir = Directory.CreateTempSubdirectory("meow-format-");
        try
        {
            var service = new ServiceDefinition("format-test", "test") { BaseDirectory = dir.FullName, DefaultSiteConfig = Path.Combine(dir.FullName, "none.json") };
            using var host = ServiceHostBuilder.Create(service, [], [], k => k == variable ? value : null).Build();

            Assert.Equal(expected, host.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
