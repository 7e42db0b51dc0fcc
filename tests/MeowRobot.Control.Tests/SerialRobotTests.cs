using System.Diagnostics;
using MeowRobot.Control.Serial;
using MeowRobot.Testing;

namespace MeowRobot.Control.Tests;

/// <summary>The robot I/O adapter against the emulated pendulum microcontroller, across a socat pty pair.</summary>
public sealed class SerialRobotTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SocatPair _pty = new();
    private readonly PendulumMcu _mcu;
    private readonly SerialRobot _robot;
    private readonly float[] _observation = new float[PendulumMcu.ObservationSize];

    public SerialRobotTests()
    {
        _mcu = new PendulumMcu(SerialPortTests.Fast(_pty.B), new PendulumPlantOptions { RateHz = 500, Damping = 0 });
        _robot = new SerialRobot(SerialPortTests.Fast(_pty.A), PendulumMcu.ObservationSize, PendulumMcu.ActionSize);
        _mcu.Start();
        _robot.Start();
    }

    public void Dispose()
    {
        _robot.Dispose();
        _mcu.Dispose();
        _pty.Dispose();
    }

    private double AgeSeconds()
    {
        Assert.True(_robot.TryReadObservation(_observation, out var timestamp));
        return Stopwatch.GetElapsedTime(timestamp).TotalSeconds;
    }

    private void Until(Func<bool> condition, string what) => Assert.True(SpinWait.SpinUntil(condition, Wait), what);

    [RequiresFact(Requirement.Socat)]
    public void Observations_arrive_fresh_and_actions_move_the_pendulum()
    {
        Until(() => _robot.TryReadObservation(_observation, out _), "no observation");
        // Hanging at rest: θ = π, so cos θ = -1, sin θ = 0, θ̇ = 0.
        Assert.Equal(-1f, _observation[0], 1e-5f);
        Assert.Equal(0f, _observation[1], 1e-5f);
        Assert.Equal(0f, _observation[2], 1e-5f);
        Assert.InRange(AgeSeconds(), -0.001, 0.1);

        _robot.WriteAction([0.5f]);
        Until(() => _mcu.ActionsApplied >= 1, "the MCU applied no action");
        Assert.Equal(0.5 * new PendulumPlantOptions().MaxTorque, _mcu.Torque, 1e-6);
        // At the bottom gravity exerts no torque: a positive torque spins the pendulum up in +θ.
        Until(() => _robot.TryReadObservation(_observation, out _) && _observation[2] > 0.1f, "the pendulum did not respond");
        Assert.Equal(0, _robot.Counters.RejectedMessages + _robot.Counters.FrameErrors.Total);
    }

    [RequiresFact(Requirement.Socat)]
    public void Sequence_gaps_and_stale_frames_are_counted_and_silence_ages_the_observation()
    {
        Until(() => _robot.Counters.SensorFrames > 10, "no sensor frames");
        _mcu.SkipFrames(5);
        Until(() => _robot.Counters.SequenceGaps == 5, $"gaps: {_robot.Counters}");
        _mcu.RepeatTimestamp(3);
        Until(() => _robot.Counters.StaleFrames == 3, $"stale: {_robot.Counters}");

        _mcu.Silent = true;
        // Nothing new arrives: the newest observation's timestamp ages, which is what the loop's staleness check reads.
        Until(() => AgeSeconds() > 0.2, "the observation did not age");
        _mcu.Silent = false;
        Until(() => AgeSeconds() < 0.05, "observations did not resume");
        Assert.Equal(5, _robot.Counters.SequenceGaps);
        Assert.Equal(0, _robot.Counters.McuRestarts);
    }

    [RequiresFact(Requirement.Socat)]
    public void Unplugged_mcu_stops_observations_and_they_resume_when_it_returns()
    {
        Until(() => _robot.TryReadObservation(_observation, out _), "no observation");
        _pty.Unplug();
        Until(() => !_robot.Port.IsUp, "the link stayed up");
        Until(() => AgeSeconds() > 0.2, "the observation did not age");
        _pty.Restart();
        Until(() => _robot.Port.IsUp && AgeSeconds() < 0.05, "observations did not resume");
    }
}
