using System.CommandLine;
using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Bridge.Zmq;
using MeowRobot.Control.Loop;
using MeowRobot.Control.RobotIo;
using MeowRobot.Control.Safety;
using MeowRobot.Hosting;
using MeowRobot.Learner;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Runtime;
using MeowRobot.Tasks;
using MeowRobot.Tensors;

namespace MeowRobot.Trainer;

/// <summary>
/// <c>./meow trainer policy eval --weights W --task T [--episodes N] [--seed S] [--stochastic] [--param k=v …]
/// [--connect ENDPOINT] [--actuator CONTROLLER_CONFIG] [--output FILE]</c>: N episodes of a policy file, episode i reset
/// with seed S + i, in-process or against a sim worker (its envs run episodes side by side), with the deterministic
/// action through the robot's policy runtime (what the controller runs) or, with --stochastic, actions sampled from π
/// (MEow, SAC, amortized S2AC at random ξ, or an SVGD-actor S2AC file's particles: <see cref="PolicySampling"/>).
/// With --actuator the actions pass through the robot's actuator model first, as in training and rehearsal. The last
/// line is <c>eval: mean_return=X std_return=Y episodes=N mean_length=L</c>; --output writes the episodes as JSON
/// (<see cref="EpisodeReport"/>, the format <c>controller run --episodes</c> writes too). <c>--randomise NAME=DIST</c>
/// draws task parameters per episode from the episode's seed (a campaign's held-out randomisation; checked against the
/// task before anything starts: exit 78), and --output records each episode's draws.
/// </summary>
public static class PolicyEvalCommand
{
    /// <summary>Adds <c>eval</c> under the <c>policy</c> command of <paramref name="root"/>, creating it if needed.</summary>
    public static void AddTo(RootCommand root) => PolicyQueryCommand.Group(root).Subcommands.Add(Create());

