using System.ComponentModel.DataAnnotations;
using MeowRobot.Hosting.Configuration;
using MeowRobot.Tasks;

namespace MeowRobot.Sim;

/// <summary>Configuration section "Sim" of <c>sim serve</c> (keys: docs/operations.md).</summary>
public sealed class SimOptions : IValidatableObject
{
    public const string Section = "Sim";

    /// <summary>Task name from the catalogue (pendulum, multigoal, cartpole, the MuJoCo tasks).</summary>
    [Required]
    public string Task { get; set; } = "pendulum";

    /// <summary>Copies of the task this worker steps per request.</summary>
    [Range(1, 4096)]
    public int Envs { get; set; } = 8;

    /// <summary>Where the worker's ROUTER socket binds: tcp://HOST:PORT or ipc://PATH.</summary>
    [Required, Endpoint]
    public string Bind { get; set; } = "";

    /// <summary>Seed of the first reset; null: from the OS.</summary>
    public int? Seed { get; set; }

    /// <summary>MJCF model file, for the tasks that take one.</summary>
    [ExistingFile]
    public string? Model { get; set; }

    /// <summary>Randomisable task parameters set in every env (name → value, e.g. Sim:Params:mass = 1.5; docs/tasks.md).</summary>
    public Dictionary<string, double> Params { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!TaskCatalog.TryGet(Task, out var entry))
        {
            yield return new ValidationResult(
                $"unknown task '{Task}'; known tasks: {string.Join(", ", TaskCatalog.All.Select(e => e.Name))}", [nameof(Task)]);
        }
        else if (entry.TakesModel && Model is null)
        {
            yield return new ValidationResult($"task '{Task}' needs an MJCF model file", [nameof(Model)]);
        }
        else if (!entry.TakesModel && Model is not null)
        {
            yield return new ValidationResult($"task '{Task}' is built in and takes no model", [nameof(Model)]);
        }
    }
}
