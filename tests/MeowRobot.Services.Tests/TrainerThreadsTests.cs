using System.ComponentModel.DataAnnotations;
using MeowRobot.Learner;
using MeowRobot.Policy.Files;
using MeowRobot.Trainer;

namespace MeowRobot.Services.Tests;

/// <summary>Trainer:Learner:Threads, the cores a gradient update of `trainer serve` uses.</summary>
public sealed class TrainerThreadsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Only_one_or_two_threads_are_accepted(int threads)
    {
        var settings = new LearnerSettings { Threads = threads };
        var results = new List<ValidationResult>();
        Assert.False(Validator.TryValidateObject(settings, new ValidationContext(settings), results, validateAllProperties: true));
        Assert.Equal("The field Threads must be between 1 and 2.", Assert.Single(results).ErrorMessage);
    }

    [Fact]
    public void The_setting_reaches_the_learner_options_and_defaults_to_one()
    {
        var preset = AlgorithmSetup.For(PolicyAlgorithm.Meow, "pendulum", 3, 1);
        Assert.Equal(1, new LearnerSettings().Apply(preset).Meow!.Threads);
        Assert.Equal(2, new LearnerSettings { Threads = 2 }.Apply(preset).Meow!.Threads);
    }
}
