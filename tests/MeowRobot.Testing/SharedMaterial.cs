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

    /// <summary>The golden root: $MEOW_GOLDEN_DIR, else ../shared/golden/meow.</summary>
    public static string GoldenDir =>
        Environment.GetEnvironmentVariable("MEOW_GOLDEN_DIR") is { Length: > 0 } d ? d : Path.Combine(SharedDir, "golden", "meow");

    public static string MuJoCoModel(string name) => Path.Combine(SharedDir, "mujoco", name + ".xml");

    public static string MsgPackConformanceFile => Path.Combine(SharedDir, "conformance", "msgpack", "msgpack-test-suite.json");

    /// <summary>Every case folder under the golden root (discovered, never listed by hand); empty when the root is absent.</summary>
    public static IReadOnlyList<string> GoldenCases() =>
        Directory.Exists(GoldenDir)
            ? Directory.GetDirectories(GoldenDir).Where(d => File.Exists(Path.Combine(d, "cases.json"))).Order(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>xunit MemberData over the golden cases: one row per case folder name. When the root is absent it yields one
    /// row, "(missing)", so that the test can skip with a message instead of vanishing.</summary>
    public static TheoryData<string> GoldenCaseNames()
    {
        var data = new TheoryData<string>();
        var cases = GoldenCases();
        if (cases.Count == 0) data.Add(MissingCase);
        foreach (var c in cases) data.Add(Path.GetFileName(c));
        return data;
    }

    public const string MissingCase = "(missing)";

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
