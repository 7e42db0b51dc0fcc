using System.Diagnostics;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Serial;
using MeowRobot.Control.Teleop;
using MeowRobot.Control.Telemetry;
using MeowRobot.Policy.Files;
using MeowRobot.Tasks;
using MeowRobot.Testing;

namespace MeowRobot.Services.Tests;

/// <summary>`controller serve` as systemd runs it, driving a sim worker (in this process) through the bridge with a policy file.</summary>
public sealed class ControllerServeTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-ctl-");

    public void Dispose() => _dir.Delete(recursive: true);

    [RequiresFact(Requirement.LibZmq)]
    public void Serve_reaches_policy_mode_reports_robot_episodes_pings_the_watchdog_and_stops_cleanly_on_SIGTERM()
    {
        using var worker = SimWorker.Start(new SimService(new LocalVectorEnv([TaskCatalog.Create("pendulum")])), "ipc://" + Path.Combine(_dir.FullName, "robot"));
        var policy = Path.Combine(_dir.FullName, "pendulum.safetensors");
        PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum", Version = 7 }, seed: 3).Save(policy);
        var site = Path.Combine(_dir.FullName, "site.json");
        File.WriteAllText(site, "{}");
        var telemetry = "ipc://" + Path.Combine(_dir.FullName, "telemetry");

        using var listener = new NotifyListener();
        using var process = ServiceProcesses.Start("MeowRobot.Controller",
        [
            "serve", "--config", site, "--Controller:Robot=" + worker.Endpoint, "--Controller:PolicyPath=" + policy, "--Controller:Telemetry=" + telemetry,
            "--Controller:Modes:ArmOnStart=true", "--Controller:Loop:RateHz=500", "--Controller:SimRobot:StepRateHz=200",
            "--Controller:Envelope:ObservationTimeoutSeconds=0.5", "--Controller:Modes:ResumeHysteresisSeconds=0.5",
        ], new Dictionary<string, string> { ["NOTIFY_SOCKET"] = listener.Address, ["WATCHDOG_USEC"] = "2000000" });
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Watchdog pings come only while the loop's last on-time tick is recent (ControlLoopHealth).
            listener.ReceiveUntil(m => m.Any(x => x.StartsWith("READY=1", StringComparison.Ordinal)) && m.Contains("WATCHDOG=1"), Wait);

            // A 200-step pendulum episode at 200 Hz takes 1 s: wait for Policy mode and a finished episode.
            var reading = ReadTelemetryUntil(telemetry, r => r.Mode == "Policy" && r.RobotEpisodes >= 1);
            Assert.Equal(7, reading.PolicyVersion);
            // Every pendulum step costs between 0 and π² + 0.1·8² + 0.001·2² (Gymnasium Pendulum-v1), for 200 steps.
            Assert.InRange(reading.RobotLastReturn, -200 * (Math.PI * Math.PI + 6.4 + 0.004), 0);

            listener.Drain();   // room in the socket's queue for what the stop sends
            ServiceProcesses.Terminate(process);
            listener.ReceiveUntil(m => m.Any(x => x.Contains("STOPPING=1", StringComparison.Ordinal)), Wait);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(10)), "controller serve did not exit within 10 s of SIGTERM");
            Assert.Equal(0, process.ExitCode);
            var log = stdout.Result;
            // The loop ended by its own stop path (ramp to the safe action, last write), within the host's 5 s budget.
            Assert.Contains("stopped: safe action written, outputs stopped", log, StringComparison.Ordinal);
            Assert.Equal("", stderr.Result);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [RequiresFact(Requirement.LibZmq, Requirement.Socat)]
    public void Serve_hands_control_to_the_operator_on_the_serial_teleop_link_and_back_to_the_policy_on_resume()
    {
        using var pty = new SocatPair();
        using var transmitter = new TeleopTransmitter(new SerialPortOptions { Path = pty.A }, new TeleopTransmitterOptions { AxisCount = 1 });
        transmitter.Buttons = TeleopButtons.Override;
        transmitter.Start();
        using var worker = SimWorker.Start(new SimService(new LocalVectorEnv([TaskCatalog.Create("pendulum")])), "ipc://" + Path.Combine(_dir.FullName, "robot"));
        var policy = Path.Combine(_dir.FullName, "pendulum.safetensors");
        PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum", Version = 2 }, seed: 5).Save(policy);
        var site = Path.Combine(_dir.FullName, "site.json");
        File.WriteAllText(site, "{}");
        var telemetry = "ipc://" + Path.Combine(_dir.FullName, "telemetry");

        using var process = ServiceProcesses.Start("MeowRobot.Controller",
        [
            "serve", "--config", site, "--Controller:Robot=" + worker.Endpoint, "--Controller:PolicyPath=" + policy, "--Controller:Telemetry=" + telemetry,
            "--Controller:TeleopPort=" + pty.B, "--Controller:Modes:ArmOnStart=true", "--Controller:Loop:RateHz=500",
            "--Controller:SimRobot:StepRateHz=200", "--Controller:Envelope:ObservationTimeoutSeconds=0.5",
        ], new Dictionary<string, string>());
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            // The operator holds override: their axes drive the robot, above the healthy policy.
            ReadTelemetryUntil(telemetry, r => r.Mode == "OperatorOverride");
            // Released together with an explicit resume: the policy drives again.
            transmitter.Buttons = TeleopButtons.Resume;
            ReadTelemetryUntil(telemetry, r => r.Mode == "Policy");

            ServiceProcesses.Terminate(process);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(10)), "controller serve did not exit within 10 s of SIGTERM");
            Assert.Equal(0, process.ExitCode);
            Assert.Contains($"teleop {pty.B}: ", stdout.Result, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_trainer_with_the_wrong_key_is_never_heard_and_its_refused_handshakes_are_logged_and_in_the_telemetry()
    {
        using var worker = SimWorker.Start(new SimService(new LocalVectorEnv([TaskCatalog.Create("pendulum")])), "ipc://" + Path.Combine(_dir.FullName, "robot"));
        var policy = Path.Combine(_dir.FullName, "pendulum.safetensors");
        PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum", Version = 4 }, seed: 3).Save(policy);
        var pinned = Path.Combine(_dir.FullName, "trainer.key");
        File.WriteAllText(pinned, ZmqCurveKeyPair.Generate().PublicKeyZ85 + "\n");
        // A publisher with another key pair, admitting anyone: the robot must neither hear it nor stay silent about it.
        using var rogue = new MeowRobot.Control.WeightStream.WeightStreamPublisher(ZmqCurveKeyPair.Generate(), [],
            new MeowRobot.Control.WeightStream.WeightStreamPublisherOptions { PublishEndpoint = "tcp://127.0.0.1:*", SnapshotEndpoint = "tcp://127.0.0.1:*" });
        rogue.Publish(MeowRobot.Policy.Bundles.PolicyBundle.Create(9, PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum" }, seed: 4), "pendulum", DateTimeOffset.UnixEpoch));
        var site = Path.Combine(_dir.FullName, "site.json");
        File.WriteAllText(site, "{}");
        var telemetry = "ipc://" + Path.Combine(_dir.FullName, "telemetry");

        using var process = ServiceProcesses.Start("MeowRobot.Controller",
        [
            "serve", "--config", site, "--Controller:Robot=" + worker.Endpoint, "--Controller:PolicyPath=" + policy, "--Controller:Telemetry=" + telemetry,
            "--Controller:WeightStream:Endpoint=" + rogue.PublishEndpoint, "--Controller:WeightStream:SnapshotEndpoint=" + rogue.SnapshotEndpoint,
            "--Controller:WeightStream:TrainerPublicKeyFile=" + pinned, "--Controller:Loop:RateHz=500",
        ], new Dictionary<string, string>());
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            var reading = ReadTelemetryUntil(telemetry, r => r.HandshakesRefused >= 2);
            Assert.Equal(4, reading.PolicyVersion);      // still the policy file's: the rogue's version 9 never arrived
            ServiceProcesses.Terminate(process);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(10)), "controller serve did not exit within 10 s of SIGTERM");
            Assert.Equal(0, process.ExitCode);
            Assert.Contains($"weight stream handshake refused by {rogue.PublishEndpoint}", stdout.Result, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    internal static TelemetryReading ReadTelemetryUntil(string endpoint, Func<TelemetryReading, bool> done)
    {
        using var context = new ZmqContext();
        using var sub = context.CreateSocket(ZmqSocketType.Sub);
        sub.Subscribe(TelemetryWire.TelemetryTopic);
        sub.ReceiveTimeout = Wait;
        sub.Connect(endpoint);
        var deadline = Stopwatch.StartNew();
        TelemetryReading last = default;
        while (deadline.Elapsed < Wait)
        {
            var frames = sub.ReceiveMultipart();
            Assert.Equal(2, frames.Count);
            last = TelemetryReading.Read(frames[1]);
            if (done(last)) return last;
        }
        Assert.Fail($"telemetry never satisfied the condition within {Wait.TotalSeconds} s; last: {last}");
        return last;
    }
}
