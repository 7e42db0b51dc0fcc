using System.Buffers;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Telemetry;
using MeowRobot.Testing;

namespace MeowRobot.Services.Tests;

/// <summary>`controller status` prints what anyone who can publish on the telemetry endpoint sends: hostile strings must
/// not reach the operator's terminal raw (issue 18 item 9).</summary>
public sealed class ControllerStatusTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-status-");

    public void Dispose() => _dir.Delete(recursive: true);

    [RequiresFact(Requirement.LibZmq)]
    public void Status_prints_hostile_telemetry_strings_with_their_control_characters_escaped()
    {
        var endpoint = "ipc://" + Path.Combine(_dir.FullName, "telemetry");
        using var context = new ZmqContext();
        using var pub = context.CreateSocket(ZmqSocketType.Pub);
        pub.Bind(endpoint);
        var body = new ArrayBufferWriter<byte>();
        var w = new MsgPackWriter(body);
        w.WriteMapHeader(3);
        w.Write("tick"); w.Write(7L);
        w.Write("mode"); w.Write("\u001b[2J\u001b]0;owned\u0007Policy");          // clear the screen, retitle the terminal, ring
        w.Write("last_rejection\u001b[1A"); w.Write("ok\r\nfake line \u202Edesrever\u009b31m");   // cursor up, CR LF, bidi override, C1 CSI

        using var status = ServiceProcesses.Start("MeowRobot.Controller", ["status", "--connect", endpoint, "--once", "--timeout", "20"], new Dictionary<string, string>());
        var stdout = status.StandardOutput.ReadToEndAsync();
        // PUB drops until the subscriber has joined: publish until the status command has printed and exited.
        while (!status.WaitForExit(TimeSpan.FromMilliseconds(50)))
        {
            pub.Send(TelemetryWire.TelemetryTopic, more: true);
            pub.Send(body.WrittenSpan);
        }
        Assert.Equal(0, status.ExitCode);
        var line = stdout.Result.TrimEnd('\n');
        Assert.DoesNotContain(line, c => char.IsControl(c) || c == '\u202E');
        Assert.Equal("tick=7 mode=\\u001b[2J\\u001b]0;owned\\u0007Policy last_rejection\\u001b[1A=ok\\u000d\\u000afake line \\u202edesrever\\u009b31m", line);
    }
}
