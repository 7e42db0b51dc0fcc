using Xunit;

namespace MeowRobot.Testing;

/// <summary>Finds the project's root and the ../shared material (golden vectors, MJCF models, conformance data).</summary>
public static class SharedMaterial
{
    /// <summary>The repository root: the nearest ancestor of the test's working directory that holds MeowRobot.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared beside the repository root, or $MEOW_SHARED_DIR.</summary>
    public static string SharedDir =>
        Environment.GetEnvironmentVariable("MEOW_SHARED_DIR") is { Length: > 0 } d ? d : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>The MEow golden root (<see cref="GoldenRoot.Meow"/>): $MEOW_GOLDEN_DIR, else ../shared/golden/meow.</summary>
    public static string GoldenDir => GoldenRoot.Meow.Dir;

    public static string MuJoCoModel(string name) => Path.Combine(SharedDir, "mujoco", name + ".xml");

    public static string MsgPackConformanceFile => Path.Combine(SharedDir, "conformance", "msgpack", "msgpack-test-suite.json");

    /// <summary>Every MEow case folder (<see cref="GoldenRoot.Cases"/>).</summary>
    public static IReadOnlyList<string> GoldenCases() => GoldenRoot.Meow.Cases();

    /// <summary>xunit MemberData over the MEow cases (<see cref="GoldenRoot.CaseNames"/>).</summary>
    public static TheoryData<string> GoldenCaseNames() => GoldenRoot.Meow.CaseNames();

    private static string FindRepoRoot()
    {
        // The checkout this assembly was built from (build output may live outside it, under $MEOW_ARTIFACTS).
        var recorded = typeof(SharedMaterial).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "MeowRobot.RepoRoot")?.Value;
        if (recorded is not null && File.Exists(Path.Combine(recorded, "MeowRobot.sln")))
            return recorded;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MeowRobot.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("MeowRobot.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>
/// A root of golden parity cases (../shared/golden/README.md): one folder per case, each holding a cases.json. Cases are
/// discovered, never named: any may be absent and others (other sizes, other names) may appear, so a test takes its
/// dimensions from the case it reads. The root is the environment variable when set, else ../shared/golden/&lt;algorithm&gt;.
/// </summary>
public sealed class GoldenRoot
{
    /// <summary>MEow's cases: $MEOW_GOLDEN_DIR, else ../shared/golden/meow.</summary>
    public static GoldenRoot Meow { get; } = new("MEOW_GOLDEN_DIR", "meow");

    /// <summary>S2AC's cases: $S2AC_GOLDEN_DIR, else ../shared/golden/s2ac.</summary>
    public static GoldenRoot S2ac { get; } = new("S2AC_GOLDEN_DIR", "s2ac");

    /// <summary>The one row <see cref="CaseNames"/> yields when the root holds no case, so the test skips instead of vanishing.</summary>
    public const string MissingCase = "(missing)";

    private readonly string _folder;

    /// <param name="environmentVariable">Names the root when set.</param>
    /// <param name="folder">The folder under ../shared/golden otherwise.</param>
    public GoldenRoot(string environmentVariable, string folder)
    {
        EnvironmentVariable = environmentVariable;
        _folder = folder;
    }

    public string EnvironmentVariable { get; }

    /// <summary>Read on every call, so a test run can point it elsewhere.</summary>
    public string Dir =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } d ? d : Path.Combine(SharedMaterial.SharedDir, "golden", _folder);

    /// <summary>Every case folder under the root, in ordinal order; empty when the root is absent.</summary>
    public IReadOnlyList<string> Cases() =>
        Directory.Exists(Dir)
            ? Directory.GetDirectories(Dir).Where(d => File.Exists(Path.Combine(d, "cases.json"))).Order(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>The folder of the case called <paramref name="name"/> (a name from <see cref="CaseNames"/>).</summary>
    public string Case(string name) => Path.Combine(Dir, name);

    /// <summary>xunit MemberData: one row per case folder name, or the single row <see cref="MissingCase"/> when there is none.</summary>
    public TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        var cases = Cases();
        if (cases.Count == 0) data.Add(MissingCase);
        foreach (var c in cases) data.Add(Path.GetFileName(c));
        return data;
    }

    /// <summary>Null when the root holds at least one case, else why a test that needs one is skipped.</summary>
    public string? Missing => Cases().Count > 0 ? null : $"no golden case folders under {Dir} (set {EnvironmentVariable})";
}
