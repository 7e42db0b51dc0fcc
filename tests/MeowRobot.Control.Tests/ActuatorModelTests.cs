using MeowRobot.Bridge.Sim;
using MeowRobot.Control.Safety;
using MeowRobot.Tasks;

namespace MeowRobot.Control.Tests;

/// <summary>The robot's actuator as the trainer applies it: the envelope at the loop's rate over one plant step.</summary>
public sealed class ActuatorModelTests : IDisposable
{
    private static readonly TaskSpec PendulumSpec = new Pendulum().Spec;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-actuator-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void The_default_rate_limit_moves_the_pendulums_torque_0_4_per_50_ms_step_at_1_kHz()
    {
        // Full range (4 N·m) in 0.5 s = 8 N·m/s; a 20 Hz plant step spans 50 ticks of 1 ms: 0.4 per step.
        var actuator = new ActuatorModel(new SafetyEnvelopeOptions(), loopRateHz: 1000, stepRateHz: 20).CreateActuator(PendulumSpec);
        Assert.Equal(50, actuator.TicksPerStep);
        var applied = new float[1];
        var seen = new List<float>();
        foreach (var target in new[] { 2f, 2f, 2f, 2f, 2f, 2f, -2f, -2f })
        {
            actuator.Apply([target], applied);
            seen.Add(applied[0]);
        }
        float[] expected = [0.4f, 0.8f, 1.2f, 1.6f, 2f, 2f, 1.6f, 1.2f];
        Assert.Equal(expected.Length, seen.Count);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], seen[i], 4);
    }

    [Fact]
    public void The_unshaped_envelope_passes_any_action_in_the_box_within_one_tick()
    {
        var actuator = new ActuatorModel(ActuatorModel.UnshapedEnvelope(PendulumSpec, 1000), 1000, 1000).CreateActuator(PendulumSpec);
        Assert.Equal(1, actuator.TicksPerStep);
        var applied = new float[1];
        foreach (var target in new[] { 2f, -2f, 0.3f, -1.7f, 5f })
        {
            actuator.Apply([target], applied);
            Assert.Equal(Math.Clamp(target, -2f, 2f), applied[0]);
        }
    }

    [Fact]
    public void An_actuated_env_steps_the_task_with_the_rate_limited_torques()
    {
        var model = new ActuatorModel(new SafetyEnvelopeOptions(), 1000, 20);
        using var env = new ActuatedVectorEnv(new LocalVectorEnv([new Pendulum()]), model);
        using var peer = new Pendulum();
        var batch = new VectorBatch(1, 3);
        var obs = new float[3];
        env.Reset(batch, [11]);
        peer.Reset(11, obs);
        Assert.Equal(obs, batch.ObsRow(0).ToArray());
        var torque = 0f;
        for (var k = 0; k < 30; k++)
        {
            var target = k % 10 < 5 ? 2f : -2f;
            torque = Math.Clamp(torque + Math.Clamp(target - torque, -0.4f, 0.4f), -2f, 2f);   // the limit by hand
            var (reward, _) = peer.Step([torque], obs);
            env.Step([target], batch);
            Assert.Equal(reward, batch.Reward[0], 3);
            Assert.Equal(obs[2], batch.Obs[2], 3);
        }
    }

    [Fact]
    public void The_model_is_read_from_a_controller_configuration_and_every_bad_key_is_named()
    {
        var good = Path.Combine(_dir.FullName, "controller.json");
        File.WriteAllText(good, """
            { "Controller": { "Robot": "tcp://robot:5600",
              "Loop": { "RateHz": 500 }, "SimRobot": { "StepRateHz": 50 },
              "Envelope": { "MaxRatePerSecond": [ 12.5 ], "LowPassCutoffHz": 30 } } }
            """);
        var model = ActuatorModel.Load(good);
        Assert.Equal((500.0, 50.0, 10), (model.LoopRateHz, model.StepRateHz, model.TicksPerStep));
        Assert.Equal([12.5f], model.Envelope.MaxRatePerSecond!);
        Assert.Equal(30, model.Envelope.LowPassCutoffHz);
        Assert.Equal([-2f], model.EnvelopeFor(PendulumSpec).ActionLow);   // empty bounds: the task's

        var bad = Path.Combine(_dir.FullName, "bad.json");
        File.WriteAllText(bad, """{ "Controller": { "Envelope": { "MaxRatePerSecnd": [ 1 ], "LowPassCutoffHz": "fast" } } }""");
        var e = Assert.Throws<InvalidControlOptionsException>(() => ActuatorModel.Load(bad));
        Assert.Contains(e.Problems, p => p.Contains("Controller:Envelope:MaxRatePerSecnd", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.Contains("Controller:Envelope:LowPassCutoffHz", StringComparison.Ordinal));

        var wrongSize = Path.Combine(_dir.FullName, "two.json");
        File.WriteAllText(wrongSize, """{ "Controller": { "Envelope": { "MaxRatePerSecond": [ 1, 2 ] } } }""");
        Assert.Throws<InvalidControlOptionsException>(() => ActuatorModel.Load(wrongSize).CreateActuator(PendulumSpec));
        Assert.Throws<FileNotFoundException>(() => ActuatorModel.Load(Path.Combine(_dir.FullName, "missing.json")));
        File.WriteAllText(bad, "{ not json");
        Assert.Throws<InvalidControlOptionsException>(() => ActuatorModel.Load(bad));
    }
}
