using MeowRobot.Testing;

namespace MeowRobot.Services.Tests;

public sealed class InstallScriptTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-install-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static (int Code, string Out, string Err) Install(params string[] args) => InstallScript.Run(args);

    private string Root(string path) => Path.Combine(_dir.FullName, path.TrimStart('/'));

    private static string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8);

    [Fact]
    public void Dry_run_prints_every_step_of_a_real_install_and_changes_nothing()
    {
        var (code, output, err) = Install("--dry-run", "--services", "trainer,sim", "--sim-workers", "3");

        Assert.Equal((0, ""), (code, err));
        var repo = SharedMaterial.RepoRoot;
        foreach (var step in new[]
                 {
                     $"+ dotnet publish {repo}/trainer/MeowRobot.Trainer -c Release -nologo -o /opt/meowrobot/trainer",
                     $"+ dotnet publish {repo}/sim/MeowRobot.Sim -c Release -nologo -o /opt/meowrobot/sim",
                     "+ install -d -m 0750 -o root -g meow /etc/meowrobot",
                     "+ install -d -m 0700 -o meow -g meow /etc/meowrobot/keys",
                     "+ write /etc/meowrobot/sim-3.json (mode 0640)",
                     $"+ install -m 0644 {repo}/systemd/meow-sim@.service /etc/systemd/system/meow-sim@.service",
                     "+ systemctl daemon-reload",
                     "+ systemctl enable meow-trainer.service meow-sim.target meow-sim@1.service meow-sim@2.service meow-sim@3.service",
                 })
            Assert.Contains(step + "\n", output, StringComparison.Ordinal);
        Assert.DoesNotContain("MeowRobot.Controller", output, StringComparison.Ordinal);
        Assert.True(File.Exists("/etc/meowrobot/sim-3.json") == output.Contains("= /etc/meowrobot/sim-3.json exists", StringComparison.Ordinal));
    }

    [RequiresFact(Requirement.SystemdAnalyze)]
    public void A_prefix_install_lays_out_config_keys_and_enabled_units_with_tight_modes_and_keeps_config_on_upgrade()
    {
        var (code, output, err) = Install("--prefix", _dir.FullName, "--no-publish", "--sim-workers", "2");
        Assert.True(code == 0, output + err);

        Assert.Equal("750", Mode(Root("/etc/meowrobot")));
        Assert.Equal("700", Mode(Root("/etc/meowrobot/keys")));
        foreach (var file in new[] { "trainer.json", "sim.json", "sim-1.json", "sim-2.json", "controller.json" })
            Assert.Equal("640", Mode(Root("/etc/meowrobot/" + file)));
        Assert.Contains("\"tcp://127.0.0.1:5601\", \"tcp://127.0.0.1:5602\"", File.ReadAllText(Root("/etc/meowrobot/trainer.json")), StringComparison.Ordinal);
        Assert.Equal("/etc/systemd/system/meow-controller.service",
            new FileInfo(Root("/etc/systemd/system/multi-user.target.wants/meow-controller.service")).LinkTarget);
        Assert.Equal("/etc/systemd/system/meow-sim@.service",
            new FileInfo(Root("/etc/systemd/system/meow-sim.target.wants/meow-sim@2.service")).LinkTarget);
        Assert.Equal(File.ReadAllText(Path.Combine(SharedMaterial.RepoRoot, "systemd", "meow-trainer.service")),
            File.ReadAllText(Root("/etc/systemd/system/meow-trainer.service")));

        File.WriteAllText(Root("/etc/meowrobot/sim.json"), """{ "Sim": { "Task": "cartpole" } }""");
        var (again, output2, err2) = Install("--prefix", _dir.FullName, "--no-publish", "--sim-workers", "2");

        Assert.True(again == 0, output2 + err2);
        Assert.Contains($"= {Root("/etc/meowrobot/sim.json")} exists, kept", output2, StringComparison.Ordinal);
        Assert.Equal("""{ "Sim": { "Task": "cartpole" } }""", File.ReadAllText(Root("/etc/meowrobot/sim.json")));
    }

    [RequiresFact(Requirement.SystemdAnalyze)]
    public void The_promotion_stream_is_installed_and_enabled_as_the_other_units_when_asked_for_and_only_then()
    {
        var (code, output, err) = Install("--dry-run", "--services", "promotion");
        Assert.Equal((0, ""), (code, err));
        Assert.Contains($"+ dotnet publish {SharedMaterial.RepoRoot}/trainer/MeowRobot.Campaign -c Release -nologo -o /opt/meowrobot/campaign\n", output, StringComparison.Ordinal);
        Assert.Contains("+ systemctl enable meow-promotion.service\n", output, StringComparison.Ordinal);

        (code, output, err) = Install("--prefix", _dir.FullName, "--no-publish");
        Assert.True(code == 0, output + err);
        Assert.False(File.Exists(Root("/etc/systemd/system/meow-promotion.service")));   // not one of the defaults
        Assert.False(File.Exists(Root("/etc/meowrobot/promotion.json")));

        (code, output, err) = Install("--prefix", _dir.FullName, "--no-publish", "--services", "promotion");
        Assert.True(code == 0, output + err);
        Assert.Equal(File.ReadAllText(Path.Combine(SharedMaterial.RepoRoot, "systemd", "meow-promotion.service")),
            File.ReadAllText(Root("/etc/systemd/system/meow-promotion.service")));
        Assert.Equal("/etc/systemd/system/meow-promotion.service",
            new FileInfo(Root("/etc/systemd/system/multi-user.target.wants/meow-promotion.service")).LinkTarget);
        Assert.Equal("640", Mode(Root("/etc/meowrobot/promotion.json")));
        Assert.Contains("\"Promotion\": { \"Campaign\": \"/var/lib/meowrobot/campaigns/", File.ReadAllText(Root("/etc/meowrobot/promotion.json")), StringComparison.Ordinal);
        Assert.True(File.Exists(Root("/opt/meowrobot/docs/campaigns.md")));   // the unit's Documentation=
        Assert.Contains("/opt/meowrobot/campaign/MeowRobot.Campaign stream serve --check", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_are_refused_before_anything_happens()
    {
        var (code, output, err) = Install("--prefix", _dir.FullName, "--services", "trainer,robot");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("unknown service 'robot'", err, StringComparison.Ordinal);
        Assert.Empty(_dir.GetFileSystemInfos());
    }
}
