using System.CommandLine;
using System.Text.RegularExpressions;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Hosting;
using MeowRobot.Testing;

namespace MeowRobot.Sim.Tests;

/// <summary>`sim serve` with CURVE: `--check` refuses a network bind without keys (exit 78), and a real process serves
/// an allow-listed client while it refuses, logs and counts an unknown key.</summary>
public sealed partial class SimServeCurveTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("meow-simcurve-").FullName;
    private readonly ZmqCurveKeyPair worker = ZmqCurveKeyPair.Generate();
    private readonly ZmqCurveKeyPair trainer = ZmqCurveKeyPair.Generate();

    public SimServeCurveTests()
    {
        worker.Save(WorkerSecret, Path.Combine(dir, "sim.key"));
        Directory.CreateDirectory(Allowed);
        trainer.Save(Path.Combine(dir, "trainer.key_secret"), Path.Combine(Allowed, "trainer.key"));
        Directory.CreateDirectory(Empty);
    }

    private string WorkerSecret => Path.Combine(dir, "sim.key_secret");
    private string Allowed => Path.Combine(dir, "allowed");
    private string Empty => Path.Combine(dir, "empty");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Error) Check(params string[] args)
    {
        var service = SimServiceHost.Service with { BaseDirectory = Path.GetTempPath(), DefaultSiteConfig = "/nonexistent/meow-sim.json" };
        var error = new StringWriter();
        var code = ServiceHostBuilder.ServeCommand(service, SimServiceHost.Configure).Parse([.. args, "--check"])
            .Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        return (code, error.ToString());
    }

    [Theory]
    [InlineData("tcp://0.0.0.0:5601")]
    [InlineData("tcp://*:5601")]
    [InlineData("tcp://10.1.2.3:5601")]
    public void Check_refuses_a_network_bind_without_keys(string bind)
    {
        var (code, error) = Check("--Sim:Task=pendulum", $"--Sim:Bind={bind}");
        Assert.Equal(ServiceHostBuilder.ConfigurationErrorExitCode, code);
        Assert.Contains("Sim:SecretKeyFile", error);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Check_accepts_keys_for_a_network_bind_and_refuses_half_or_empty_ones()
    {
        Assert.Equal(0, Check("--Sim:Bind=tcp://0.0.0.0:5601", $"--Sim:SecretKeyFile={WorkerSecret}", $"--Sim:AllowedClientKeysDir={Allowed}").Code);
        Assert.Equal(0, Check("--Sim:Bind=tcp://127.0.0.1:5601").Code);
        var (code, error) = Check("--Sim:Bind=tcp://0.0.0.0:5601", $"--Sim:SecretKeyFile={WorkerSecret}");
        Assert.Equal((78, true), (code, error.Contains("AllowedClientKeysDir", StringComparison.Ordinal)));
        (code, error) = Check("--Sim:Bind=tcp://0.0.0.0:5601", $"--Sim:SecretKeyFile={WorkerSecret}", $"--Sim:AllowedClientKeysDir={Empty}");
        Assert.Equal((78, true), (code, error.Contains("no client public keys", StringComparison.Ordinal)));
        File.SetUnixFileMode(WorkerSecret, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        (code, error) = Check("--Sim:Bind=tcp://0.0.0.0:5601", $"--Sim:SecretKeyFile={WorkerSecret}", $"--Sim:AllowedClientKeysDir={Allowed}");
        Assert.Equal((78, true), (code, error.Contains("chmod 600", StringComparison.Ordinal)));
    }

    [RequiresFact(Requirement.LibZmq)]
    public void Sim_serve_serves_an_allowed_key_and_refuses_logs_and_counts_an_unknown_one()
    {
        using var sim = new SimServeProcess("--Sim:Task=pendulum", "--Sim:Envs=2", "--Sim:Bind=tcp://127.0.0.1:*",
            $"--Sim:SecretKeyFile={WorkerSecret}", $"--Sim:AllowedClientKeysDir={Allowed}");
        var options = new VectorEnvClientOptions { ReplyTimeout = TimeSpan.FromSeconds(10), Curve = new SimClientCurve(trainer, worker.PublicKey.ToArray()) };
        using (var env = new VectorEnvClient([sim.Endpoint], options))
        {
            var batch = new VectorBatch(2, 3);
            env.Reset(batch);
            env.Step([0f, 0f], batch);
            Assert.Equal([0, 0], batch.Lost);
        }
        var intruder = ZmqCurveKeyPair.Generate();
        Assert.Throws<SimWorkerLostException>(() => new VectorEnvClient([sim.Endpoint], options with
        {
            Curve = new SimClientCurve(intruder, worker.PublicKey.ToArray()),
            ReplyTimeout = TimeSpan.FromMilliseconds(300),
            GiveUpAfter = TimeSpan.FromMilliseconds(600),
        }));
        var refused = sim.WaitForLine(new Regex($"refused a client handshake from 127\\.0\\.0\\.1 \\(key {Regex.Escape(intruder.PublicKeyZ85)}\\): client key not allowed; (\\d+) refused so far"),
            TimeSpan.FromSeconds(10));
        Assert.NotNull(refused);
        Assert.Equal("1", refused.Groups[1].Value);
    }
}
