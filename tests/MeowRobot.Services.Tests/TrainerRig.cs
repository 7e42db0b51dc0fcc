using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Hosting;
using MeowRobot.Tasks;
using MeowRobot.Trainer;
using MeowRobot.Trainer.Reporting;
using MeowRobot.Trainer.Service;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MeowRobot.Services.Tests;

/// <summary>
/// What the trainer tests share: a temp run directory, a pendulum sim worker on ipc:// in this process, trainer and
/// robot CURVE keys, and small learner settings that make a few hundred env steps enough to learn, checkpoint and publish.
/// </summary>
internal sealed class TrainerRig : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly SimService _sim;
    private readonly SimWorker _worker;

    /// <param name="simCurve">The sim worker is a CURVE server on loopback TCP allow-listing the trainer's key, and the
    /// settings name its public key (Trainer:SimServerKeyFile).</param>
    public TrainerRig(int envs = 4, bool simCurve = false)
    {
        Dir = Directory.CreateTempSubdirectory("meow-trainer-");
        RunDir = Path.Combine(Dir.FullName, "run");
        var keys = Directory.CreateDirectory(Path.Combine(Dir.FullName, "keys")).FullName;
        var robots = Directory.CreateDirectory(Path.Combine(Dir.FullName, "robots")).FullName;
        TrainerKeys = ZmqCurveKeyPair.Generate();
        TrainerKeys.Save(Path.Combine(keys, "trainer.key_secret"), Path.Combine(keys, "trainer.key"));
        _sim = new SimService(TaskCatalog.CreateVectorEnv("pendulum", envs, baseSeed: 3));
        if (simCurve)
        {
            var simKeys = ZmqCurveKeyPair.Generate();
            simKeys.Save(Path.Combine(keys, "sim.key_secret"), SimServerKeyFile = Path.Combine(keys, "sim.key"));
            _worker = SimWorker.Start(_sim, "tcp://127.0.0.1:*", new SimServerCurve(simKeys, [TrainerKeys.PublicKey.ToArray()]));
        }
        else
        {
            _worker = SimWorker.Start(_sim, "ipc://" + Path.Combine(Dir.FullName, "sim.sock"));
        }
        RobotKeys = ZmqCurveKeyPair.Generate();
        RobotKeys.Save(Path.Combine(keys, "robot.key_secret"), Path.Combine(robots, "robot.key"));
        PublishEndpoint = "ipc://" + Path.Combine(Dir.FullName, "pub.sock");
    }

    public DirectoryInfo Dir { get; }
    public string RunDir { get; }
    public string SimEndpoint => _worker.Endpoint;
    public SimWorker SimWorker => _worker;
    public string? SimServerKeyFile { get; }
    public string PublishEndpoint { get; }
    public string SnapshotEndpoint => MeowRobot.Control.WeightStream.WeightStreamEndpoints.DefaultSnapshot(PublishEndpoint)!;
    public ZmqCurveKeyPair TrainerKeys { get; }
    public ZmqCurveKeyPair RobotKeys { get; }
    public string CheckpointPath => Path.Combine(RunDir, RunCheckpoint.FileName);
    public string MetricsPath => Path.Combine(RunDir, MetricsCsv.FileName);

    /// <summary>The configuration of a small, fast run (keys as the command line spells them, without "--").</summary>
    public Dictionary<string, string?> Settings(long totalEnvSteps, params (string Key, string Value)[] changes)
    {
        var values = new Dictionary<string, string?>
        {
            ["Trainer:SimEndpoints:0"] = SimEndpoint,
            ["Trainer:RunDir"] = RunDir,
            ["Trainer:TotalEnvSteps"] = totalEnvSteps.ToString(CultureInfo.InvariantCulture),
            ["Trainer:Seed"] = "7",
            ["Trainer:PublishEndpoint"] = PublishEndpoint,
            ["Trainer:SecretKeyFile"] = Path.Combine(Dir.FullName, "keys", "trainer.key_secret"),
            ["Trainer:AllowedRobotKeysDir"] = Path.Combine(Dir.FullName, "robots"),
            ["Trainer:PublishEveryUpdates"] = "50",
            ["Trainer:MetricsEveryEnvSteps"] = "100",
            ["Trainer:EvalEvery"] = "400",
            ["Trainer:EvalEpisodes"] = "1",
            ["Trainer:Learner:LearningStarts"] = "200",
            // A quarter update per transition: one per vector step of the rig's 4 envs (short runs, few updates).
            ["Trainer:Learner:UpdatesPerTransition"] = "0.25",
            ["Trainer:Learner:BatchSize"] = "32",
            ["Trainer:Learner:BufferCapacity"] = "5000",
            ["Trainer:Learner:Hidden"] = "16",
            ["Trainer:Learner:ShiftHidden"] = "16",
        };
        if (SimServerKeyFile is not null) values["Trainer:SimServerKeyFile"] = SimServerKeyFile;
        foreach (var (k, v) in changes) values[k] = v;
        return values;
    }

    /// <summary>The `trainer serve` host, built in-process as the executable builds it.</summary>
    public IHost Host(Dictionary<string, string?> values)
    {
        var service = TrainerServiceHost.Service with
        {
            BaseDirectory = Dir.FullName,
            DefaultSiteConfig = Path.Combine(Dir.FullName, "absent.json"),
            ShutdownTimeout = Wait,
        };
        var builder = ServiceHostBuilder.Create(service, [], [], _ => null);
        builder.Configuration.AddInMemoryCollection(values);
        TrainerServiceHost.Configure(builder);
        return builder.Build();
    }

    public static TrainerService Trainer(IHost host) => host.Services.GetRequiredService<TrainerService>();

    /// <summary>The rows of metrics.csv as column → value maps (header checked).</summary>
    public List<Dictionary<string, string>> MetricsRows()
    {
        var lines = File.ReadAllLines(MetricsPath);
        Assert.Equal(MetricsCsv.Header, lines[0]);
        var columns = lines[0].Split(',');
        return lines.Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            var cells = l.Split(',');
            Assert.Equal(columns.Length, cells.Length);
            return columns.Zip(cells).ToDictionary(p => p.First, p => p.Second);
        }).ToList();
    }

    /// <summary>Polls <paramref name="condition"/> (a file appearing, a row being written by another process) until it holds.</summary>
    public static void Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out after {Wait.TotalSeconds} s waiting for {what}");
            Thread.Sleep(20);
        }
    }

    public void Dispose()
    {
        _worker.Dispose();
        _sim.Dispose();
        Dir.Delete(recursive: true);
    }
}
