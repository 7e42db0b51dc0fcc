using System.Diagnostics;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Campaign.Engines;
using MeowRobot.Campaign.Promotion;
using MeowRobot.Control.Telemetry;

namespace MeowRobot.Campaign.Tests;

/// <summary>
/// Two rehearsal robots as deployed, for the promotion tests: r1 (the canary) and r2, each a `controller serve` driving
/// its own `sim serve` worker, both pointed at the campaign's promotion stream (`campaign stream serve`), with CURVE keys
/// for the stream and each robot, ipc endpoints in a test directory, and the spec's <c>promotion:</c> section that
/// names them. Every process started here is stopped on dispose.
/// </summary>
internal sealed class RehearsalRobots : IDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    public static readonly string[] Names = ["r1", "r2"];

    private readonly List<Process> _processes = [];

    /// <param name="directory">The test's directory: keys, sockets and every process's log go here.</param>
    public RehearsalRobots(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(Keys);
        foreach (var k in Names.Prepend("stream"))
            ZmqCurveKeyPair.Generate().Save(Path.Combine(Keys, k + ".key_secret"), Path.Combine(Keys, k + ".key"));
        File.WriteAllText(SiteFile, "{}\n");
    }

    public string Directory { get; }
    public string Keys => Path.Combine(Directory, "keys");
    public string Socket(string name) => "ipc://" + Path.Combine(Directory, name);

    /// <summary>An empty site file: the services' own appsettings and the test's arguments are all they run with.</summary>
    private string SiteFile => Path.Combine(Directory, "site.json");

    /// <summary>The spec's <c>promotion:</c> section for r1 (canary, by key file) and r2 (by inline key), with the watch
    /// and the <c>rollback:</c> rule's lines (indented as its keys) given.</summary>
    public string PromotionSection(double watchSeconds, double silenceSeconds, string rollback) => $"""
        promotion:
          stream_key: {Keys}/stream.key_secret
          robots:
            - name: r1
              key_file: {Keys}/r1.key
              stream: {Socket("r1-stream")}
              telemetry: {Socket("r1-telemetry")}
            - name: r2
              key: "{ZmqCurveKeyPair.Load(Path.Combine(Keys, "r2.key_secret")).PublicKeyZ85}"
              stream: {Socket("r2-stream")}
              telemetry: {Socket("r2-telemetry")}
          canary: [r1]
          watch_seconds: {watchSeconds}
          engage_seconds: 45
          silence_seconds: {silenceSeconds}
          rollback:
        {rollback}
        """;

    /// <summary>Starts both robots' sim workers (<paramref name="task"/>, one env), the promotion stream of
    /// <paramref name="campaignDirectory"/> and both controllers (<paramref name="controllerConfig"/>: the robot's
    /// controller configuration); returns the controllers' processes.</summary>
    public Dictionary<string, Process> Start(string task, string campaignDirectory, string controllerConfig)
    {
        foreach (var r in Names)
            Start("MeowRobot.Sim", "sim-" + r, "serve", "--config", SiteFile, $"--Sim:Task={task}", "--Sim:Envs=1", $"--Sim:Bind={Socket(r + "-sim")}", "--Sim:Seed=1");
        Start("MeowRobot.Campaign", "stream", "stream", "serve", "--config", SiteFile, "--campaign", campaignDirectory);
        return Names.ToDictionary(r => r, r => StartController(r, controllerConfig));
    }

    /// <summary>`controller serve` as robot <paramref name="robot"/>: its sim worker, its stream, its key, its telemetry.</summary>
    public Process StartController(string robot, string controllerConfig) =>
        Start("MeowRobot.Controller", "controller-" + robot, "serve", "--config", SiteFile, "--config", controllerConfig,
            $"--Controller:Robot={Socket(robot + "-sim")}", $"--Controller:RobotId={robot}",
            $"--Controller:WeightStream:Endpoint={Socket(robot + "-stream")}",
            $"--Controller:WeightStream:TrainerPublicKeyFile={Path.Combine(Keys, "stream.key")}",
            $"--Controller:WeightStream:SecretKeyFile={Path.Combine(Keys, robot + ".key_secret")}",
            $"--Controller:Telemetry={Socket(robot + "-telemetry")}");

    /// <summary>The test's own reading of robot <paramref name="robot"/>'s telemetry.</summary>
    public TelemetryLog Telemetry(string robot) => new(Socket(robot + "-telemetry"));

    /// <summary>What a process started here has written to its log so far.</summary>
    public string Log(string name) => File.Exists(LogFile(name)) ? File.ReadAllText(LogFile(name)) : "";

    private string LogFile(string name) => Path.Combine(Directory, name + ".log");

    private Process Start(string project, string name, params string[] args)
    {
        var p = ServiceExecutables.Start(project, args, LogFile(name));
        _processes.Add(p);
        return p;
    }

    /// <summary><c>campaign ARGS…</c> to its end: its exit code and output.</summary>
    public static (int Code, string Output) Campaign(params string[] args) => ServiceExecutables.RunToEnd("MeowRobot.Campaign", args, TimeSpan.FromMinutes(3));

    public static void WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Deadline) Assert.Fail($"timed out after {Deadline.TotalSeconds} s waiting for {what}");
            Thread.Sleep(50);   // polling interval of a condition with a deadline, not a synchronisation
        }
    }

    public static PromotionState State(string campaignDirectory) => new PromotionRecords(campaignDirectory).ReadState();
    public static IReadOnlyList<PromotionEvent> History(string campaignDirectory) => new PromotionRecords(campaignDirectory).ReadHistory();

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit();
            p.Dispose();
        }
    }
}

/// <summary>The test's own reading of a controller's telemetry: the newest message and every policy version seen.</summary>
internal sealed class TelemetryLog : IDisposable
{
    private readonly TelemetrySubscription _subscription;
    private readonly Lock _gate = new();
    private readonly HashSet<long> _versions = [];
    private TelemetryReading? _latest;
    private long _messages;

    public TelemetryLog(string endpoint) => _subscription = new TelemetrySubscription(endpoint, (_, body) =>
    {
        var reading = TelemetryReading.Read(body);
        lock (_gate)
        {
            _latest = reading;
            _versions.Add(reading.PolicyVersion);
            _messages++;
        }
    }, TelemetryWire.TelemetryTopic.ToArray());

    public TelemetryReading? Latest { get { lock (_gate) return _latest; } }
    public long Messages { get { lock (_gate) return _messages; } }
    public IReadOnlyCollection<long> Versions { get { lock (_gate) return [.. _versions]; } }

    public void Dispose() => _subscription.Dispose();
}