    private static Command Create()
    {
        var weights = new Option<FileInfo>("--weights") { Description = "policy file (safetensors with meow.* metadata)", Required = true };
        var task = new Option<string?>("--task") { Description = "task to run in-process (pendulum, multigoal, cartpole, or a MuJoCo task with --model); with --connect, the task the worker must serve" };
        var model = new Option<FileInfo?>("--model") { Description = "MJCF model of a MuJoCo task" };
        var episodes = new Option<int>("--episodes") { Description = "episodes to run", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "episode i is reset with seed S + i", DefaultValueFactory = _ => 0 };
        var stochastic = new Option<bool>("--stochastic") { Description = "sample actions from the policy instead of the deterministic action" };
        var parameters = new Option<string[]>("--param") { Description = "task parameter NAME=VALUE for every episode (repeatable)" };
        var randomise = new Option<string[]>("--randomise") { Description = "per-episode randomisation NAME=DIST, as `trainer learn --randomise` (repeatable): each episode draws from its seed; --output records the draws" };
        var connect = new Option<string?>("--connect") { Description = "a sim worker's endpoint (tcp://host:port or ipc://path) instead of the task in-process" };
        var actuator = new Option<FileInfo?>("--actuator") { Description = "controller configuration (JSON): its Controller:Envelope, Loop:RateHz and SimRobot:StepRateHz shape the actions as on the robot" };
        var output = new Option<FileInfo?>("--output") { Description = "write the episodes as JSON" };
        var command = new Command("eval", "Run episodes of a policy file and report their returns (deterministic, or sampled with --stochastic)");
        foreach (var o in new Option[] { weights, task, model, episodes, seed, stochastic, parameters, randomise, connect, actuator, output }) command.Options.Add(o);
        command.Validators.Add(r =>
        {
            if (r.GetValue(task) is null && r.GetValue(connect) is null) r.AddError("give --task (in-process) or --connect (a sim worker)");
            if (r.GetValue(task) is { } t && !TaskCatalog.TryGet(t, out _))
                r.AddError($"unknown task '{t}'; tasks: {string.Join(", ", TaskCatalog.All.Select(e => e.Name))}");
            if (r.GetValue(episodes) is < 1 or > 1_000_000) r.AddError("--episodes must lie in 1..1000000");
        });
        command.SetAction(parse =>
        {
            IReadOnlyList<ParameterDistribution> randomisation;
            try
            {
                randomisation = TaskCatalog.Randomisation(parse.GetValue(task), new TaskOptions(parse.GetValue(model)?.FullName), parse.GetValue(randomise) ?? []);
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                Console.Error.WriteLine($"policy eval: --randomise: {e.Message}");
                return ServiceHostBuilder.ConfigurationErrorExitCode;
            }
            try
            {
                var file = PolicyFile.Load(parse.GetValue(weights)!.FullName);
                // The deterministic action runs through the robot's runtime, whatever the algorithm; sampling through the
                // learner's networks of the file (PolicySampling).
                var actuatorModel = parse.GetValue(actuator) is { } a ? ActuatorModel.Load(a.FullName) : null;
                var taskName = parse.GetValue(task);
                IVectorEnv env = parse.GetValue(connect) is { } endpoint
                    ? new VectorEnvClient([endpoint])
                    : new LocalVectorEnv(() => TaskCatalog.Create(taskName!, new TaskOptions(parse.GetValue(model)?.FullName)), 1);
                using (env)
                {
                    var spec = env.Spec;
                    if (taskName is not null && parse.GetValue(connect) is not null && spec.Name != taskName)
                        throw new ArgumentException($"the sim worker serves '{spec.Name}', not '{taskName}'");
                    if (file.Metadata.ObsDim != spec.ObsDim || file.Metadata.ActDim != spec.ActDim)
                        throw new ArgumentException($"the policy is ({file.Metadata.ObsDim}, {file.Metadata.ActDim}), {spec.Name} is ({spec.ObsDim}, {spec.ActDim})");
                    if (ActionScalingCheck.Problem(file.Metadata, spec) is { } problem) Console.Error.WriteLine("policy eval: warning: " + problem);
                    if (randomisation.Count > 0)
                    {
                        env.SetRandomisation(randomisation);
                        Console.WriteLine($"randomised per episode: {ParameterDistribution.FormatList(randomisation)}");
                    }
                    // Not disposed itself: it would dispose env a second time.
                    var shaped = actuatorModel is null ? env : new ActuatedVectorEnv(env, actuatorModel);
                    if (actuatorModel is not null) Console.WriteLine("actuator: " + actuatorModel.Describe());
                    var act = parse.GetValue(stochastic) ? Sampled(file, spec, parse.GetValue(seed)) : Deterministic(file);
                    var report = new EpisodeReport(Run(shaped, act, parse.GetValue(episodes), parse.GetValue(seed),
                        EpisodeReport.ParseParameters(parse.GetValue(parameters))));
                    if (parse.GetValue(output) is { } path) report.Save(path.FullName);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"eval: {report.Summary()} mean_length={report.MeanLength:0.##}"));
                    return 0;
                }
            }
            catch (Exception e) when (e is PolicyFileException or IOException or UnauthorizedAccessException or ArgumentException
                                          or InvalidControlOptionsException or ZmqException or TimeoutException or InvalidOperationException
                                          or UnsupportedPolicyException or NotSupportedException)
            {
                Console.Error.WriteLine($"policy eval: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>Actions for a batch of observation rows (row-major in, row-major out, in the task's units).</summary>
    private delegate void Act(ReadOnlySpan<float> obs, int rows, Span<float> actions);

    /// <summary>The deterministic action through the policy runtime the controller runs, for every algorithm it runs
    /// (<see cref="PolicyRuntime.Create(PolicyFile)"/>; its action scaling included).</summary>
    private static Act Deterministic(PolicyFile file)
    {
        var policy = new RuntimeActionPolicy(PolicyRuntime.Create(file));
        int o = file.Metadata.ObsDim, a = file.Metadata.ActDim;
        return (obs, rows, actions) =>
        {
            for (var r = 0; r < rows; r++) policy.Compute(obs.Slice(r * o, o), actions.Slice(r * a, a));
        };
    }

    /// <summary>a ~ π(· | s) of the file's policy (<see cref="PolicySampling"/>; observation normalisation as the file
    /// says), rescaled to the box the policy was trained for; the noise is seeded from the evaluation's seed.</summary>
    private static Act Sampled(PolicyFile file, TaskSpec spec, int seed)
    {
        var sample = PolicySampling.FromFile(file);
        var m = file.Metadata;
        var low = m.ActionScale?.Low ?? spec.ActLow;
        var high = m.ActionScale?.High ?? spec.ActHigh;
        var invStd = m.ObsNorm is { } norm ? ObservationNormalizer.InverseStd(norm) : null;
        var rng = new Rng(unchecked((ulong)(uint)seed * 31 + 7));
        return (obs, rows, actions) =>
        {
            var input = obs.ToArray();
            if (m.ObsNorm is { } n) ObservationNormalizer.Apply(n.Mean, invStd, n.Clip, obs, input);
            sample(input, rows, actions, rng);
            for (var i = 0; i < rows * m.ActDim; i++)
            {
                var j = i % m.ActDim;
                actions[i] = low[j] + 0.5f * (actions[i] + 1f) * (high[j] - low[j]);
            }
        };
    }

    /// <summary>Episodes in rounds of the env's size: every env is reset with the next seeds and stepped until each has
    /// ended once (steps after an env's end are not counted).</summary>
    private static List<EpisodeResult> Run(IVectorEnv env, Act act, int count, int seed, IReadOnlyDictionary<string, double>? parameters)
    {
        var spec = env.Spec;
        var n = env.NumEnvs;
        var batch = new VectorBatch(n, spec.ObsDim);
        var actions = new float[n * spec.ActDim];
        var results = new List<EpisodeResult>(count);
        var returns = new double[n];
        var lengths = new int[n];
        var ended = new EpisodeResult?[n];
        for (var first = 0; first < count; first += n)
        {
            var seeds = Enumerable.Range(0, n).Select(i => unchecked(seed + first + i)).ToArray();
            env.Reset(batch, seeds, first == 0 ? parameters : null);
            Array.Clear(returns);
            Array.Clear(lengths);
            Array.Clear(ended);
            var open = Math.Min(n, count - first);
            while (open > 0)
            {
                act(batch.Obs, n, actions);
                env.Step(actions, batch);
                for (var i = 0; i < Math.Min(n, count - first); i++)
                {
                    if (ended[i] is not null) continue;
                    if (batch.Lost[i] != 0) throw new IOException($"the sim worker was lost during episode {first + i} (seed {seeds[i]})");
                    returns[i] += batch.Reward[i];
                    lengths[i]++;
                    if (batch.Terminated[i] != 0 || batch.Truncated[i] != 0)
                    {
                        ended[i] = new EpisodeResult(seeds[i], returns[i], lengths[i], batch.Terminated[i] != 0, batch.FinalObsRow(i).ToArray(),
                            EpisodeResult.ParamsOf(batch, i));
                        open--;
                    }
                }
            }
            for (var i = 0; i < Math.Min(n, count - first); i++) results.Add(ended[i]!);
        }
        return results;
    }
}
