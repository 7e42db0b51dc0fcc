using MeowRobot.Campaign.Spec;

namespace MeowRobot.Campaign.Tests;

/// <summary>The spec file: what it says, and errors that name the key and the line.</summary>
public class CampaignSpecTests
{
    internal const string Pendulum = """
        name: pendulum-dr
        task: pendulum
        envs: 2
        params:
          gravity: 10
        randomise:
          mass: uniform(0.7, 1.3)
          length: log_uniform(0.8, 1.25)
        configurations:
          - name: alpha-0.1
            learner: { Alpha: 0.1, Hidden: 16 }
          - name: alpha-0.3
            learner:
              Alpha: 0.3
        seeds: [1, 2]
        budget:
          env_steps: 800
          eval_every: 400
          eval_episodes: 2
        engine:
          parallel: 2
        """;

    private static CampaignSpec Parse(string text) => CampaignSpec.Parse(text, "spec.yaml", Path.GetTempPath());

    [Fact]
    public void A_spec_gives_the_runs_their_task_randomisation_configurations_seeds_and_budget()
    {
        var spec = Parse(Pendulum);
        Assert.Equal(("pendulum-dr", "pendulum", 2, 2), (spec.Name, spec.Task, spec.Envs, spec.Parallel));
        Assert.Equal(10.0, spec.Params["gravity"]);
        Assert.Equal(["mass=uniform(0.7, 1.3)", "length=log_uniform(0.8, 1.25)"], spec.Randomise.Select(d => d.ToString()));
        Assert.Equal(["alpha-0.1", "alpha-0.3"], spec.Configurations.Select(c => c.Name));
        Assert.Equal("16", spec.Configurations[0].Learner["Hidden"]);
        Assert.Equal(12, spec.Configurations[1].Line);
        Assert.Equal([1, 2], spec.Seeds);
        Assert.Equal(new RunBudget(800, 400, 2, 80, 40), spec.Budget);

        var plan = new RunPlan(spec, "/tmp/c");
        Assert.Equal(["alpha-0.1-s1", "alpha-0.1-s2", "alpha-0.3-s1", "alpha-0.3-s2"], plan.Runs.Select(r => r.Id));
        var args = plan.TrainerArguments(plan.Runs[1]);
        Assert.Contains("--Trainer:Seed=2", args);
        Assert.Contains("--Trainer:Randomise:mass=uniform(0.7, 1.3)", args);
        Assert.Contains("--Trainer:Learner:Alpha=0.1", args);
        Assert.Contains("--Trainer:StopWhenDone=true", args);
        Assert.Contains("--Sim:Params:gravity=10", plan.SimArguments(plan.Runs[1]));
        Assert.DoesNotContain(args, a => a.StartsWith("--Trainer:Algorithm=", StringComparison.Ordinal)); // the trainer's default

        var compared = new RunPlan(Parse(Pendulum.Replace("  - name: alpha-0.3\n", "  - name: alpha-0.3\n    algorithm: sac\n", StringComparison.Ordinal)), "/tmp/c");
        Assert.Equal("sac", compared.Spec.Configurations[1].Algorithm);
        Assert.Contains("--Trainer:Algorithm=sac", compared.TrainerArguments(compared.Runs[2]));
    }

    [Theory]
    [InlineData("name: x\ntask: pendulum\nconfigurations: [{name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\ncolour: red\n", 6, "colour", "unknown key")]
    [InlineData("name: x\ntask: pendulm\nconfigurations: [{name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\n", 2, "task", "unknown task 'pendulm'")]
    [InlineData("name: x\ntask: pendulum\nrandomise:\n  masss: uniform(1, 2)\nconfigurations: [{name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\n", 4, "randomise.masss", "no parameter 'masss'")]
    [InlineData("name: x\ntask: pendulum\nrandomise:\n  mass: uniform(0.1, 2)\nconfigurations: [{name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\n", 4, "randomise.mass", "low bound")]
    [InlineData("name: x\ntask: pendulum\nrandomise:\n  mass: gaussian(1, 2)\nconfigurations: [{name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\n", 4, "randomise.mass", "unknown distribution")]
    [InlineData("name: x\ntask: pendulum\nparams: {mass: 7}\nconfigurations: [{name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\n", 3, "params.mass", "outside")]
    [InlineData("name: x\ntask: pendulum\nconfigurations: [{name: a}, {name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\n", 3, "configurations[1].name", "named twice")]
    [InlineData("name: x\ntask: pendulum\nconfigurations: [{name: a}]\nseeds: [1]\nbudget:\n  env_steps: lots\n", 6, "budget.env_steps", "not a whole number")]
    [InlineData("name: x\ntask: pendulum\nconfigurations: [{name: a}]\nseeds: [1]\n", 1, "(top level)", "missing key 'budget'")]
    [InlineData("name: x\ntask: hopper\nconfigurations: [{name: a}]\nseeds: [1]\nbudget: {env_steps: 10}\n", 2, "task", "needs a model")]
    [InlineData("name: x\ntask: pendulum\nconfigurations: [{name: a}]\nseeds: [1, 1]\nbudget: {env_steps: 10}\n", 4, "seeds", "must differ")]
    [InlineData("name: x\ntask: [pendulum\n", 3, "", "not valid YAML")] // where the parser found the list unclosed
    public void Errors_name_the_key_and_the_line(string text, int line, string key, string problem)
    {
        var e = Assert.Throws<CampaignSpecException>(() => Parse(text));
        Assert.Equal(line, e.Line);
        Assert.Equal(key, e.Key);
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        Assert.StartsWith($"spec.yaml:{line}: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_json_spec_reads_the_same()
    {
        var spec = Parse("""{"name": "j", "task": "pendulum", "configurations": [{"name": "a", "learner": {"Alpha": 0.2}}], "seeds": [3], "budget": {"env_steps": 100}}""");
        Assert.Equal(("j", "a", 3, 100L), (spec.Name, spec.Configurations[0].Name, spec.Seeds[0], spec.Budget.EnvSteps));
    }
}
