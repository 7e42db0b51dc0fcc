using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Tasks;

namespace MeowRobot.Sim.Tests;

/// <summary>Invariants of every built-in task under random parameters (within their ranges) and arbitrary finite actions.</summary>
public class TaskPropertyTests
{
    public static TheoryData<string> Names() => new(TaskCatalog.All.Where(e => !e.TakesModel).Select(e => e.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void Random_parameters_and_actions_keep_observations_finite_and_seeds_reproducible(string name)
    {
        var gen =
            from seed in Gen.Choose(int.MinValue, int.MaxValue)
            from fractions in Gen.ArrayOf(Gen.Choose(0, 1000), 16)
            from actions in Gen.ArrayOf(Gen.Elements(-1e30f, -3f, -1f, -0.1f, 0f, 0.5f, 1f, 2.5f, 1e30f), 40)
            select (seed, fractions, actions);
        Prop.ForAll(gen.ToArbitrary(), c =>
        {
            var (seed, fractions, actions) = c;
            var trace = Run(name, seed, fractions, actions);
            Assert.All(trace, v => Assert.True(float.IsFinite(v)));
            Assert.Equal(trace, Run(name, seed, fractions, actions)); // deterministic per seed and parameters
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(100));
    }

    private static List<float> Run(string name, int seed, int[] fractions, float[] actions)
    {
        using var task = TaskCatalog.Create(name);
        for (var i = 0; i < task.Parameters.Count; i++)
        {
            var p = task.Parameters[i];
            var v = p.Min + (p.Max - p.Min) * fractions[i % fractions.Length] / 1000.0;
            task.SetParameter(p.Name, p.Integer ? Math.Round(v) : v);
        }
        var obs = new float[task.Spec.ObsDim];
        var trace = new List<float>();
        task.Reset(seed, obs);
        trace.AddRange(obs);
        var act = new float[task.Spec.ActDim];
        for (var t = 0; t < actions.Length; t++)
        {
            for (var k = 0; k < act.Length; k++) act[k] = actions[(t + k) % actions.Length];
            var (r, terminated) = task.Step(act, obs);
            trace.Add(r);
            trace.AddRange(obs);
            if (name == "pendulum") Assert.InRange(((Pendulum)task).State.ThetaDot, -Pendulum.MaxSpeed, Pendulum.MaxSpeed);
            if (name == "multigoal") Assert.All([((MultiGoal)task).Position.X, ((MultiGoal)task).Position.Y], v => Assert.InRange(v, -7, 7));
            if (terminated) task.Reset(null, obs);
        }
        return trace;
    }
}
