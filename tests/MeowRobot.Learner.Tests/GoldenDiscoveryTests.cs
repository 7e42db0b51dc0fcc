using MeowRobot.Testing;

namespace MeowRobot.Learner.Tests;

/// <summary>Golden cases are discovered under whichever root the environment names, whatever the folders are called.</summary>
public sealed class GoldenDiscoveryTests
{
    [Fact]
    public void Every_folder_with_a_cases_json_is_a_case_whatever_its_name_and_others_are_ignored()
    {
        // A variable of this test's own, so that no other test's root moves.
        var variable = "MEOW_TEST_GOLDEN_" + Guid.NewGuid().ToString("N");
        var root = new GoldenRoot(variable, "meow");
        var dir = Directory.CreateTempSubdirectory("meow-golden-root-");
        try
        {
            Environment.SetEnvironmentVariable(variable, dir.FullName);
            Assert.Empty(root.Cases());
            Assert.Equal([GoldenRoot.MissingCase], ((IEnumerable<object[]>)root.CaseNames()).Select(r => (string)r[0]));
            Assert.Contains(variable, root.Missing, StringComparison.Ordinal);

            foreach (var name in new[] { "zz_other_376x17", "renamed-hopper", "a" }) File.WriteAllText(Path.Combine(dir.CreateSubdirectory(name).FullName, "cases.json"), "{}");
            File.WriteAllText(Path.Combine(dir.CreateSubdirectory("notes").FullName, "README.md"), "not a case");
            Assert.Equal(["a", "renamed-hopper", "zz_other_376x17"], root.Cases().Select(Path.GetFileName));
            Assert.Equal(["a", "renamed-hopper", "zz_other_376x17"], ((IEnumerable<object[]>)root.CaseNames()).Select(r => (string)r[0]));
            Assert.Equal(Path.Combine(dir.FullName, "a"), root.Case("a"));
            Assert.Null(root.Missing);

            Environment.SetEnvironmentVariable(variable, Path.Combine(dir.FullName, "absent"));
            Assert.Empty(root.Cases());
            Assert.NotNull(root.Missing);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_two_algorithms_roots_follow_their_own_variables()
    {
        Assert.Equal("MEOW_GOLDEN_DIR", GoldenRoot.Meow.EnvironmentVariable);
        Assert.Equal("S2AC_GOLDEN_DIR", GoldenRoot.S2ac.EnvironmentVariable);
        if (Environment.GetEnvironmentVariable("S2AC_GOLDEN_DIR") is not { Length: > 0 })
            Assert.Equal(Path.Combine(SharedMaterial.SharedDir, "golden", "s2ac"), GoldenRoot.S2ac.Dir);
        if (Environment.GetEnvironmentVariable("MEOW_GOLDEN_DIR") is not { Length: > 0 })
            Assert.Equal(Path.Combine(SharedMaterial.SharedDir, "golden", "meow"), GoldenRoot.Meow.Dir);
    }
}
