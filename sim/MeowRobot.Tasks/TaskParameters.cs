using System.Globalization;
using MeowRobot.Bridge.Sim;

namespace MeowRobot.Tasks;

/// <summary>Why a task parameter value cannot be used.</summary>
public enum TaskParameterProblemKind
{
    /// <summary>The task has no parameter of that name.</summary>
    Unknown,
    /// <summary>NaN or ±∞.</summary>
    NotFinite,
    /// <summary>Outside the parameter's [Min, Max].</summary>
    OutOfRange,
    /// <summary>A fraction given to a whole-number parameter (e.g. action_delay).</summary>
    NotInteger,
}

/// <summary>One unusable parameter value, with the text services print (configuration errors, error replies).</summary>
public sealed record TaskParameterProblem(string Task, string Name, double Value, TaskParameterProblemKind Kind, string Message);

/// <summary>A task parameter that cannot be set; <see cref="Problem"/> says which and why.</summary>
public sealed class TaskParameterException(TaskParameterProblem problem) : ArgumentException(problem.Message)
{
    public TaskParameterProblem Problem { get; } = problem;
}

/// <summary>
/// A task's randomisable parameters, known without building the task (a MuJoCo task needs no model for it): what
/// <c>sim serve --check</c> validates Sim:Params with, and what parameter distributions check their ranges against.
/// </summary>
/// <param name="modelPrefixes">Prefixes of parameters whose names come from the task's model (a MuJoCo task's
/// <c>body_mass.torso</c>): unknown until the model is loaded, so a name under one passes <see cref="Check(string, double)"/>
/// here and is checked against the built task.</param>
public sealed class TaskParameters(string task, IReadOnlyList<TaskParameter> parameters, IReadOnlyList<string>? modelPrefixes = null)
{
    public string Task { get; } = task;
    public IReadOnlyList<TaskParameter> All { get; } = parameters;
    public IReadOnlyList<string> ModelPrefixes { get; } = modelPrefixes ?? [];

    /// <summary>Whether <paramref name="name"/> is a per-name parameter only the task's model can confirm.</summary>
    public bool IsModelDependent(string name) => Find(name) is null && ModelPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal) && name.Length > prefix.Length);

    /// <summary>The parameter called <paramref name="name"/>; <see cref="TaskParameterException"/> (kind Unknown) when there is none.</summary>
    public TaskParameter Get(string name) =>
        Find(name) ?? throw new TaskParameterException(UnknownProblem(name, double.NaN));

    public TaskParameter? Find(string name)
    {
        foreach (var p in All)
        {
            if (p.Name == name) return p;
        }
        return null;
    }

    /// <summary>Null when <paramref name="name"/> = <paramref name="value"/> can be set, else the problem.</summary>
    public TaskParameterProblem? Check(string name, double value)
    {
        if (Find(name) is not { } p)
        {
            return IsModelDependent(name) && !double.IsFinite(value)
                ? new TaskParameterProblem(Task, name, value, TaskParameterProblemKind.NotFinite,
                    string.Create(CultureInfo.InvariantCulture, $"{Task}: {name} = {value} is not finite"))
                : IsModelDependent(name) ? null : UnknownProblem(name, value);
        }
        var kind = !double.IsFinite(value) ? TaskParameterProblemKind.NotFinite
            : value < p.Min || value > p.Max ? TaskParameterProblemKind.OutOfRange
            : p.Integer && value != Math.Floor(value) ? TaskParameterProblemKind.NotInteger
            : (TaskParameterProblemKind?)null;
        return kind is { } k ? new TaskParameterProblem(Task, name, value, k, $"{Task}: {p.Validate(value)}") : null;
    }

    /// <summary>Every problem of a set of values (empty: all can be set).</summary>
    public IReadOnlyList<TaskParameterProblem> Check(IReadOnlyDictionary<string, double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var problems = new List<TaskParameterProblem>();
        foreach (var (name, value) in values)
        {
            if (Check(name, value) is { } problem) problems.Add(problem);
        }
        return problems;
    }

    /// <summary>Throws <see cref="TaskParameterException"/> for the first problem of <paramref name="values"/>.</summary>
    public void Require(IReadOnlyDictionary<string, double> values)
    {
        if (Check(values) is [var first, ..]) throw new TaskParameterException(first);
    }

    private TaskParameterProblem UnknownProblem(string name, double value) => new(Task, name, value, TaskParameterProblemKind.Unknown,
        string.Create(CultureInfo.InvariantCulture, $"{Task} has no parameter '{name}' (it has: {string.Join(", ", All.Select(p => p.Name))})"));
}
