using System.CommandLine;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Telemetry;

namespace MeowRobot.Controller;

/// <summary><c>./meow controller status --connect ENDPOINT [--once]</c>: prints a controller's telemetry (and mode transitions) live.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var connect = new Option<string>("--connect") { Description = "the controller's telemetry PUB endpoint, e.g. tcp://127.0.0.1:5580", Required = true };
        var once = new Option<bool>("--once") { Description = "print the first telemetry message and exit" };
        var timeout = new Option<double>("--timeout") { Description = "seconds to wait for a message before giving up (exit 1)", DefaultValueFactory = _ => 5 };
        var command = new Command("status", "Print a running controller's telemetry: mode, tick timing, policy version, rejections, transitions");
        command.Options.Add(connect);
        command.Options.Add(once);
        command.Options.Add(timeout);
        command.SetAction(parse =>
        {
            if (parse.GetValue(timeout) is not (> 0 and <= 3600))
            {
                Console.Error.WriteLine("--timeout must lie in (0, 3600]");
                return 2;
            }
            return Run(parse.GetValue(connect)!, parse.GetValue(once), TimeSpan.FromSeconds(parse.GetValue(timeout)));
        });
        return command;
    }

    private static int Run(string endpoint, bool once, TimeSpan timeout)
    {
        using var context = new ZmqContext();
        using var sub = context.CreateSocket(ZmqSocketType.Sub);
        sub.MaxMessageSize = 1 << 20;
        sub.Subscribe(TelemetryWire.TelemetryTopic);
        if (!once) sub.Subscribe(TelemetryWire.TransitionTopic);
        sub.ReceiveTimeout = timeout;
        sub.Connect(endpoint);
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); context.Shutdown(); };
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                List<byte[]> frames;
                try
                {
                    frames = sub.ReceiveMultipart();
                }
                catch (TimeoutException)
                {
                    Console.Error.WriteLine($"no telemetry from {endpoint} within {timeout.TotalSeconds:0.#} s");
                    return 1;
                }
                if (frames.Count != 2)
                {
                    Console.Error.WriteLine($"ignored a message of {frames.Count} frames");
                    continue;
                }
                string text;
                try
                {
                    text = TelemetryWire.Render(frames[1]);
                }
                catch (MsgPackException e)
                {
                    Console.Error.WriteLine("ignored a malformed telemetry message: " + e.Message);
                    continue;
                }
                var transition = frames[0].AsSpan().SequenceEqual(TelemetryWire.TransitionTopic);
                Console.WriteLine((transition ? "transition " : "") + text);
                if (once && !transition) return 0;
            }
        }
        catch (ZmqContextTerminatedException)
        {
        }
        return 0;
    }
}
