using MeowRobot.Trainer.Reporting;
using MeowRobot.Bridge.Sim;
using MeowRobot.Learner;
using MeowRobot.Policy.Files;
using MeowRobot.Testing;
using MeowRobot.Trainer.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MeowRobot.Services.Tests;

/// <summary>`trainer serve` with Trainer:Randomise: the sim worker draws every episode's physics, the run records what
/// each episode was played with, and the policy file says what it was trained on.</summary>
public sealed class TrainerRandomisationTests
{
    [RequiresFact(Requirement.LibZmq)]
    public async Task A_randomised_run_records_each_episodes_draws_and_writes_the_distributions_into_the_policy()
    {
        using var rig = new TrainerRig(envs: 2);
        using (var host = rig.Host(rig.Settings(800, ("Trainer:Randomise:mass", "uniform(0.5, 2)"), ("Trainer:Randomise:length", "log_uniform(0.6, 1.5)"))))
        {
            var trainer = TrainerRig.Trainer(host);
            var done = new TaskCompletionSource();
            trainer.Reported += p => { if (p.Done) done.TrySetResult(); };
            await host.StartAsync();
            await done.Task.WaitAsync(TrainerRig.Wait);
            await host.StopAsync();
        }
        var lines = File.ReadAllLines(Path.Combine(rig.RunDir, EpisodesCsv.FileName));
        Assert.Equal("time,env_steps,return,length,param.length,param.mass", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.Equal(800 / 200, rows.Length); // 2 envs × 400 steps: two 200-step episodes each
        Assert.All(rows, r => Assert.Equal("200", r[3]));
        var lengths = rows.Select(r => double.Parse(r[4], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var masses = rows.Select(r => double.Parse(r[5], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.All(lengths, v => Assert.InRange(v, 0.6, 1.5));
        Assert.All(masses, v => Assert.InRange(v, 0.5, 2.0));
        Assert.Equal(4, masses.Distinct().Count()); // a new draw per episode

        var policy = PolicyFile.Load(Path.Combine(rig.RunDir, TrainerService.PolicyFileName));
        var recorded = policy.Metadata.Extra.Single(kv => kv.Key == OffPolicyLearner.RandomisationKey).Value;
        Assert.Equal([ParameterDistribution.Parse("length=log_uniform(0.6, 1.5)"), ParameterDistribution.Parse("mass=uniform(0.5, 2)")],
            ParameterDistribution.ParseList(recorded));
    }

    [RequiresFact(Requirement.LibZmq)]
    public async Task An_unknown_or_out_of_range_randomised_parameter_stops_the_start_and_a_malformed_one_fails_validation()
    {
        using var rig = new TrainerRig(envs: 1);
        foreach (var (name, text, expect) in new[] { ("masss", "uniform(1, 2)", "has no parameter 'masss'"), ("mass", "uniform(0.1, 2)", "low bound") })
        {
            using var host = rig.Host(rig.Settings(400, ($"Trainer:Randomise:{name}", text)));
            var e = await Assert.ThrowsAsync<TrainerSetupException>(() => host.StartAsync());
            Assert.StartsWith("Trainer:Randomise: ", e.Message, StringComparison.Ordinal);
            Assert.Contains(expect, e.Message, StringComparison.Ordinal);
        }
        Assert.False(File.Exists(Path.Combine(rig.RunDir, EpisodesCsv.FileName)));
        using var malformed = rig.Host(rig.Settings(400, ("Trainer:Randomise:mass", "gaussian(1, 2)")));
        var v = Assert.Throws<OptionsValidationException>(() => malformed.Services.GetRequiredService<Microsoft.Extensions.Options.IStartupValidator>().Validate());
        Assert.Contains(v.Failures, f => f.StartsWith("Trainer:Randomise:mass:", StringComparison.Ordinal) && f.Contains("unknown distribution 'gaussian'", StringComparison.Ordinal));
    }
}
