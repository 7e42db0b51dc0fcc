using MeowRobot.Tasks;
using MeowRobot.Bridge.Sim;
using MeowRobot.Hosting.Systemd;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MeowRobot.Sim.Tests;

/// <summary>The body of `sim serve` as a hosted service, and `sim bench`, over real sockets.</summary>
public sealed class SimWorkerServiceTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("meow-simsvc-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static SimWorkerService Service(SimOptions options, Dictionary<string, string?> settings) =>
        new(Options.Create(options), new ConfigurationBuilder().AddInMemoryCollection(settings).Build(),
            new SystemdNotifier(_ => null, Environment.ProcessId), NullLogger<SimWorkerService>.Instance);

    [Fact]
    public async Task Serves_the_configured_task_with_its_parameters_until_stopped()
    {
        var endpoint = $"ipc://{dir}/sim.sock";
        using var service = Service(new SimOptions { Task = "cartpole", Envs = 3, Bind = endpoint, Seed = 5 },
            new() { ["Sim:Params:pole_mass"] = "0.25", ["Sim:Params:action_delay"] = "2" });
        await service.StartAsync(CancellationToken.None);
        using (var env = new VectorEnvClient([endpoint], new VectorEnvClientOptions { ReplyTimeout = TimeSpan.FromSeconds(10) }))
        {
            Assert.Equal(("cartpole", 3), (env.Spec.Name, env.NumEnvs));
            Assert.Equal(0.25, env.Parameters.Single(p => p.Name == "pole_mass").Default);
            Assert.Equal(2.0, env.Parameters.Single(p => p.Name == "action_delay").Default);
            var batch = new VectorBatch(3, 5);
            env.Reset(batch);
            using var reference = new MeowRobot.Tasks.CartPoleSwingUp();
            var obs = new float[5];
            reference.Reset(5 + 2, obs); // env 2's first episode uses seed 5 + 2
            Assert.Equal(obs, batch.ObsRow(2).ToArray());
        }
        await service.StopAsync(CancellationToken.None);
        // Stopped: nobody answers any more.
        Assert.Throws<SimWorkerLostException>(() => new VectorEnvClient([endpoint], new VectorEnvClientOptions
        {
            ReplyTimeout = TimeSpan.FromMilliseconds(100),
            GiveUpAfter = TimeSpan.FromMilliseconds(200),
        }));
    }

    [Fact]
    public async Task A_bad_parameter_fails_the_service()
    {
        using var service = Service(new SimOptions { Task = "pendulum", Envs = 1, Bind = $"ipc://{dir}/bad.sock" },
            new() { ["Sim:Params:mass"] = "7" });
        await service.StartAsync(CancellationToken.None);
        var e = await Assert.ThrowsAsync<TaskParameterException>(() => service.ExecuteTask!);
        Assert.Equal(("mass", TaskParameterProblemKind.OutOfRange), (e.Problem.Name, e.Problem.Kind));
        Assert.Throws<ArgumentException>(() => SimWorkerService.ReadParameters(
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Sim:Params:mass"] = "heavy" }).Build()));
    }

    [Fact]
    public void Bench_runs_a_tiny_configuration()
    {
        var output = new StringWriter();
        var code = SimBenchCommand.Create().Parse(["--envs", "1,2", "--workers", "1", "--transport", "ipc", "--steps", "20"])
            .Invoke(new System.CommandLine.InvocationConfiguration { Output = output });
        Assert.Equal(0, code);
        Assert.Contains("| ipc | 1 × 2 |", output.ToString());
        Assert.NotEqual(0, SimBenchCommand.Create().Parse(["--transport", "udp"]).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = output }));
    }
}
