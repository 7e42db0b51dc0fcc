using MeowRobot.Bridge.Sim;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Tasks;
using MeowRobot.Testing;
using Xunit.Abstractions;

namespace MeowRobot.Control.Tests;

/// <summary>The loop drives the pendulum task through the sim-bridge adapter, in-process and over a real sim worker.</summary>
[Collection(RealtimeCollection.Name)]
public class SimBridgeRobotTests(ITestOutputHelper output)
{
    /// <summary>A pendulum-shaped (3, 1) policy in the golden format (the official layout), randomly initialised.</summary>
    internal static ActivePolicy PendulumPolicy(int seed = 1, ulong version = 1)
    {
        var file = PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Version = version, Task = "pendulum" }, seed);
        return new ActivePolicy(new RuntimeActionPolicy(PolicyRuntime.Create(file)), (long)version, "random pendulum policy");
    }

    private void Drive(SimBridgeRobot robot, double seconds)
    {
        Assert.Equal(3, robot.ObservationSize);
        Assert.Equal(1, robot.ActionSize);
        var envelope = SafetyEnvelopeOptions.ForBounds(robot.Spec.ActLow, robot.Spec.ActHigh);
        // Generous health limits: on a loaded shared box the threads starve for 100 ms at a time; the staleness and miss
        // budget behaviour has its own tests, this one shows the policy driving the task and reports the timing.
        envelope.ObservationTimeoutSeconds = 2;
        envelope.DeadlineMissBudget = 100_000;
        using var loop = new ControlLoop(robot, new ControlLoopOptions { RateHz = 1000, SnapshotIntervalSeconds = 0.05 },
            envelope, new ModeOptions { ArmOnStart = true });
        loop.OfferPolicy(PendulumPolicy());
        loop.Start();
        var ticks = (long)(seconds * 1000);
        var stepsBefore = robot.Steps;
        Wait.Until(() => loop.TryReadSnapshot(out var now) && now.Tick >= ticks, $"{ticks} ticks", seconds * 10 + 10);
        Assert.True(loop.TryReadSnapshot(out var s));
        var simSteps = robot.Steps - stepsBefore;
        Assert.Equal(0, loop.TransitionCount(ControlMode.Policy, ControlMode.SafeStop));  // the policy drove throughout
        Assert.True(loop.Stop(TimeSpan.FromSeconds(5)));
        Assert.Null(loop.Fault);
        Assert.Null(robot.Fault);

        var missRate = (double)s.Misses / Math.Max(1, s.Tick);
        output.WriteLine($"ticks {s.Tick}, misses {s.Misses} ({missRate:P3}), skipped {s.SkippedPeriods}, jitter p50 {s.JitterP50Us:F1} µs p99 {s.JitterP99Us:F1} µs max {s.JitterMaxUs:F1} µs, compute p50 {s.ComputeP50Us:F1} µs p99 {s.ComputeP99Us:F1} µs, sim steps {simSteps}");
        Assert.Equal(ControlMode.Policy, s.Mode);
        Assert.Equal(1, s.PolicyVersion);
        Assert.True(simSteps >= seconds * 100, $"only {simSteps} simulation steps in ~{seconds} s at 200 Hz");
        Assert.True(missRate < 0.5, $"miss rate {missRate:P2}: the loop is starved");   // the figure itself is a benchmark
    }

    [Fact]
    public void The_loop_drives_the_pendulum_in_process_at_1_kHz()
    {
        using var robot = new SimBridgeRobot(() => new LocalVectorEnv([new Pendulum()]), stepRateHz: 200, seed: 3);
        Drive(robot, seconds: 1);
    }

    [RequiresFact(Requirement.LibZmq)]
    public void The_loop_drives_the_pendulum_through_the_bridge_at_1_kHz()
    {
        using var service = new SimService(new LocalVectorEnv([new Pendulum()]));
        using var worker = SimWorker.Start(service, "tcp://127.0.0.1:*");
        using var robot = new SimBridgeRobot(() => new VectorEnvClient([worker.Endpoint]), stepRateHz: 200, seed: 3);
        Drive(robot, seconds: 1.5);
        Assert.True(service.Requests >= 300);
    }

    [Fact]
    public void The_held_plant_s_first_observation_ages_from_the_first_command_not_from_the_reset()
    {
        // The rehearsal stall at tick 1: the reset observation was stamped before the controller set itself up, so set-up
        // time plus the first tick's compilation counted as staleness until the plant's thread republished it.
        using var robot = new SimBridgeRobot(() => new LocalVectorEnv([new Pendulum()]), stepRateHz: 20, seed: 3);
        var observation = new float[3];
        var constructed = System.Diagnostics.Stopwatch.GetTimestamp();
        Assert.True(robot.TryReadObservation(observation, out var held));
        Assert.True(held >= constructed, "a held plant's observation is current");

        var commanded = System.Diagnostics.Stopwatch.GetTimestamp();
        robot.WriteAction([0f]);
        Assert.True(robot.TryReadObservation(observation, out var started));
        Assert.True(started >= commanded, "the first observation ages from the first command");
    }

    [Fact]
    public void A_controller_slow_to_start_is_not_stopped_by_the_plant_s_reset_observation()
    {
        using var robot = new SimBridgeRobot(() => new LocalVectorEnv([new Pendulum()]), stepRateHz: 20, seed: 3);
        var timeout = System.Diagnostics.Stopwatch.Frequency / 5;   // 200 ms, as a robot's configuration
        var modes = new ModeMachine(new ModeOptions { ArmOnStart = true });
        var envelope = new SafetyEnvelope(SafetyEnvelopeOptions.ForBounds(robot.Spec.ActLow, robot.Spec.ActHigh), 3, 0.001);
        var cycle = new ControlCycle(robot, envelope, modes, timeout, timeout);
        cycle.Policies.Offer(PendulumPolicy());
        Thread.Sleep(300);   // the controller's set-up (not synchronisation): longer than the staleness threshold
        Assert.Equal(ControlMode.Policy, cycle.Run(0, System.Diagnostics.Stopwatch.GetTimestamp(), 0, TeleopButtons.None, false));
        Assert.Equal(ControlMode.Policy, cycle.Run(1, System.Diagnostics.Stopwatch.GetTimestamp(), 0, TeleopButtons.None, false));
        Assert.Equal(0, modes.TransitionCount(ControlMode.Policy, ControlMode.SafeStop));
        cycle.DetachPolicy()?.Dispose();
    }

    [Fact]
    public void A_simulation_that_fails_to_start_or_has_several_envs_is_reported()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new SimBridgeRobot(() => throw new IOException("no worker"), 100));
        Assert.Contains("no worker", e.Message);
        var two = Assert.Throws<InvalidOperationException>(() => new SimBridgeRobot(() => new LocalVectorEnv(() => new Pendulum(), 2), 100).Dispose());
        Assert.IsType<ArgumentException>(two.InnerException);
    }
}
