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

    [Fact]
    public void Every_tasks_parameters_are_known_without_building_it_and_judged_with_a_typed_problem()
    {
        foreach (var entry in TaskCatalog.All)
        {
            Assert.Contains(entry.Parameters.All, p => p.Name == SimTask.ActionDelayName);
            if (entry.TakesModel) continue;
            using var task = entry.Create(new TaskOptions());
            Assert.Equal(task.Parameters, entry.Parameters.All);   // the list a built task uses is the catalogue's
        }
        Assert.True(TaskCatalog.TryGet("hopper", out var hopper));
        Assert.Contains(hopper.Parameters.All, p => p.Name == "body_mass_scale");

        Assert.True(TaskCatalog.TryGet("pendulum", out var pendulum));
        var p = pendulum.Parameters;
        Assert.Null(p.Check("mass", 1.5));
        Assert.Equal(TaskParameterProblemKind.OutOfRange, p.Check("mass", 100)!.Kind);
        Assert.Equal(TaskParameterProblemKind.NotFinite, p.Check("mass", double.NaN)!.Kind);
        Assert.Equal(TaskParameterProblemKind.NotInteger, p.Check(SimTask.ActionDelayName, 1.5)!.Kind);
        Assert.Equal(TaskParameterProblemKind.Unknown, p.Check("masss", 1)!.Kind);
        Assert.Equal(2, p.Check(new Dictionary<string, double> { ["mass"] = 100, ["length"] = 1, ["masss"] = 3 }).Count);
        var e = Assert.Throws<TaskParameterException>(() => p.Require(new Dictionary<string, double> { ["gravity"] = 30 }));
        Assert.Equal(("pendulum", "gravity", 30.0), (e.Problem.Task, e.Problem.Name, e.Problem.Value));
        Assert.Throws<TaskParameterException>(() => TaskCatalog.CreateVectorEnv("pendulum", 2, parameters: new Dictionary<string, double> { ["mass"] = 100 }));
    }
}
