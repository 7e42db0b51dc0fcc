using System.Buffers;
using MeowRobot.Bridge.Sim;
using MeowRobot.Control.Loop;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Telemetry;
using MeowRobot.Tasks;

namespace MeowRobot.Services.Tests;

/// <summary>The simulated robot's episode returns, and how telemetry carries them.</summary>
public sealed class ControllerEpisodeReturnTests
{
    [Fact]
    public void The_robot_reports_the_return_of_its_first_episode_as_an_independent_rollout_of_the_same_seed_computes_it()
    {
        // The peer: the same task and seed stepped directly with the action the robot sends before any loop writes (zero).
        using var task = TaskCatalog.Create("pendulum");
        var obs = new float[task.Spec.ObsDim];
        task.Reset(42, obs);
        double expected = 0;
        for (var i = 0; i < task.Spec.MaxEpisodeSteps; i++) expected += task.Step([0f], obs).Reward;

        // 200 steps at 400 Hz: the first episode ends after 0.5 s and the second 0.5 s later, time enough to read the first.
        using var robot = new SimBridgeRobot(() => new LocalVectorEnv([TaskCatalog.Create("pendulum")]), 400, seed: 42);
        Assert.Equal(0, robot.Episodes);
        Assert.True(double.IsNaN(robot.LastEpisodeReturn));
        Thread.Sleep(20);
        Assert.Equal(0, robot.Steps);   // the plant waits for the controller's first command
        robot.WriteAction([0f]);
        Assert.True(SpinWait.SpinUntil(() => robot.Episodes >= 1, TimeSpan.FromSeconds(30)), "no episode finished within 30 s");
        var first = robot.LastEpisodeReturn;
        Assert.Equal(1, robot.Episodes);
        Assert.Equal(expected, first, 6);
    }

    [Fact]
    public void With_a_seed_episode_i_of_the_robot_is_reset_with_seed_plus_i_and_reported_in_order()
    {
        double Rollout(int seed, out float[] last)
        {
            using var task = TaskCatalog.Create("pendulum");
            var obs = new float[task.Spec.ObsDim];
            task.Reset(seed, obs);
            double r = 0;
            for (var i = 0; i < task.Spec.MaxEpisodeSteps; i++) r += task.Step([0.5f], obs).Reward;
            last = obs;
            return r;
        }
        using var robot = new SimBridgeRobot(() => new LocalVectorEnv([TaskCatalog.Create("pendulum")]), 2000, seed: 7);
        robot.WriteAction([0.5f]);
        var episodes = new List<EpisodeResult>();
        Assert.True(SpinWait.SpinUntil(() =>
        {
            while (robot.TryTakeEpisode(out var e)) episodes.Add(e);
            return episodes.Count >= 3;
        }, TimeSpan.FromSeconds(60)), "three episodes did not finish within 60 s");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(7 + i, episodes[i].Seed);
            Assert.Equal(Rollout(7 + i, out var last), episodes[i].Return, 6);
            Assert.Equal(200, episodes[i].Length);
            Assert.False(episodes[i].Terminated);
            Assert.Equal(last, episodes[i].FinalObs);
        }
    }

    [Fact]
    public void Telemetry_carries_robot_episodes_and_last_return_only_for_a_robot_that_has_episodes()
    {
        var snapshot = new LoopSnapshot { Tick = 5, PolicyVersion = 3, PolicySwaps = 2, Misses = 1, JitterP99Us = 12.5, JitterMaxUs = 40 };
        var with = new ArrayBufferWriter<byte>();
        TelemetryWire.EncodeTelemetry(snapshot, default, new EpisodeTelemetry(4, -812.25), with);
        var without = new ArrayBufferWriter<byte>();
        TelemetryWire.EncodeTelemetry(snapshot, default, without);

        Assert.EndsWith(" stream_version=0 robot_episodes=4 robot_last_return=-812.25", TelemetryWire.Render(with.WrittenSpan), StringComparison.Ordinal);
        Assert.EndsWith(" stream_version=0", TelemetryWire.Render(without.WrittenSpan), StringComparison.Ordinal);

        var read = TelemetryReading.Read(with.WrittenSpan);
        Assert.Equal((5L, 3L, 2L, 1L, 12.5, 40.0, 4L, -812.25), (read.Tick, read.PolicyVersion, read.PolicySwaps, read.Misses, read.JitterP99Us, read.JitterMaxUs, read.RobotEpisodes, read.RobotLastReturn));
        var old = TelemetryReading.Read(without.WrittenSpan);
        Assert.Equal(-1, old.RobotEpisodes);
        Assert.True(double.IsNaN(old.RobotLastReturn));
    }

    [Fact]
    public void A_telemetry_body_that_is_not_a_map_or_has_a_mistyped_known_key_is_rejected_with_a_typed_error()
    {
        var w = new ArrayBufferWriter<byte>();
        var writer = new MeowRobot.Bridge.MessagePack.MsgPackWriter(w);
        writer.WriteMapHeader(1);
        writer.Write("robot_episodes");
        writer.Write("many");
        Assert.Throws<MeowRobot.Bridge.MessagePack.MsgPackException>(() => TelemetryReading.Read(w.WrittenSpan));
        Assert.Throws<MeowRobot.Bridge.MessagePack.MsgPackException>(() => TelemetryReading.Read([0x93, 1, 2, 3]));
        Assert.Throws<MeowRobot.Bridge.MessagePack.MsgPackException>(() => TelemetryReading.Read([0x81, 0xa4, (byte)'t', (byte)'i', (byte)'c', (byte)'k']));
    }
}
