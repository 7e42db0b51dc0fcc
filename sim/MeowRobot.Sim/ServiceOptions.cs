using System.ComponentModel.DataAnnotations;
using MeowRobot.Bridge.Native;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
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
    [Required, Endpoint(Bind = true)]
    public string Bind { get; set; } = "";

    /// <summary>Seed of the first reset; null: from the OS.</summary>
    public int? Seed { get; set; }

    /// <summary>MJCF model file, for the tasks that take one.</summary>
    [ExistingFile]
    public string? Model { get; set; }

    /// <summary>The worker's CURVE secret key (`sim keys generate`); with <see cref="AllowedClientKeysDir"/> it makes the
    /// worker a CURVE server admitting only allow-listed clients. Required when <see cref="Bind"/> is not loopback or ipc.</summary>
    [CurveKeyFile(Secret = true)]
    public string? SecretKeyFile { get; set; }

    /// <summary>Directory of the public keys (<c>*.key</c>) of the trainers and controllers allowed to connect.</summary>
    public string? AllowedClientKeysDir { get; set; }

    /// <summary>Randomisable task parameters set in every env (name → value, e.g. Sim:Params:mass = 1.5; docs/tasks.md).</summary>
    public Dictionary<string, double> Params { get; set; } = [];

    /// <summary>Per-episode domain randomisation (name → distribution, e.g. Sim:Randomise:mass = uniform(0.5, 2);
    /// docs/tasks.md, "Domain randomisation"); a trainer's reset may replace it.</summary>
    public Dictionary<string, string> Randomise { get; set; } = [];

    /// <summary>Sim:Randomise parsed (<see cref="FormatException"/> for a malformed entry; <see cref="Validate"/> reports those).</summary>
    public IReadOnlyList<ParameterDistribution> Randomisation() =>
        Randomise.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => ParameterDistribution.Parse(kv.Key, kv.Value)).ToArray();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var problem in CurveProblems()) yield return problem;
        foreach (var (name, text) in Randomise ?? [])
        {
            if (ParameterDistribution.ParseProblem(name, text) is { } problem) yield return new ValidationResult(problem, [$"{nameof(Randomise)}:{name}"]);
        }
        TaskParameters? built = null;
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
        else if (entry.TakesModel && File.Exists(Model))
        {
            (var problem, built) = LoadModel(entry, Model!);
            if (problem is not null) yield return new ValidationResult(problem, [nameof(Model)]);
        }
        if (entry is null) yield break;
        // With its model loaded a MuJoCo task's per-name parameters are known; without it ([ExistingFile] or the model
        // problem above reports why) only the shared and scale ones are, and Sim:Randomise waits for the model.
        var known = built ?? entry.Parameters;
        foreach (var p in known.Check(Params))
            yield return new ValidationResult(p.Message, [$"{nameof(Params)}:{p.Name}"]);
        if (Randomise is { Count: > 0 } && (built is not null || !entry.TakesModel)
            && !Randomise.Any(kv => ParameterDistribution.ParseProblem(kv.Key, kv.Value) is not null))
        {
            foreach (var d in Randomisation())
            {
                if (d.Check(known.All, Task) is { } why) yield return new ValidationResult(why, [$"{nameof(Randomise)}:{d.Name}"]);
            }
        }
    }

    /// <summary>Loads the model into the task once, as serve will: another task's model, or one MuJoCo cannot load, is
    /// found here rather than by a worker that then dies in a restart loop. On success, the task's parameters with the
    /// model's per-name ones (what Sim:Params and Sim:Randomise are checked against).</summary>
    private static (string? Problem, TaskParameters? Parameters) LoadModel(TaskEntry entry, string model)
    {
        try
        {
            using var task = TaskCatalog.Create(entry.Name, new TaskOptions(model));
            return (null, new TaskParameters(entry.Name, [.. task.Parameters]));
        }
        catch (Exception e) when (e is MeowRobot.Tasks.MuJoCo.MuJoCoException or ArgumentException or IOException or DllNotFoundException or InvalidOperationException)
        {
            return ($"task '{entry.Name}' cannot use model '{model}': {e.Message}", null);
        }
    }

    /// <summary>CURVE: both keys or neither, and keys whenever the worker is reachable from the network.</summary>
    private IEnumerable<ValidationResult> CurveProblems()
    {
        if (SecretKeyFile is null && AllowedClientKeysDir is null)
        {
            if (!string.IsNullOrEmpty(Bind) && EndpointAttribute.Problem(Bind) is null && !SimEndpoint.IsLoopback(Bind))
                yield return new ValidationResult(
                    $"{Bind} is reachable from the network: set Sim:SecretKeyFile and Sim:AllowedClientKeysDir (CURVE + allow-list; `sim keys generate`), or bind loopback/ipc",
                    [nameof(SecretKeyFile)]);
            yield break;
        }
        if (SecretKeyFile is null)
            yield return new ValidationResult("Sim:AllowedClientKeysDir needs Sim:SecretKeyFile (the worker's CURVE key)", [nameof(SecretKeyFile)]);
        if (AllowedClientKeysDir is null)
        {
            yield return new ValidationResult("Sim:SecretKeyFile needs Sim:AllowedClientKeysDir (the clients it admits)", [nameof(AllowedClientKeysDir)]);
            yield break;
        }
        string? problem = null;
        try
        {
            if (ZmqCurveKeyPair.LoadPublicKeys(AllowedClientKeysDir).Length == 0)
                problem = $"no client public keys (*.key) in '{AllowedClientKeysDir}': no trainer or controller could connect";
        }
        catch (Exception e) when (e is ZmqKeyFileException or ZmqException or MissingNativeLibraryException)
        {
            problem = e.Message;
        }
        if (problem is not null) yield return new ValidationResult(problem, [nameof(AllowedClientKeysDir)]);
    }
}
