using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Safety;
using MeowRobot.Control.Telemetry;
using MeowRobot.Testing;

namespace MeowRobot.Control.Tests;

[Collection(RealtimeCollection.Name)]
public class TelemetryTests
{
    [RequiresFact(Requirement.LibZmq)]
    public void Telemetry_and_transitions_reach_a_subscriber_over_zeromq_and_transitions_are_logged()
    {
        float[] low = [-1f], high = [1f];
        var robot = new FakeRobot(2, low, high, [1f]) { LiveObservation = [0f, 0f] };
        using var loop = new ControlLoop(robot, new ControlLoopOptions { RateHz = 500 },
            new SafetyEnvelopeOptions { ActionLow = low, ActionHigh = high }, new ModeOptions { ArmOnStart = true });
        loop.OfferPolicy(new ActivePolicy(new ConstantPolicy(2, [0.5f]), 7, "const"));
        var log = new ConcurrentQueue<string>();
        using var telemetry = new ControllerTelemetry(loop, "tcp://127.0.0.1:*", TimeSpan.FromMilliseconds(20), log.Enqueue);

        using var context = new ZmqContext();
        using var sub = context.CreateSocket(ZmqSocketType.Sub);
        sub.Subscribe(TelemetryWire.TelemetryTopic);
        sub.Subscribe(TelemetryWire.TransitionTopic);
        sub.ReceiveTimeout = TimeSpan.FromSeconds(10);
        sub.Connect(telemetry.Endpoint!);
        loop.Start();

        string? status = null;
        while (status is null || !status.Contains("mode=Policy", StringComparison.Ordinal))
        {
            var frames = sub.ReceiveMultipart();   // throws TimeoutException after 10 s
            if (frames[0].AsSpan().SequenceEqual(TelemetryWire.TelemetryTopic)) status = TelemetryWire.Render(frames[1]);
        }
        Assert.Contains("policy_version=7", status, StringComparison.Ordinal);
        Assert.Contains("loop_allocated_bytes=", status, StringComparison.Ordinal);
        Wait.Until(() => log.Any(l => l.Contains("Idle -> Policy (Armed)", StringComparison.Ordinal)), "the transition logged");

        loop.RequestEStop();
        string? transition = null;
        while (transition is null)
        {
            var frames = sub.ReceiveMultipart();
            if (frames[0].AsSpan().SequenceEqual(TelemetryWire.TransitionTopic) && TelemetryWire.Render(frames[1]) is var t && t.Contains("to=EStop", StringComparison.Ordinal))
                transition = t;
        }
        Assert.Contains("from=Policy", transition, StringComparison.Ordinal);
        Assert.Contains("reason=EStopRequested", transition, StringComparison.Ordinal);
        Assert.True(loop.Stop(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Rendering_rejects_malformed_bodies_with_a_typed_error_only()
    {
        var good = new ArrayBufferWriter<byte>();
        TelemetryWire.EncodeTransition(new ModeTransition(5, 0, ControlMode.Policy, ControlMode.SafeStop, TransitionReason.ObservationStale), good);
        Assert.Equal("tick=5 from=Policy to=SafeStop reason=ObservationStale", TelemetryWire.Render(good.WrittenSpan));

        var rng = new Random(11);
        for (var i = 0; i < 5000; i++)
        {
            var bytes = i % 2 == 0 ? RandomNumberGenerator.GetBytes(rng.Next(0, 64)) : good.WrittenSpan[..rng.Next(0, good.WrittenCount)].ToArray();
            try
            {
                TelemetryWire.Render(bytes);
            }
            catch (MsgPackException)
            {
            }
        }
    }
}
