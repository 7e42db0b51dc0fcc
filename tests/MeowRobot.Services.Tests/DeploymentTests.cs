using System.Text.Json;
using System.Text.RegularExpressions;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.WeightStream;
using MeowRobot.Policy.Files;
using MeowRobot.Tasks;
using MeowRobot.Testing;

namespace MeowRobot.Services.Tests;

/// <summary>Deployment as documented: install.sh's configuration passes each unit's own --check; robot keys really optional.</summary>
public sealed partial class DeploymentTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-deploy-");

    public void Dispose() => _dir.Delete(recursive: true);

    [GeneratedRegex(@"^ExecStart=(\S+) (.*)$", RegexOptions.Multiline)]
    private static partial Regex ExecStart();

    [RequiresFact(Requirement.LibZmq)]
    public void An_install_into_a_prefix_then_the_next_steps_it_prints_gives_configurations_that_pass_each_units_check()
    {
        var prefix = _dir.FullName;
        var install = InstallScript.Run("--prefix", prefix, "--no-publish", "--no-enable", "--sim-workers", "2");
        Assert.True(install.Code == 0, install.Out + install.Err);
        // The configuration names deployed paths (/etc/meowrobot/…): here they live under the prefix, as in a chroot.
        string Rooted(string text) => text.Replace("/etc/meowrobot/", prefix + "/etc/meowrobot/", StringComparison.Ordinal);
        var etc = Path.Combine(prefix, "etc", "meowrobot");
        foreach (var file in Directory.GetFiles(etc, "*.json")) File.WriteAllText(file, Rooted(File.ReadAllText(file)));
        // The steps install.sh prints next: the trainer's keys (its public key is what robots pin) and a robot's first policy.
        var keys = ServiceProcesses.Run("MeowRobot.Trainer", ["keys", "generate", "--out", Path.Combine(etc, "keys")], new Dictionary<string, string>());
        Assert.True(keys.Code == 0, keys.Err);
        PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum" }, seed: 1).Save(Path.Combine(etc, "policy.safetensors"));

        var units = Path.Combine(prefix, "etc", "systemd", "system");
        var checks = new List<(string Unit, string Project, string[] Args)>();
        foreach (var unit in Directory.GetFiles(units, "meow-*.service"))
        {
            var m = ExecStart().Match(File.ReadAllText(unit));
            Assert.True(m.Success, $"{unit} has no ExecStart");
            var project = Path.GetFileName(m.Groups[1].Value);   // /opt/meowrobot/trainer/MeowRobot.Trainer
            var instances = Path.GetFileName(unit).Contains('@', StringComparison.Ordinal) ? new[] { "1", "2" } : [""];
            foreach (var i in instances)
                checks.Add((Path.GetFileName(unit).Replace("@", "@" + i, StringComparison.Ordinal), project,
                    [.. Rooted(m.Groups[2].Value.Replace("%i", i, StringComparison.Ordinal)).Split(' '), "--check"]));
        }
        Assert.Equal(["meow-controller.service", "meow-sim@1.service", "meow-sim@2.service", "meow-trainer.service"], checks.Select(c => c.Unit).Order(StringComparer.Ordinal));

        var effective = new Dictionary<string, JsonElement>();
        foreach (var (unit, project, args) in checks)
        {
            var (code, stdout, stderr) = ServiceProcesses.Run(project, args, new Dictionary<string, string>());
            Assert.True(code == 0, $"{unit}: {string.Join(' ', args)} exited {code}: {stderr}");
            effective[unit] = JsonDocument.Parse(stdout).RootElement.Clone();
        }
        Assert.Equal(1000, effective["meow-controller.service"].GetProperty("Controller").GetProperty("Loop").GetProperty("RateHz").GetInt32());
        Assert.Equal("tcp://127.0.0.1:5602", effective["meow-sim@2.service"].GetProperty("Sim").GetProperty("Bind").GetString());
        Assert.Equal(["tcp://127.0.0.1:5601", "tcp://127.0.0.1:5602"],
            effective["meow-trainer.service"].GetProperty("Trainer").GetProperty("SimEndpoints").EnumerateArray().Select(e => e.GetString()));
        // The trainer's task is in its configuration, so --check shows the preset the run will use.
        Assert.Equal(0.1f, effective["meow-trainer.service"].GetProperty("Trainer").GetProperty("Learner").GetProperty("Alpha").GetSingle());
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_trainer_without_an_allow_list_feeds_a_robot_without_its_own_key_pair()
    {
        var trainer = ZmqCurveKeyPair.Generate();
        var dir = _dir.FullName;
        using var publisher = new WeightStreamPublisher(trainer, allowedRobotKeys: null, new WeightStreamPublisherOptions
        {
            PublishEndpoint = "ipc://" + Path.Combine(dir, "pub"),
            SnapshotEndpoint = "ipc://" + Path.Combine(dir, "snap"),
        });
        var policy = PolicyFile.Initialized(new PolicyMetadata { ObsDim = 3, ActDim = 1, Task = "pendulum" }, seed: 2);
        publisher.Publish(MeowRobot.Policy.Bundles.PolicyBundle.Create(3, policy, "pendulum", DateTimeOffset.UtcNow));
        TrainerRig.Until(() => publisher.Published == 1, "the bundle published");
        using var adopted = new SemaphoreSlim(0);
        var outcomes = new System.Collections.Concurrent.ConcurrentQueue<BundleOutcome>();
        using var robot = new WeightStreamSubscriber(new WeightStreamSubscriberOptions
        {
            PublishEndpoints = [publisher.PublishEndpoint],
            SnapshotEndpoints = [publisher.SnapshotEndpoint],
            TrainerPublicKey = trainer.PublicKey.ToArray(),
            RobotKeys = null,   // a fresh pair: no allow-list could name it
            Identity = new MeowRobot.Policy.Bundles.PolicyIdentity("pendulum", 3, 1, "robot-1"),
        }, p => { p.Dispose(); adopted.Release(); }, outcomes.Enqueue);

        Assert.True(adopted.Wait(TimeSpan.FromSeconds(30)), $"the robot adopted nothing: {robot.SnapshotRequests} snapshot requests, {robot.Heartbeats} heartbeats, " +
            string.Join("; ", outcomes.Select(o => $"{o.Verdict} {o.Reason}")));
        // The version moves once the delivery returns: wait for it rather than read it the instant the policy arrives.
        TrainerRig.Until(() => robot.AcceptedVersion == 3, "the robot to record version 3 as accepted");
    }

    [RequiresFact(Requirement.LibZmq)]
    public void A_controller_that_receives_nothing_says_why_it_thinks_so()
    {
        var dir = _dir.FullName;
        using var worker = SimWorker.Start(new SimService(new LocalVectorEnv([TaskCatalog.Create("pendulum")])), "ipc://" + Path.Combine(dir, "robot"));
        var trainer = ZmqCurveKeyPair.Generate();
        trainer.Save(Path.Combine(dir, "trainer.key_secret"), Path.Combine(dir, "trainer.key"));
        // A trainer that allow-lists another robot: this controller (no key pair of its own) is refused at the handshake.
        using var publisher = new WeightStreamPublisher(trainer, [ZmqCurveKeyPair.Generate().PublicKey.ToArray()], new WeightStreamPublisherOptions
        {
            PublishEndpoint = "ipc://" + Path.Combine(dir, "pub"),
            SnapshotEndpoint = "ipc://" + Path.Combine(dir, "pub.snapshot"),
        });
        File.WriteAllText(Path.Combine(dir, "site.json"), "{}");
        using var process = ServiceProcesses.Start("MeowRobot.Controller",
        [
            "serve", "--config", Path.Combine(dir, "site.json"), "--robot", worker.Endpoint, "--trainer", publisher.PublishEndpoint,
            "--Controller:WeightStream:SnapshotEndpoint=" + publisher.SnapshotEndpoint, "--Controller:WeightStream:TrainerPublicKeyFile=" + Path.Combine(dir, "trainer.key"),
            "--Controller:WeightStream:QuietWarningSeconds=1", "--Controller:Telemetry=ipc://" + Path.Combine(dir, "telemetry"), "--Controller:Loop:RateHz=200",
        ], new Dictionary<string, string>());
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            string? line;
            do line = process.StandardOutput.ReadLine();
            while (line is not null && !line.Contains("no policy bundle from the trainer", StringComparison.Ordinal) && DateTime.UtcNow < deadline);
            Assert.NotNull(line);
            Assert.Contains("no CURVE handshake with the trainer completed", line, StringComparison.Ordinal);
            Assert.Contains("has no Controller:WeightStream:SecretKeyFile, so its key is a fresh one each start", line, StringComparison.Ordinal);
            Assert.True(publisher.Admission.Denied >= 1);
        }
        finally
        {
            ServiceProcesses.Terminate(process);
            process.WaitForExit(TimeSpan.FromSeconds(20));
        }
    }
}
