using MeowRobot.Tasks;

namespace MeowRobot.Sim.Tests;

public class TaskCatalogTests
{
    [Theory]
    [InlineData("pendulum", 3, 1, 200)]
    [InlineData("multigoal", 2, 2, 1000)]
    [InlineData("cartpole", 5, 1, 500)]
    [InlineData("multigoal-maxent", 2, 2, 30)]
    public void Built_in_tasks_have_their_documented_shapes(string name, int obsDim, int actDim, int horizon)
    {
        using var task = TaskCatalog.Create(name);
        Assert.Equal((name, obsDim, actDim, horizon), (task.Spec.Name, task.Spec.ObsDim, task.Spec.ActDim, task.Spec.MaxEpisodeSteps));
        Assert.All(task.Parameters, p => Assert.InRange(p.Default, p.Min, p.Max));
        Assert.Contains(task.Parameters, p => p.Name == "action_delay" && p.Integer);
    }

    [Fact]
    public void Unknown_names_and_stray_models_are_refused_with_the_known_names()
    {
        var e = Assert.Throws<ArgumentException>(() => TaskCatalog.Create("pendulun"));
        Assert.Contains("pendulum, multigoal, cartpole", e.Message);
        Assert.Throws<ArgumentException>(() => TaskCatalog.Create("pendulum", new TaskOptions("x.xml")));
    }
}
