using System.Net;
using System.Net.Sockets;
using MeowRobot.Bridge.Sim;
using MeowRobot.Policy.Files;
using MeowRobot.Tasks;
using MeowRobot.Testing;

namespace MeowRobot.Services.Tests;

/// <summary>
/// Issue 18 item 5: every configuration `serve` would refuse is found by the validation `serve --check` runs, before any
/// device or socket is opened, with exit 78 and the reason on stderr; what only the bind can find (a port in use) still
/// exits 78. Each case runs the built executables, `--check` and `serve` both.
/// </summary>
public sealed class CheckFindsWhatServeRefusesTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("meow-check-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Site()
    {
        var path = Path.Combine(_dir.FullName, "site.json");
        File.WriteAllText(path, "{}");
        return path;
    }

    private string Policy(int obs = 3, int act = 1)
    {
        var path = Path.Combine(_dir.FullName, $"policy-{obs}-{act}.safetensors");
        if (!File.Exists(path)) PolicyFile.Initialized(new PolicyMetadata { ObsDim = obs, ActDim = act, Task = "pendulum" }, seed: 1).Save(path);
        return path;
    }

    /// <summary>Runs `serve --check` and `serve` with the same arguments; both must exit 78 naming <paramref name="reason"/>.</summary>
    private void BothRefuse(string project, IEnumerable<string> args, string reason)
    {
        var list = args.ToList();
        foreach (var check in new[] { true, false })
        {
            var (code, output, error) = ServiceProcesses.Run(project, ["serve", "--config", Site(), .. list, .. check ? new[] { "--check" } : []], new Dictionary<string, string>());
            var what = $"{project} serve{(check ? " --check" : "")} {string.Join(' ', list)}";
            Assert.True(code == 78, $"{what}: exit {code}, expected 78; stderr: {error}; stdout: {output}");
            Assert.Contains(reason, error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);   // a reason, not a stack trace
        }
    }

    [Theory]
    [InlineData("--Sim:Params:mass=100", "Sim:Params:mass: pendulum: parameter 'mass' = 100 is outside [0.5, 2]")]
    [InlineData("--Sim:Params:masss=3", "Sim:Params:masss: pendulum has no parameter 'masss'")]
    [InlineData("--Sim:Params:action_delay=1.5", "takes whole numbers")]
    [InlineData("--Sim:Bind=tcp://256.1.1.1:5000", "'256.1.1.1' is not an IPv4 address")]
    public void Sim_parameters_and_addresses_serve_would_refuse(string bad, string reason) =>
        BothRefuse("MeowRobot.Sim", ["--Sim:Bind=ipc://" + Path.Combine(_dir.FullName, "sim.sock"), bad], reason);

    [Fact]
    public void A_sim_ipc_endpoint_in_a_missing_directory() =>
        BothRefuse("MeowRobot.Sim", ["--Sim:Bind=ipc://" + Path.Combine(_dir.FullName, "no-such-dir", "sim.sock")], "no-such-dir does not exist");

    [RequiresFact(Requirement.LibMuJoCo, Requirement.MuJoCoModels)]
    public void A_MuJoCo_task_given_another_tasks_model() =>
        BothRefuse("MeowRobot.Sim", ["--Sim:Bind=ipc://" + Path.Combine(_dir.FullName, "sim.sock"), "--Sim:Task=hopper", "--Sim:Model=" + SharedMaterial.MuJoCoModel("ant")],
            "another task's model");

    [RequiresFact(Requirement.LibZmq)]
    public void A_port_in_use_is_found_at_bind_time_and_still_exits_78()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var (code, _, error) = ServiceProcesses.Run("MeowRobot.Sim", ["serve", "--config", Site(), $"--Sim:Bind=tcp://127.0.0.1:{port}"], new Dictionary<string, string>());
        Assert.True(code == 78, $"exit {code}; stderr: {error}");
        Assert.Contains($"cannot bind: zmq_bind(tcp://127.0.0.1:{port}): Address already in use", error, StringComparison.Ordinal);

        using var robot = SimWorker.Start(new SimService(new LocalVectorEnv([TaskCatalog.Create("pendulum")])), "ipc://" + Path.Combine(_dir.FullName, "robot"));
        (code, _, error) = ServiceProcesses.Run("MeowRobot.Controller",
            ["serve", "--config", Site(), "--Controller:Robot=" + robot.Endpoint, "--Controller:PolicyPath=" + Policy(), $"--Controller:Telemetry=tcp://127.0.0.1:{port}"],
            new Dictionary<string, string>());
        Assert.True(code == 78, $"exit {code}; stderr: {error}");
        Assert.Contains("Address already in use", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("low > high", "--Controller:Envelope:ActionLow:0=1", "--Controller:Envelope:ActionHigh:0=-1", "action bound 0: need finite low < high")]
    [InlineData("NaN bound", "--Controller:Envelope:ActionLow:0=NaN", "--Controller:Envelope:ActionHigh:0=1", "action bound 0: need finite low < high")]
    [InlineData("bound count", "--Controller:Envelope:ActionLow:1=-1", "--Controller:Envelope:ActionHigh:1=1", "ActionLow/ActionHigh must have 1 entries (have 2/2)")]
    [InlineData("negative rate", "--Controller:Envelope:MaxRatePerSecond:0=-1", "--Controller:Envelope:ActionHigh:0=1", "MaxRatePerSecond[0] must be finite and > 0")]
    [InlineData("state bound index", "--Controller:Envelope:StateBounds:0:Index=5", "--Controller:Envelope:StateBounds:0:Max=1", "state bound index 5 outside the observation (size 3)")]
    public void Controller_envelopes_serve_would_refuse(string what, string bad1, string bad2, string reason)
    {
        Assert.NotEmpty(what);
        BothRefuse("MeowRobot.Controller",
            ["--Controller:Robot=tcp://127.0.0.1:1", "--Controller:PolicyPath=" + Policy(), "--Controller:Envelope:ActionLow:0=-1", "--Controller:Envelope:ActionHigh:0=1", bad1, bad2],
            reason);
    }

    [Fact]
    public void An_empty_policy_file_and_a_serial_robot_without_one_and_telemetry_on_no_address()
    {
        var empty = Path.Combine(_dir.FullName, "empty.safetensors");
        File.WriteAllBytes(empty, []);
        BothRefuse("MeowRobot.Controller", ["--Controller:Robot=tcp://127.0.0.1:1", "--Controller:PolicyPath=" + empty], $"unusable policy file '{empty}'");
        BothRefuse("MeowRobot.Controller", ["--Controller:Robot=serial:///dev/ttyMEOW-absent", "--Controller:WeightStream:Endpoint=tcp://127.0.0.1:1",
            "--Controller:WeightStream:TrainerPublicKeyFile=" + TrainerKey()], "a serial robot needs Controller:PolicyPath");
        BothRefuse("MeowRobot.Controller", ["--Controller:Robot=tcp://127.0.0.1:1", "--Controller:PolicyPath=" + Policy(), "--Controller:Telemetry=tcp://256.0.0.1:5800"],
            "'256.0.0.1' is not an IPv4 address");
    }

    [Fact]
    public void A_policy_file_the_controller_cannot_run_is_refused_before_any_socket_opens()
    {
        // An S2AC file of the SVGD actor: its action needs the critics' gradients at run time (no runtime for it).
        var svgd = Path.Combine(_dir.FullName, "s2ac-svgd.safetensors");
        PolicyFile.Initialized(new PolicyMetadata
        {
            Algorithm = PolicyAlgorithm.S2ac, ObsDim = 3, ActDim = 1, Task = "pendulum", S2ac = new S2acArchitecture { Hidden = 8 },
        }, seed: 1).Save(svgd);
        // The robot's address is a port this test holds: had the controller connected, the listener would see it.
        using var robot = new TcpListener(IPAddress.Loopback, 0);
        robot.Start();
        var port = ((IPEndPoint)robot.LocalEndpoint).Port;
        BothRefuse("MeowRobot.Controller", [$"--Controller:Robot=tcp://127.0.0.1:{port}", "--Controller:PolicyPath=" + svgd],
            $"unusable policy file '{svgd}': an S2AC policy with the SVGD sampler has no one-pass deterministic action");

        // controller run too, before its in-process sim worker binds (--bridge-loopback) or the robot is reached.
        foreach (var where in new[] { new[] { "--bridge-loopback" }, new[] { "--connect", $"tcp://127.0.0.1:{port}" } })
        {
            var (code, output, error) = ServiceProcesses.Run("MeowRobot.Controller", ["run", "--weights", svgd, .. where, "--seconds", "1"], new Dictionary<string, string>());
            Assert.True(code == 78, $"controller run {string.Join(' ', where)}: exit {code}, expected 78; stderr: {error}; stdout: {output}");
            Assert.Contains($"controller run: {svgd}: an S2AC policy with the SVGD sampler", error, StringComparison.Ordinal);
            Assert.DoesNotContain("robot:", output, StringComparison.Ordinal);   // the robot line comes once the plant is reached
        }
        Assert.False(robot.Pending(), "the controller connected to the robot before refusing its policy file");
    }

    [Fact]
    public void A_serial_robot_with_a_bad_envelope_is_refused_without_its_line_being_opened()
    {
        // The "line" is a FIFO: this test's reader, blocked in open(), returns as soon as anyone opens the other end.
        var line = Path.Combine(_dir.FullName, "ttyMEOW");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [line])) mkfifo.WaitForExit();
        using var opened = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            using var end = new FileStream(line, FileMode.Open, FileAccess.Read);
            opened.Set();
        });
        reader.Start();
        try
        {
            BothRefuse("MeowRobot.Controller", ["--Controller:Robot=serial://" + line, "--Controller:PolicyPath=" + Policy(),
                "--Controller:Envelope:ActionLow:0=1", "--Controller:Envelope:ActionHigh:0=-1"], "action bound 0: need finite low < high");
            // Both processes have exited: had either opened the line, the reader's open() would have returned by now.
            Assert.False(opened.IsSet, "the controller opened the robot's serial line before refusing its configuration");
        }
        finally
        {
            if (!opened.IsSet)
            {
                using var unblock = new FileStream(line, FileMode.Open, FileAccess.Write);   // lets the reader's open() return
            }
            reader.Join();
        }
    }

    [Fact]
    public void Check_warns_when_a_robot_has_no_state_bounds_or_a_staleness_threshold_of_under_five_sim_periods()
    {
        var (code, _, error) = ServiceProcesses.Run("MeowRobot.Controller",
            ["serve", "--config", Site(), "--check", "--Controller:Robot=tcp://127.0.0.1:1", "--Controller:PolicyPath=" + Policy()], new Dictionary<string, string>());
        Assert.Equal(0, code);
        Assert.Contains("meow controller: warning: Controller:Envelope:StateBounds: none set", error, StringComparison.Ordinal);
        // the default staleness (0.1 s) against the default 20 Hz simulated robot: two periods
        Assert.Contains("meow controller: warning: Controller:Envelope:ObservationTimeoutSeconds 0.1 s is under five periods", error, StringComparison.Ordinal);

        (code, _, error) = ServiceProcesses.Run("MeowRobot.Controller",
            ["serve", "--config", Site(), "--check", "--Controller:Robot=tcp://127.0.0.1:1", "--Controller:PolicyPath=" + Policy(),
             "--Controller:Envelope:StateBounds:0:Index=2", "--Controller:Envelope:StateBounds:0:Min=-8", "--Controller:Envelope:StateBounds:0:Max=8",
             "--Controller:Envelope:ObservationTimeoutSeconds=0.25"],
            new Dictionary<string, string>());
        Assert.Equal(0, code);
        Assert.Equal("", error);
    }

    private string TrainerKey()
    {
        var keys = MeowRobot.Bridge.Zmq.ZmqCurveKeyPair.Generate();
        var path = Path.Combine(_dir.FullName, "trainer.key");
        File.WriteAllText(path, MeowRobot.Bridge.Zmq.Z85.Encode(keys.PublicKey) + "\n");
        return path;
    }
}
