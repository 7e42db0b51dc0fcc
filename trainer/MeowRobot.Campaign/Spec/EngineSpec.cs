using System.Text.RegularExpressions;

namespace MeowRobot.Campaign.Spec;

/// <summary>
/// The spec's <c>engine:</c> section: which engine runs the campaign (<c>kind</c>: local, the default, or slurm; the
/// command line's <c>--engine</c> wins), how many runs at once (<c>parallel</c>) and, for Slurm, what each run's array
/// task asks for (docs/campaigns.md, "Slurm").
/// </summary>
/// <param name="Parallel">As given; null: the engine's default (local: half the cores; Slurm: no limit of its own).</param>
/// <param name="TimeLimit">Slurm's time format (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS).</param>
/// <param name="MemPerRun">Slurm's memory format (e.g. 4G, 500M).</param>
public sealed record EngineSpec(string Kind, int? Parallel, string? Partition, string? TimeLimit, int CpusPerRun, string? MemPerRun,
    string? Account, string? Qos)
{
    public const string LocalKind = "local";
    public const string SlurmKind = "slurm";

    /// <summary>A run keeps two processes busy (its sim worker and its trainer).</summary>
    public const int DefaultCpusPerRun = 2;

    public static readonly IReadOnlyList<string> Kinds = [LocalKind, SlurmKind];

    public static EngineSpec Local { get; } = new(LocalKind, null, null, null, DefaultCpusPerRun, null, null, null);

    private static readonly Regex SlurmName = new("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", RegexOptions.CultureInvariant);
    private static readonly Regex SlurmTime = new(@"^(\d+-\d{1,2}(:\d{1,2}){0,2}|\d+(:\d{1,2}){0,2})$", RegexOptions.CultureInvariant);
    private static readonly Regex SlurmMemory = new("^[1-9][0-9]{0,9}[KMGT]?$", RegexOptions.CultureInvariant);

    /// <summary>A Slurm time limit problem, or null (what <c>--time-limit</c> and the spec's <c>time_limit</c> accept).</summary>
    public static string? TimeLimitProblem(string text) =>
        SlurmTime.IsMatch(text) ? null : $"'{text}' is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)";

    /// <summary>A partition, account or QOS name problem, or null.</summary>
    public static string? NameProblem(string text) =>
        SlurmName.IsMatch(text) ? null : $"'{text}' is not a Slurm name (letters, digits, '_', '.', '-')";

    internal static EngineSpec Parse(SpecNode? node)
    {
        if (node is not { } n) return Local;
        var m = n.Mapping("kind", "parallel", "partition", "time_limit", "cpus_per_run", "mem_per_run", "account", "qos");
        var kind = LocalKind;
        if (m.Optional("kind") is { } k)
        {
            kind = k.Text();
            if (!Kinds.Contains(kind, StringComparer.Ordinal)) throw k.Error($"unknown engine '{kind}' (engines: {string.Join(", ", Kinds)})");
        }
        string? Checked(string key, Func<string, string?> problem)
        {
            if (m.Optional(key) is not { } v) return null;
            var text = v.Text();
            return problem(text) is { } why ? throw v.Error(why) : text;
        }
        return new EngineSpec(
            kind,
            m.Optional("parallel")?.Int(1, 1024),
            Checked("partition", NameProblem),
            Checked("time_limit", TimeLimitProblem),
            m.Optional("cpus_per_run")?.Int(1, 1024) ?? DefaultCpusPerRun,
            Checked("mem_per_run", t => SlurmMemory.IsMatch(t) ? null : $"'{t}' is not a Slurm memory size (a number with K, M, G or T, e.g. 4G)"),
            Checked("account", NameProblem),
            Checked("qos", NameProblem));
    }
}
