using MeowRobot.Campaign.Engines;

namespace MeowRobot.Campaign.Tests;

/// <summary>Where the campaign program finds the trainer, sim worker and controller: beside itself, built or installed.</summary>
public sealed class ServiceExecutablesTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-executables-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Touch(params string[] parts)
    {
        var path = Path.Combine([_dir.FullName, .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "");
        return path;
    }

    [Fact]
    public void Built_beside_it_in_the_same_configuration_or_installed_beside_it_by_install_sh()
    {
        // ./meow build: artifacts/bin/MeowRobot.X/release/MeowRobot.X; the debug build of the trainer is not the one.
        var built = Touch("artifacts", "bin", "MeowRobot.Trainer", "release", "MeowRobot.Trainer");
        Touch("artifacts", "bin", "MeowRobot.Sim", "debug", "MeowRobot.Sim");
        var campaignBuilt = Path.Combine(_dir.FullName, "artifacts", "bin", "MeowRobot.Campaign", "release");
        Assert.Equal(built, ServiceExecutables.Find("MeowRobot.Trainer", campaignBuilt + "/"));
        var missing = Assert.Throws<FileNotFoundException>(() => ServiceExecutables.Find("MeowRobot.Sim", campaignBuilt));
        Assert.Contains("MeowRobot.Sim is not built at", missing.Message, StringComparison.Ordinal);
        Assert.Contains("(./meow build)", missing.Message, StringComparison.Ordinal);

        // systemd/install.sh: /opt/meowrobot/{campaign,trainer,sim,controller}/MeowRobot.X.
        var installed = Touch("opt", "meowrobot", "sim", "MeowRobot.Sim");
        var campaignInstalled = Path.Combine(_dir.FullName, "opt", "meowrobot", "campaign");
        Assert.Equal(installed, ServiceExecutables.Find("MeowRobot.Sim", campaignInstalled));
        var controller = Assert.Throws<FileNotFoundException>(() => ServiceExecutables.Find("MeowRobot.Controller", campaignInstalled));
        Assert.Contains($"nor installed at {Path.Combine(_dir.FullName, "opt", "meowrobot", "controller", "MeowRobot.Controller")}", controller.Message, StringComparison.Ordinal);
    }
}
