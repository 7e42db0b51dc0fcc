using System.CommandLine;
using System.Diagnostics;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Serial;
using MeowRobot.Control.Teleop;

namespace MeowRobot.Controller;

/// <summary>
/// <c>./meow controller fake-device --port PATH [--teleop] [--plant pendulum] …</c>: plays an operator transmitter and/or a
/// pendulum microcontroller on a serial line (usually one end of a socat pty pair), for demos and bench work without
/// hardware. The transmitter follows a script given by options (stop heartbeats, press e-stop, hold override, …).
/// </summary>
public static class FakeDeviceCommand
{
    /// <summary>How long a scripted momentary press (arm, resume) is held.</summary>
    private static readonly TimeSpan Press = TimeSpan.FromMilliseconds(300);

    public static Command Create()
    {
        var port = new Option<string>("--port") { Description = "serial device to play on, e.g. the ttyB end of `socat -d -d pty,raw,echo=0,link=ttyA pty,raw,echo=0,link=ttyB`", Required = true };
        var teleopPort = new Option<string?>("--teleop-port") { Description = "put the transmitter on this line instead of --port (needed when playing both)" };
        var baud = new Option<int>("--baud") { Description = "line rate; any positive rate (non-standard ones via termios2)", DefaultValueFactory = _ => 115200 };
        var teleop = new Option<bool>("--teleop") { Description = "play an operator transmitter (heartbeat, axes, buttons)" };
        var plant = new Option<string?>("--plant") { Description = "play a microcontroller running this plant: pendulum" };
        var rate = new Option<int>("--rate") { Description = "plant steps and sensor frames per second", DefaultValueFactory = _ => 500 };
        var angle = new Option<double>("--initial-angle") { Description = "pendulum start angle in rad (0 upright, π hanging)", DefaultValueFactory = _ => Math.PI };
        var brake = new Option<bool>("--brake") { Description = "hold the pendulum still until the first actuator frame" };
        var axes = new Option<int>("--axes") { Description = "transmitter axes (one per actuator)", DefaultValueFactory = _ => 1 };
        var pattern = new Option<AxesPattern>("--pattern") { Description = "how the sticks move: Sine or Zero", DefaultValueFactory = _ => AxesPattern.Sine };
        var frameRate = new Option<int>("--teleop-hz") { Description = "transmitter frames per second of each kind", DefaultValueFactory = _ => 50 };
        var stopHeartbeat = new Option<double?>("--stop-heartbeat-after") { Description = "seconds after which heartbeats stop (axes and buttons go on)" };
        var estopAt = new Option<double?>("--estop-at") { Description = "seconds after which the e-stop button is held down" };
        var overrideAt = new Option<double?>("--override-at") { Description = "seconds after which override is held" };
        var overrideFor = new Option<double>("--override-for") { Description = "how long override is held", DefaultValueFactory = _ => 2 };
        var armAt = new Option<double?>("--arm-at") { Description = "seconds after which arm is pressed" };
        var resumeAt = new Option<double?>("--resume-at") { Description = "seconds after which resume (return to policy) is pressed" };
        var duration = new Option<double>("--duration") { Description = "seconds to run (0: until Ctrl-C)", DefaultValueFactory = _ => 0 };

        var command = new Command("fake-device", "Emulate a teleop transmitter and/or a pendulum MCU on a serial line (a pty) for demos and tests without hardware");
        foreach (var o in new Option[] { port, teleopPort, baud, teleop, plant, rate, angle, brake, axes, pattern, frameRate, stopHeartbeat, estopAt, overrideAt, overrideFor, armAt, resumeAt, duration })
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            var playTeleop = parse.GetValue(teleop);
            var plantName = parse.GetValue(plant);
            var problems = new List<string>();
            if (!playTeleop && plantName is null)
                problems.Add("nothing to play: give --teleop and/or --plant pendulum");
            if (plantName is not (null or "pendulum"))
                problems.Add($"unknown plant '{plantName}' (known: pendulum)");
            if (playTeleop && plantName is not null && parse.GetValue(teleopPort) is null)
                problems.Add("the transmitter and the plant need separate lines: add --teleop-port");
            if (parse.GetValue(duration) < 0)
                problems.Add("--duration must be ≥ 0");
            if (problems.Count > 0)
            {
                foreach (var p in problems)
                    Console.Error.WriteLine("fake-device: " + p);
                return 2;
            }
            var line = new SerialPortOptions { Path = parse.GetValue(port)!, BaudRate = parse.GetValue(baud) };
            var script = new Script(parse.GetValue(stopHeartbeat), parse.GetValue(estopAt), parse.GetValue(overrideAt),
                parse.GetValue(overrideFor), parse.GetValue(armAt), parse.GetValue(resumeAt));
            try
            {
                using var transmitter = playTeleop
                    ? new TeleopTransmitter(line with { Path = parse.GetValue(teleopPort) ?? line.Path },
                        new TeleopTransmitterOptions { AxisCount = parse.GetValue(axes), Pattern = parse.GetValue(pattern), RateHz = parse.GetValue(frameRate) })
                    : null;
                using var mcu = plantName is null
                    ? null
                    : new PendulumMcu(line, new PendulumPlantOptions { RateHz = parse.GetValue(rate), InitialAngle = parse.GetValue(angle), BrakeUntilFirstAction = parse.GetValue(brake) });
                return Run(transmitter, mcu, script, parse.GetValue(duration));
            }
            catch (Exception e) when (e is ArgumentException or SerialPortException)
            {
                Console.Error.WriteLine("fake-device: " + e.Message);
                return 2;
            }
        });
        return command;
    }

    private sealed record Script(double? StopHeartbeatAfter, double? EStopAt, double? OverrideAt, double OverrideFor, double? ArmAt, double? ResumeAt)
    {
        public TeleopButtons ButtonsAt(double t)
        {
            var buttons = TeleopButtons.None;
            if (t >= EStopAt) buttons |= TeleopButtons.EStop;
            if (t >= OverrideAt && t < OverrideAt + OverrideFor) buttons |= TeleopButtons.Override;
            if (t >= ArmAt && t < ArmAt + Press.TotalSeconds) buttons |= TeleopButtons.Arm;
            if (t >= ResumeAt && t < ResumeAt + Press.TotalSeconds) buttons |= TeleopButtons.Resume;
            return buttons;
        }
    }

    private static int Run(TeleopTransmitter? transmitter, PendulumMcu? mcu, Script script, double duration)
    {
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        if (duration > 0)
            stop.CancelAfter(TimeSpan.FromSeconds(duration));
        transmitter?.Start();
        mcu?.Start();
        var started = Stopwatch.GetTimestamp();
        var nextReport = 0.0;
        while (!stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(20)))
        {
            var t = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (transmitter is not null)
            {
                transmitter.Buttons = script.ButtonsAt(t);
                transmitter.HeartbeatsEnabled = !(t >= script.StopHeartbeatAfter);
            }
            if (t >= nextReport)
            {
                nextReport += 1;
                Report(t, transmitter, mcu);
            }
        }
        Report(Stopwatch.GetElapsedTime(started).TotalSeconds, transmitter, mcu);
        return 0;
    }

    private static void Report(double t, TeleopTransmitter? transmitter, PendulumMcu? mcu)
    {
        if (transmitter is not null)
        {
            var c = transmitter.Port.Counters;
            Console.WriteLine($"{t,6:0.0}s teleop {(transmitter.Port.IsUp ? "up" : "DOWN")} {transmitter.Port.Path}: periods {transmitter.Periods}, heartbeats {(transmitter.HeartbeatsEnabled ? "on" : "OFF")}, buttons {transmitter.Buttons}, frames {c.FramesSent}, dropped {c.DroppedQueueFull + c.DroppedLinkDown + c.DroppedTimedOut}{Fault(transmitter.Port)}");
        }
        if (mcu is not null)
        {
            var c = mcu.Port.Counters;
            var (angle, velocity) = mcu.State;
            Console.WriteLine($"{t,6:0.0}s plant  {(mcu.Port.IsUp ? "up" : "DOWN")} {mcu.Port.Path}: θ {angle:0.000} rad, θ̇ {velocity:0.000} rad/s, torque {mcu.Torque:0.000} N·m, steps {mcu.Steps}, sensor frames {c.FramesSent}, actions {mcu.ActionsApplied}, rejected {mcu.RejectedMessages}{Fault(mcu.Port)}");
        }
    }

    private static string Fault(SerialPort port) => port is { IsUp: false, LastFault: { } f } ? $" ({f.Message})" : "";
}
