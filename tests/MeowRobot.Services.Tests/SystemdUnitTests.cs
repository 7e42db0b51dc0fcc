using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MeowRobot.Testing;

namespace MeowRobot.Services.Tests;

/// <summary>The unit files in systemd/ as systemd itself reads them (systemd-analyze, offline).</summary>
public sealed partial class SystemdUnitTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-units-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static string UnitFile(string unit) => Path.Combine(SharedMaterial.RepoRoot, "systemd", unit);

    private static (int Code, string Out, string Err) Analyze(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("systemd-analyze") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var a in args) info.ArgumentList.Add(a);
        // No pager, no colours, and no user manager to ask.
        info.Environment["SYSTEMD_PAGER"] = "";
        info.Environment["SYSTEMD_COLORS"] = "0";
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), "systemd-analyze hung");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// The unit as installed, except that ExecStart names the service's executable as built here (verify checks that
    /// the program exists and is executable; /opt/meowrobot is only there after install.sh).
    /// </summary>
    private string InstalledCopy(string unit, string? project, string? asName = null)
    {
        var text = File.ReadAllText(UnitFile(unit));
        if (project is not null)
        {
            var deployed = $"/opt/meowrobot/{project["MeowRobot.".Length..].ToLowerInvariant()}/{project} ";
            Assert.Contains("ExecStart=" + deployed, text, StringComparison.Ordinal);
            text = text.Replace(deployed, ServiceProcesses.Executable(project) + " ", StringComparison.Ordinal);
        }
        var path = Path.Combine(_dir.FullName, asName ?? unit);
        File.WriteAllText(path, text);
        return path;
    }

    public static TheoryData<string, string?> Units() => new()
    {
        { "meow-controller.service", "MeowRobot.Controller" },
        { "meow-trainer.service", "MeowRobot.Trainer" },
        { "meow-sim@.service", "MeowRobot.Sim" },
        { "meow-sim.target", null },
    };

    [RequiresTheory(Requirement.SystemdAnalyze)]
    [MemberData(nameof(Units))]
    public void Verify_passes_without_a_word_on_stderr(string unit, string? project)
    {
        InstalledCopy("meow-sim.target", null);
        var path = InstalledCopy(unit, project);

        var (code, _, err) = Analyze(_dir.FullName, "verify", "--man=no", path);

        Assert.Equal("", err);
        Assert.Equal(0, code);
    }

    [RequiresFact(Requirement.SystemdAnalyze)]
    public void Verify_of_a_sim_instance_resolves_the_instance_specifiers()
    {
        InstalledCopy("meow-sim.target", null);
        var path = InstalledCopy("meow-sim@.service", "MeowRobot.Sim", asName: "meow-sim@pendulum-1.service");

        var (code, _, err) = Analyze(_dir.FullName, "verify", "--man=no", path);

        Assert.Equal(("", 0), (err, code));
    }

    [RequiresFact(Requirement.SystemdAnalyze)]
    public void Verify_reports_a_misspelled_key_on_stderr_so_the_checks_above_can_fail()
    {
        var path = InstalledCopy("meow-controller.service", "MeowRobot.Controller");
        File.WriteAllText(path, File.ReadAllText(path).Replace("WatchdogSec=", "WatchDogSec=", StringComparison.Ordinal));

        var (_, _, err) = Analyze(_dir.FullName, "verify", "--man=no", path);

        Assert.Contains("Unknown key 'WatchDogSec' in section [Service]", err, StringComparison.Ordinal);
    }

    [RequiresTheory(Requirement.SystemdAnalyze)]
    [InlineData("meow-controller.service", 2.0)]
    [InlineData("meow-trainer.service", 3.0)]
    [InlineData("meow-sim@.service", 3.0)]
    public void Security_exposure_is_within_the_budget(string unit, double budget)
    {
        var threshold = ((int)Math.Round(budget * 10)).ToString(CultureInfo.InvariantCulture);

        var (code, output, err) = Analyze(_dir.FullName, "security", "--offline=yes", "--no-pager", "--threshold=" + threshold, UnitFile(unit));

        var exposure = Exposure().Match(output);
        Assert.True(exposure.Success, "no exposure line in: " + output + err);
        Assert.True(double.Parse(exposure.Groups[1].Value, CultureInfo.InvariantCulture) <= budget, exposure.Value);
        Assert.Equal(0, code);
    }

    [RequiresFact(Requirement.SystemdAnalyze)]
    public void The_controller_keeps_what_a_realtime_loop_needs()
    {
        var (_, output, _) = Analyze(_dir.FullName, "security", "--offline=yes", "--no-pager", UnitFile("meow-controller.service"));

        // sched_setscheduler/sched_setaffinity (@resources) stay allowed and realtime scheduling is not restricted.
        Assert.Matches(@"✗ SystemCallFilter=~@resources\s", output);
        Assert.Matches(@"✗ RestrictRealtime=\s", output);
        var unit = File.ReadAllText(UnitFile("meow-controller.service"));
        foreach (var line in new[] { "Type=notify", "WatchdogSec=", "Restart=on-failure", "CPUSchedulingPolicy=fifo", "LimitMEMLOCK=infinity", "LimitRTPRIO=", "CPUAffinity=", "DevicePolicy=closed", "DeviceAllow=/dev/ttyUSB0 rw" })
            Assert.Contains("\n" + line, unit, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"Overall exposure level for \S+: (\d+\.\d)")]
    private static partial Regex Exposure();
}
