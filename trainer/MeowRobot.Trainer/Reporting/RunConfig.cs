using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using MeowRobot.Trainer.Reporting.TensorBoard;

namespace MeowRobot.Trainer.Reporting;

/// <summary>
/// What a run was started with, written to RunDir/config.json by <see cref="RunRecord"/> at each process start (a
/// resumed run's file is replaced; the previous one is kept as config.previous.json): the command and its command line,
/// the code's version, the seed, the task, every hyperparameter as resolved (the task's preset with the overrides
/// applied) and the command's own options.
/// </summary>
/// <param name="Command">"trainer learn", "trainer serve", …</param>
/// <param name="Hyperparameters">Flat name → value (numbers, bools, strings): <see cref="Flatten"/> of the learner's settings.</param>
/// <param name="Options">The command's options as bound (serve: the Trainer section), serialised as they are.</param>
public sealed record RunConfig(string Command, string Algorithm, string Task, int ObsDim, int ActDim, int Seed,
    IReadOnlyList<HParam> Hyperparameters, object? Options)
{
    public const string FileName = "config.json";
    public const string PreviousFileName = "config.previous.json";

    /// <summary>This process's arguments (the executable's path first).</summary>
    public IReadOnlyList<string> CommandLine { get; init; } = Environment.GetCommandLineArgs();

    /// <summary><c>git describe --always --dirty --tags</c> of the checkout the trainer was built from; null when it was
    /// built outside a checkout (or without git).</summary>
    public string? CodeVersion { get; init; } = BuiltFrom;

    public static string? BuiltFrom { get; } = typeof(RunConfig).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "MeowSourceVersion" && !string.IsNullOrWhiteSpace(a.Value))?.Value;

    /// <summary>An algorithm's resolved settings as hyperparameters: the shared loop's first (its seed is the run's), then
    /// the algorithm's own records.</summary>
    public static IReadOnlyList<HParam> Of(MeowRobot.Learner.AlgorithmSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        return Flatten([.. new object?[] { setup.Loop, setup.Flow, setup.Meow, setup.Sac, setup.S2ac }.OfType<object>()]);
    }

    /// <summary>The public properties of settings records as hyperparameters (snake_case names, as CleanRL's): numbers,
    /// bools, strings and enums; nulls and other types are left out. A name seen twice keeps its first value.</summary>
    public static IReadOnlyList<HParam> Flatten(params object[] settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = new List<HParam>();
        foreach (var s in settings)
        {
            foreach (var p in s.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (p.GetIndexParameters().Length > 0 || p.GetValue(s) is not { } value) continue;
                var name = JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name);
                object? v = value switch
                {
                    bool b => b,
                    string text => text,
                    Enum e => e.ToString(),
                    // A float's shortest decimal (0.1, not 0.10000000149011612).
                    float f => double.Parse(f.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                    IConvertible c when value is int or long or double or short or byte or uint or ulong or decimal =>
                        c.ToDouble(CultureInfo.InvariantCulture),
                    _ => null,
                };
                if (v is not null && seen.Add(name)) list.Add(new HParam(name, v));
            }
        }
        return list;
    }

    public string ToJson(DateTimeOffset startedAt)
    {
        var document = new Dictionary<string, object?>
        {
            ["command"] = Command,
            ["command_line"] = CommandLine,
            ["code_version"] = CodeVersion,
            ["started_at"] = startedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["host"] = Environment.MachineName,
            ["seed"] = Seed,
            ["algorithm"] = Algorithm,
            ["task"] = new Dictionary<string, object> { ["name"] = Task, ["obs_dim"] = ObsDim, ["act_dim"] = ActDim },
            ["hyperparameters"] = Hyperparameters.ToDictionary(h => h.Name, h => h.Value, StringComparer.Ordinal),
            ["options"] = Options,
        };
        return JsonSerializer.Serialize(document, Json);
    }

    /// <summary>The hyperparameters as a Markdown table (TensorBoard's text plugin).</summary>
    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var b = new System.Text.StringBuilder();
        b.Append(inv, $"**{Command}** ({Algorithm}) on `{Task}` ({ObsDim} obs, {ActDim} act), seed {Seed}, code {CodeVersion ?? "unknown"}\n\n");
        b.Append("| hyperparameter | value |\n|---|---|\n");
        foreach (var h in Hyperparameters) b.Append(inv, $"| {h.Name} | {Convert.ToString(h.Value, inv)} |\n");
        b.Append("\n`").Append(string.Join(' ', CommandLine)).Append("`\n");
        return b.ToString();
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
