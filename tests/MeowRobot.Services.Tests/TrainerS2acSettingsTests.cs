using MeowRobot.Learner;
using MeowRobot.Policy.Files;
using MeowRobot.Trainer;

namespace MeowRobot.Services.Tests;

/// <summary>Trainer:Algorithm = s2ac: the task presets and the Trainer:Learner keys S2AC takes.</summary>
public sealed class TrainerS2acSettingsTests
{
    [Fact]
    public void Presets_are_the_official_defaults_with_three_svgd_steps_on_mujoco()
    {
        var pendulum = AlgorithmSetup.For(PolicyAlgorithm.S2ac, "pendulum", 3, 1);
        Assert.Equal(100, pendulum.Loop.BatchSize);
        Assert.Equal((10, 5, 0.1f, 256, 0.2f, 0.995f), (pendulum.S2ac!.Particles, pendulum.S2ac.SvgdSteps, pendulum.S2ac.SvgdLearningRate,
            pendulum.S2ac.Hidden, pendulum.S2ac.Alpha, pendulum.S2ac.Polyak));
        Assert.Equal(3, AlgorithmSetup.For(PolicyAlgorithm.S2ac, "hopper", 11, 3).S2ac!.SvgdSteps);
    }

    [Fact]
    public void Its_keys_reach_the_options_and_other_algorithms_keys_are_refused()
    {
        var preset = AlgorithmSetup.For(PolicyAlgorithm.S2ac, "pendulum", 3, 1);
        var settings = new LearnerSettings { Particles = 16, SvgdSteps = 3, Alpha = 0.5f, QLearningRate = 3e-4f, Amortized = false, Threads = 2 };
        Assert.Empty(settings.KeysNotFor(PolicyAlgorithm.S2ac));
        var s = settings.Apply(preset).S2ac!;
        Assert.Equal((16, 3, 0.5f, 3e-4f, false, 2), (s.Particles, s.SvgdSteps, s.Alpha, s.CriticLearningRate, s.Amortized, s.Threads));
        Assert.Equal(["FlowLayers"], new LearnerSettings { FlowLayers = 2 }.KeysNotFor(PolicyAlgorithm.S2ac));
        Assert.Equal(["SvgdSteps"], new LearnerSettings { SvgdSteps = 2 }.KeysNotFor(PolicyAlgorithm.Meow));
    }
}
