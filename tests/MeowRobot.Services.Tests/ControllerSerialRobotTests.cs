using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MeowRobot.Control.Serial;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Testing;
using Xunit.Abstractions;

namespace MeowRobot.Services.Tests;

/// <summary>
/// `controller serve` driving a microcontroller over a serial line (<c>Controller:Robot=serial://PATH</c>): a socat pty
/// pair, the controller on one end and a scripted MCU (the repo's <see cref="SerialDeviceEmulator"/> and frame codec) on
/// the other, which streams a chosen observation and records every actuator frame.
/// </summary>
public sealed class ControllerSerialRobotTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private const int RateHz = 200;
    private const float Tolerance = 1e-5f;
    private static readonly float[] ActionLow = [-1f, -0.05f];
    private static readonly float[] ActionHigh = [1f, 0.05f];
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-ctl-serial-");

    public void Dispose() => _dir.Delete(recursive: true);

    [RequiresFact(Requirement.LibZmq, Requirement.Socat)]
    public void Serve_drives_a_serial_mcu_with_the_policy_action_falls_to_the_safe_action_when_it_goes_silent_or_is_unplugged_and_recovers()
    {
        var metadata = new PolicyMetadata { ObsDim = 4, ActDim = 2, Task = "arm", Version = 9 };
        var file = PolicyFile.Initialized(metadata, seed: 11);
        var policy = Path.Combine(_dir.FullName, "arm.safetensors");
        file.Save(policy);
        // What the loop must emit in Policy mode: the deterministic action, clamped into the envelope's bounds (the rate
        // limit is set far above any step, so it never shapes a policy action here).
        var runtime = FlowPolicyRuntime.Create(file);
        float[] first = [0.3f, -0.7f, 1.2f, 0.05f], second = [-0.9f, 0.4f, -2.5f, 0.6f];
        var expectedFirst = ExpectedAction(runtime, first);
        var expectedSecond = ExpectedAction(runtime, second);
        Assert.True(MaxDifference(expectedFirst, expectedSecond) > 100 * Tolerance, "the two observations must call for different actions");

        var site = Path.Combine(_dir.FullName, "site.json");
        File.WriteAllText(site, "{}");
        var telemetry = "ipc://" + Path.Combine(_dir.FullName, "telemetry");
        using var pty = new SocatPair();
        using var mcu = new ScriptedMcu(new SerialPortOptions
        {
            Path = pty.B,
            WriteTimeout = TimeSpan.FromSeconds(1),
            ReopenMinDelay = TimeSpan.FromMilliseconds(10),
            ReopenMaxDelay = TimeSpan.FromMilliseconds(100),
        }, first, metadata.ActDim, RateHz);
        mcu.Start();

        using var process = ServiceProcesses.Start("MeowRobot.Controller",
        [
            "serve", "--config", site, "--Controller:Robot=serial://" + pty.A, "--Controller:PolicyPath=" + policy,
            "--Controller:Telemetry=" + telemetry, "--Controller:Modes:ArmOnStart=true",
            "--Controller:Loop:RateHz=" + RateHz.ToString(CultureInfo.InvariantCulture),
            "--Controller:Envelope:ActionLow:0=-1", "--Controller:Envelope:ActionLow:1=-0.05",
            "--Controller:Envelope:ActionHigh:0=1", "--Controller:Envelope:ActionHigh:1=0.05",
            "--Controller:Envelope:MaxRatePerSecond:0=100000", "--Controller:Envelope:MaxRatePerSecond:1=100000",
            "--Controller:Envelope:SafeAction=Damped", "--Controller:Envelope:DampingTimeConstantSeconds=0.02",
            // Generous for a loaded 2-core box: a scheduling hiccup must not read as a silent MCU.
            "--Controller:Envelope:ObservationTimeoutSeconds=0.5", "--Controller:Modes:ResumeHysteresisSeconds=0.2",
        ], new Dictionary<string, string>());
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        mcu.Controller = process;
        try
        {
            // (1) Sensor frames in, actuator frames out: the policy's action for the observation the MCU streams, and it
            // stays there while the observation does.
            mcu.NextAction(a => Near(a, expectedFirst), $"the policy's action {Show(expectedFirst)} for the first observation");
            for (var i = 0; i < 20; i++)
                AssertNear(expectedFirst, mcu.NextAction(_ => true, "actuator frames to keep coming"));
            var reading = ControllerServeTests.ReadTelemetryUntil(telemetry, r => r.Mode == "Policy");
            Assert.Equal(9, reading.PolicyVersion);

            mcu.Observation = second;
            mcu.NextAction(a => Near(a, expectedSecond), $"the policy's action {Show(expectedSecond)} for the second observation");

            // (2a) The MCU stops answering (link up, no sensor frames): its observation goes stale, the loop falls to
            // SafeStop and the actuator frames decay (Damped) to exactly zero, never growing on the way.
            mcu.Silent = true;
            var previous = expectedSecond;
            var decaying = false;
            while (true)
            {
                var action = mcu.NextAction(_ => true, "actuator frames while the MCU is silent");
                if (!decaying && Near(action, expectedSecond)) continue;   // ticks before the observation counted as stale
                decaying = true;
                for (var i = 0; i < action.Length; i++)
                    Assert.True(Math.Abs(action[i]) <= Math.Abs(previous[i]) && action[i] * previous[i] >= 0,
                        $"the safe action grew or changed sign: {Show(previous)} -> {Show(action)}");
                previous = action;
                if (action.All(v => v == 0f)) break;
            }
            ControllerServeTests.ReadTelemetryUntil(telemetry, r => r.Mode == "SafeStop");

            // (2b) The cable is pulled: the controller keeps running its loop in SafeStop (the port retries in the background).
            pty.Unplug();
            Assert.True(SpinWait.SpinUntil(() => !mcu.Port.IsUp, Wait), "the MCU's end of the line stayed up after the unplug");
            var unplugged = ControllerServeTests.ReadTelemetryUntil(telemetry, r => r.Mode == "SafeStop");
            ControllerServeTests.ReadTelemetryUntil(telemetry, r => r.Mode == "SafeStop" && r.Tick >= unplugged.Tick + RateHz / 2);
            Assert.False(process.HasExited, "controller serve exited after the robot was unplugged");

            // (3) Plugged back in and streaming again: the controller reopens the line and, healthy for the hysteresis,
            // returns to the policy.
            mcu.Silent = false;
            pty.Restart();
            mcu.NextAction(a => Near(a, expectedSecond), $"the policy's action {Show(expectedSecond)} after the MCU came back");
            ControllerServeTests.ReadTelemetryUntil(telemetry, r => r.Mode == "Policy");

            // On SIGTERM the loop ramps to the safe action and writes it a last time.
            ServiceProcesses.Terminate(process);
            mcu.NextAction(a => a.All(v => v == 0f), "the safe action (zero) after SIGTERM");
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(10)), "controller serve did not exit within 10 s of SIGTERM");
            Assert.Equal(0, process.ExitCode);
            Assert.All(mcu.Drain(), a => Assert.True(a.All(v => v == 0f), $"an action after the safe one: {Show(a)}"));
            Assert.Equal(0, mcu.RejectedFrames);
            var log = stdout.Result;
            Assert.Contains("mode Policy -> SafeStop (ObservationStale)", log, StringComparison.Ordinal);
            // The link's ups and downs are in the log, as the teleop link's are: up at the start and after the replug.
            Assert.Contains(": link down (", log, StringComparison.Ordinal);
            Assert.True(log.Split(": link up").Length - 1 >= 2, "the robot link's two ups (start, replug) are not both in the log");
            Assert.Contains("stopped: safe action written, outputs stopped", log, StringComparison.Ordinal);
            Assert.Equal("", stderr.Result);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            // The controller's own account, for when an assertion above failed.
            output.WriteLine(stdout.Wait(Wait) ? stdout.Result : "(no stdout)");
            output.WriteLine(stderr.Wait(Wait) ? stderr.Result : "(no stderr)");
        }
    }

    private static float[] ExpectedAction(FlowPolicyRuntime runtime, float[] observation)
    {
        var action = new float[runtime.ActDim];
        runtime.Act(observation, action);
        for (var i = 0; i < action.Length; i++)
            action[i] = Math.Clamp(action[i], ActionLow[i], ActionHigh[i]);
        return action;
    }

    private static float MaxDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
    private static bool Near(float[] a, float[] b) => MaxDifference(a, b) <= Tolerance;
    private static void AssertNear(float[] expected, float[] actual) => Assert.True(Near(expected, actual), $"expected {Show(expected)}, got {Show(actual)}");
    private static string Show(float[] a) => "[" + string.Join(", ", a.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]";

    /// <summary>
    /// A microcontroller played by the test: streams <see cref="Observation"/> as sensor frames at a fixed rate, stamped
    /// with its own microsecond clock, and queues every actuator frame it receives for the test to wait on.
    /// </summary>
    private sealed class ScriptedMcu(SerialPortOptions port, float[] observation, int actionSize, int rateHz)
        : SerialDeviceEmulator(port, "scripted mcu")
    {
        private readonly SerialFrameParser _parser = new();
        private readonly BlockingCollection<float[]> _actions = [];
        private float[] _observation = observation;
        private volatile bool _silent;
        private long _rejected;
        private float[]? _last;

        public float[] Observation { set => Volatile.Write(ref _observation, value); }
        public bool Silent { set => _silent = value; }
        public long RejectedFrames => Interlocked.Read(ref _rejected);

        /// <summary>The controller process: a wait for frames gives up as soon as it has exited (e.g. on a configuration error).</summary>
        public Process? Controller { get; set; }

        /// <summary>The next actuator frame that satisfies <paramref name="wanted"/> (earlier ones are consumed), within the wait.</summary>
        public float[] NextAction(Func<float[], bool> wanted, string what)
        {
            var since = Stopwatch.StartNew();
            while (since.Elapsed < Wait)
            {
                if (_actions.TryTake(out var action, TimeSpan.FromMilliseconds(100)))
                {
                    _last = action;
                    if (wanted(action)) return action;
                }
                else if (Controller is { HasExited: true })
                {
                    break;
                }
            }
            Assert.Fail($"waited for {what} in vain ({(Controller is { HasExited: true } ? "the controller exited" : $"{Wait.TotalSeconds} s")}); last received: {(_last is null ? "none" : Show(_last))}");
            return [];
        }

        /// <summary>Actuator frames received and not yet taken.</summary>
        public List<float[]> Drain()
        {
            var rest = new List<float[]>();
            while (_actions.TryTake(out var a)) rest.Add(a);
            return rest;
        }

        public override void OnLinkDown(SerialFault fault) => _parser.Reset();

        public override void OnBytes(ReadOnlySpan<byte> data)
        {
            while (_parser.TryRead(ref data, out var frame))
            {
                var action = new float[actionSize];
                if (SerialMessages.ReadActuator(frame, action) == SerialMessageError.None)
                    _actions.Add(action);
                else
                    Interlocked.Increment(ref _rejected);
            }
        }

        protected override void Run()
        {
            var started = Stopwatch.GetTimestamp();
            var periodMs = Math.Max(1, 1000 / rateHz);
            Span<byte> frame = stackalloc byte[SerialFrame.MaxFrameSize];
            byte sequence = 0;
            // Pacing of the emulated sensor loop, not synchronisation: the test waits on the frames themselves.
            do
            {
                if (_silent) continue;
                var micros = (uint)(Stopwatch.GetElapsedTime(started).Ticks / 10);
                Port.Send(frame[..SerialMessages.WriteSensor(frame, sequence++, micros, Volatile.Read(ref _observation))]);
            } while (!Stopping.Wait(periodMs));
        }
    }
}
