using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Campaign.Spec;

namespace MeowRobot.Campaign;

/// <summary>One run of a campaign: a configuration trained with one seed, in its own directory.</summary>
/// <param name="Id">"CONFIGURATION-sSEED", also its directory name under runs/.</param>
public sealed record PlannedRun(string Id, TrainingConfiguration Configuration, int Seed, string Directory)
{
    /// <summary>The trainer's Trainer:RunDir (checkpoints, metrics.csv, episodes.csv, policy.safetensors).</summary>
    public string TrainerDirectory => Path.Combine(Directory, "trainer");

    /// <summary>The run's state file (<see cref="RunState"/>).</summary>
    public string StateFile => Path.Combine(Directory, "run.json");

    /// <summary>The policy the run ends with.</summary>
    public string PolicyFile => Path.Combine(TrainerDirectory, "policy.safetensors");
}

/// <summary>
/// The runs of a campaign (every configuration × every seed, in spec order) and how each is started: its sim worker and
/// its trainer, as command lines of the built executables. Both engines start runs from here.
/// </summary>
public sealed class RunPlan
{
    public RunPlan(CampaignSpec spec, string campaignDirectory)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        Runs = spec.Configurations
            .SelectMany(c => spec.Seeds.Select(s => new PlannedRun($"{c.Name}-s{s.ToString(CultureInfo.InvariantCulture)}", c, s,
                Path.Combine(campaignDirectory, "runs", $"{c.Name}-s{s.ToString(CultureInfo.InvariantCulture)}"))))
            .ToArray();
    }

    public CampaignSpec Spec { get; }
    public IReadOnlyList<PlannedRun> Runs { get; }

    /// <summary>The sim worker's endpoint: an ipc socket in the run directory (or, where that path is too long for a
    /// Unix socket, in the temp directory under a name derived from it).</summary>
    public static string SimEndpoint(PlannedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var path = Path.Combine(run.Directory, "sim.sock");
        if (path.Length > 100)
        {
            var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(path)))[..16];
            path = Path.Combine(Path.GetTempPath(), $"meow-run-{hash}.sock");
        }
        return "ipc://" + path;
    }

    /// <summary><c>sim serve</c> arguments for a run: the task, its envs, model and fixed parameters (the trainer sends
    /// the randomisation with its reset).</summary>
    public IReadOnlyList<string> SimArguments(PlannedRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var inv = CultureInfo.InvariantCulture;
        var args = new List<string>
        {
            "serve", $"--Sim:Task={Spec.Task}", $"--Sim:Envs={Spec.Envs.ToString(inv)}", $"--Sim:Bind={SimEndpoint(run)}",
            $"--Sim:Seed={run.Seed.ToString(inv)}",
        };
        if (Spec.Model is { } model) args.Add($"--Sim:Model={model}");
        foreach (var (name, value) in Spec.Params) args.Add($"--Sim:Params:{name}={value.ToString("R", inv)}");
        return args;
    }

    /// <summary><c>trainer serve</c> arguments for a run: until the budget, then exit (resuming from the run directory's
    /// checkpoint when there is one), evaluating as it goes, with the campaign's randomisation and the configuration's
    /// learner keys.</summary>
    public IReadOnlyList<string> TrainerArguments(PlannedRun run, bool check = false)
    {
        ArgumentNullException.ThrowIfNull(run);
        var inv = CultureInfo.InvariantCulture;
        var b = Spec.Budget;
        var args = new List<string>
        {
            "serve",
            $"--Trainer:SimEndpoints:0={SimEndpoint(run)}",
            $"--Trainer:RunDir={run.TrainerDirectory}",
            $"--Trainer:TotalEnvSteps={b.EnvSteps.ToString(inv)}",
            $"--Trainer:Seed={run.Seed.ToString(inv)}",
            $"--Trainer:EvalEvery={b.EvalEvery.ToString(inv)}",
            $"--Trainer:EvalEpisodes={b.EvalEpisodes.ToString(inv)}",
            $"--Trainer:CheckpointEveryEnvSteps={b.CheckpointEvery.ToString(inv)}",
            $"--Trainer:MetricsEveryEnvSteps={b.MetricsEvery.ToString(inv)}",
            "--Trainer:StopWhenDone=true",
        };
        // A MuJoCo task is evaluated in the trainer on the workers' model (without it the trainer evaluates nothing).
        if (Spec.Model is { } model) args.Add($"--Trainer:EvalModel={model}");
        if (run.Configuration.Algorithm is { } algorithm) args.Add($"--Trainer:Algorithm={algorithm}");
        foreach (var d in Spec.Randomise) args.Add($"--Trainer:Randomise:{d.Name}={d.Body}");
        foreach (var (key, value) in run.Configuration.Learner) args.Add($"--Trainer:Learner:{key}={value}");
        if (check) args.Insert(1, "--check");
        return args;
    }

    /// <summary>The campaign's randomisation in its text form (what every run trains on).</summary>
    public string RandomisationText => ParameterDistribution.FormatList(Spec.Randomise);
}
