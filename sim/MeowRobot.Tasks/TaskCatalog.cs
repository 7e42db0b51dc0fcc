using MeowRobot.Bridge.Sim;
using MeowRobot.Tasks.MuJoCo;

namespace MeowRobot.Tasks;

/// <summary>How to build a task: an MJCF model for the MuJoCo tasks; built-in C# tasks take none.</summary>
public sealed record TaskOptions(string? ModelPath = null);

/// <summary>A named task, its randomisable parameters (known without building one) and how to make one instance of it.</summary>
public sealed record TaskEntry(string Name, string Summary, Func<TaskOptions, ISimTask> Create, TaskParameters Parameters, bool TakesModel = false);

/// <summary>
/// Every task `sim serve --task NAME` knows. Adding a task is one line in <see cref="Entries"/> (definitions in docs/tasks.md).
/// </summary>
public static class TaskCatalog
{
    private static readonly TaskEntry[] Entries =
    [
        new("pendulum", "Gymnasium Pendulum-v1: swing up and hold", _ => new Pendulum(), Pendulum.ParameterSet),
        new("multigoal", "2-D point mass with four goals (Haarnoja et al. 2017)", _ => new MultiGoal(), MultiGoal.ParameterSetFor("multigoal")),
        new("cartpole", "continuous cart-pole swing-up", _ => new CartPoleSwingUp(), CartPoleSwingUp.ParameterSet),
        new("multigoal-maxent", "2-D point mass with three goals, two of them left (the S2AC paper's MultiGoal)", _ => new MultiGoal(MultiGoalLayout.MaxEnt),
            MultiGoal.ParameterSetFor("multigoal-maxent")),
        new("hopper", "MuJoCo Hopper-v4", o => new PlanarRunner(PlanarRunner.Hopper, o.ModelPath!), MuJoCoTask.ParameterSetFor("hopper"), TakesModel: true),
        new("walker2d", "MuJoCo Walker2d-v4", o => new PlanarRunner(PlanarRunner.Walker2d, o.ModelPath!), MuJoCoTask.ParameterSetFor("walker2d"), TakesModel: true),
        new("half_cheetah", "MuJoCo HalfCheetah-v4", o => new PlanarRunner(PlanarRunner.HalfCheetah, o.ModelPath!), MuJoCoTask.ParameterSetFor("half_cheetah"), TakesModel: true),
        new("ant", "MuJoCo Ant-v4", o => new Ant(o.ModelPath!), MuJoCoTask.ParameterSetFor("ant"), TakesModel: true),
        new("humanoid", "MuJoCo Humanoid-v4", o => new Humanoid(o.ModelPath!), MuJoCoTask.ParameterSetFor("humanoid"), TakesModel: true),
        new("inverted_pendulum", "MuJoCo InvertedPendulum-v4", o => new InvertedPendulum(o.ModelPath!), MuJoCoTask.ParameterSetFor("inverted_pendulum"), TakesModel: true),
        new("reacher", "MuJoCo Reacher-v4", o => new Reacher(o.ModelPath!), MuJoCoTask.ParameterSetFor("reacher"), TakesModel: true),
    ];

    public static IReadOnlyList<TaskEntry> All => Entries;

    public static bool TryGet(string name, out TaskEntry entry)
    {
        entry = Array.Find(Entries, e => e.Name == name)!;
        return entry is not null;
    }

    /// <summary>Makes one instance; <see cref="ArgumentException"/> naming the known tasks for an unknown name, or for
    /// a model given to a task that takes none (or missing where one is needed).</summary>
    public static ISimTask Create(string name, TaskOptions? options = null)
    {
        options ??= new TaskOptions();
        if (!TryGet(name, out var entry))
            throw new ArgumentException($"unknown task '{name}'; known tasks: {string.Join(", ", Entries.Select(e => e.Name))}", nameof(name));
        if (entry.TakesModel && options.ModelPath is null)
            throw new ArgumentException($"task '{name}' needs a model (--model PATH)", nameof(options));
        if (!entry.TakesModel && options.ModelPath is not null)
            throw new ArgumentException($"task '{name}' takes no model, got '{options.ModelPath}'", nameof(options));
        return entry.Create(options);
    }

    /// <summary>
    /// <paramref name="numEnvs"/> instances of a task as one in-process vector env (what a sim worker serves): env i's first
    /// episode uses seed <paramref name="baseSeed"/> + i, and <paramref name="parameters"/> are set in every env (all
    /// validated first: <see cref="TaskParameterException"/> names the bad one; a MuJoCo task's per-name ones are checked
    /// against its model once built), and <paramref name="randomisation"/> drawn at every episode start (checked the same way).
    /// </summary>
    public static LocalVectorEnv CreateVectorEnv(string name, int numEnvs, TaskOptions? options = null, int baseSeed = 0,
        IReadOnlyDictionary<string, double>? parameters = null, IReadOnlyList<ParameterDistribution>? randomisation = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numEnvs, 1);
        if (parameters is not null && TryGet(name, out var entry)) entry.Parameters.Require(parameters);
        var tasks = new List<ISimTask>(numEnvs);
        LocalVectorEnv? env = null;
        try
        {
            for (var i = 0; i < numEnvs; i++) tasks.Add(Create(name, options));
            if (parameters is not null) new TaskParameters(name, tasks[0].Parameters).Require(parameters);
            env = new LocalVectorEnv(tasks, baseSeed);
            if (parameters is not null) env.SetParameters(parameters);
            if (randomisation is not null) env.SetRandomisation(randomisation);
            return env;
        }
        catch
        {
            if (env is not null) env.Dispose();
            else foreach (var t in tasks) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Repeatable <c>--randomise NAME=DIST</c> entries, read and checked against <paramref name="task"/>'s parameters (a
    /// MuJoCo task's per-name ones from its model, so one instance is built) before any env or socket exists:
    /// <see cref="FormatException"/> for a malformed entry, <see cref="ArgumentException"/> for an unknown task or
    /// parameter or bounds the parameter does not accept, or for no task at all (null: a tool pointed at a sim worker
    /// without naming the task it serves).
    /// </summary>
    public static IReadOnlyList<ParameterDistribution> Randomisation(string? task, TaskOptions? options, IEnumerable<string> entries)
    {
        var distributions = ParameterDistribution.ParseArguments(entries);
        if (distributions.Count == 0) return distributions;
        if (task is null)
            throw new ArgumentException("give the task the sim worker serves (--task, and --model for a MuJoCo task): the randomised parameters are checked against it before connecting");
        using var instance = Create(task, options);
        return ParameterDistribution.CheckAll(distributions, instance.Parameters, task) is { } why ? throw new ArgumentException(why) : distributions;
    }
}
