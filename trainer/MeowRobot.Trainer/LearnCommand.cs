using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MeowRobot.Bridge.Sim;
using MeowRobot.Control.Safety;
using MeowRobot.Learner;
using MeowRobot.Learner.S2ac;
using MeowRobot.Policy.Files;
using MeowRobot.Tasks;
using MeowRobot.Trainer.Reporting;

namespace MeowRobot.Trainer;

/// <summary>
/// <c>./meow trainer learn --algo meow|sac --task pendulum --steps 20000 --seed S</c>: runs a learner in this process
/// against a task from the catalog (MuJoCo tasks take --model PATH; no sim workers), printing training episodes and
/// deterministic evaluations; optionally saves the policy. Hyperparameters start from the algorithm's preset for the task
/// (<see cref="AlgorithmSetup.For"/>) and any option given overrides it.
/// The run's records (config.json, metrics.csv, TensorBoard events: <see cref="RunRecord"/>) go to --run-dir, by default
/// runs/learn-TASK-&lt;UTC timestamp&gt;; <c>./meow trainer plot DIR</c> draws them. The last line is <c>final_eval_return: X</c>;
/// the one before says how many updates ran (<c>updates: 0 (never learned: …)</c> when the budget ended before learning
/// started, which is also warned about at the start). With --actuator the envs' actions pass through the robot's actuator
/// model (<see cref="ActuatorModel"/>).
/// </summary>
public static class LearnCommand
{
    public static void AddTo(RootCommand root) => root.Subcommands.Add(Create());

    private static Command Create()
    {
        var algo = new Option<string>("--algo") { Description = "algorithm: meow, sac or s2ac", DefaultValueFactory = _ => "meow" };
        var task = new Option<string>("--task") { Description = "task (pendulum, multigoal, cartpole, multigoal-maxent, or a MuJoCo task with --model)", Required = true };
        var model = new Option<FileInfo?>("--model") { Description = "MJCF model of a MuJoCo task (e.g. ../shared/mujoco/hopper.xml)" };
        var steps = new Option<long>("--steps") { Description = "env steps to collect", DefaultValueFactory = _ => 20_000 };
        var seed = new Option<int>("--seed") { Description = "seed of the whole run", DefaultValueFactory = _ => 1 };
        var envs = new Option<int>("--envs") { Description = "parallel envs", DefaultValueFactory = _ => 1 };
        var alpha = new Option<float?>("--alpha") { Description = "temperature (default: the task's preset; for sac a fixed α instead of autotuning)" };
        var learningStarts = new Option<int?>("--learning-starts") { Description = "env steps before gradient updates start, with random actions until then (default: preset)" };
        var randomSteps = new Option<int?>("--random-steps") { Description = "env steps with uniform random actions when that differs from --learning-starts (S2AC's exploration_steps; default: preset)" };
        var particles = new Option<int?>("--particles") { Description = "s2ac: SVGD particles per state (default 10)" };
        var svgdSteps = new Option<int?>("--svgd-steps") { Description = "s2ac: SVGD steps per action (default 5; 3 on MuJoCo tasks)" };
        var svgdLr = new Option<float?>("--svgd-lr") { Description = "s2ac: SVGD step size (default 0.1; 0.01 on MultiGoal)" };
        var initial = new Option<S2acInitial?>("--initial-distribution") { Description = "s2ac: where the particles start: learned (the parameterised p0, default) or fixed (N(0, 0.5²), official svgd_nonparam; the MultiGoal preset)" };
        var actor = new Option<S2acActor?>("--actor") { Description = "s2ac: what acts deterministically (evaluations, the policy file, a robot): amortized (the sampling network's tanh(f(s, 0)), default; runs on the controller) or svgd (the official \"max\": the highest-Q SVGD particle; trainer only)" };
        var evalEvery = new Option<int?>("--eval-every") { Description = "env steps between deterministic evaluations (default: preset)" };
        var evalEpisodes = new Option<int?>("--eval-episodes") { Description = "episodes per evaluation (default: preset)" };
        var save = new Option<FileInfo?>("--save") { Description = "write the final policy file here" };
        var quiet = new Option<bool>("--quiet") { Description = "print evaluations only, not every training episode" };
        var normalizeObs = new Option<bool>("--normalize-obs") { Description = "normalise observations with running statistics (saved with the policy)" };
        var threads = new Option<int>("--threads") { Description = "cores each MEow or S2AC gradient update uses (1 or 2; 2 splits the batch)", DefaultValueFactory = _ => 1 };
        var param = new Option<string[]>("--param") { Description = "a task parameter NAME=VALUE, set in every env (repeatable; docs/tasks.md)" };
        var randomise = new Option<string[]>("--randomise") { Description = "per-episode randomisation NAME=DIST, e.g. mass=uniform(0.5, 2), log_uniform(a, b), normal(mean, std, low, high) (repeatable; training and evaluation envs)" };
        var updateRatio = new Option<double?>("--updates-per-transition") { Description = "gradient updates per collected transition, the update-to-data ratio (default 1, as the official code: N envs get N updates per vector step; fractions carry over)" };
        var actuator = new Option<FileInfo?>("--actuator") { Description = "controller configuration (JSON) whose Controller:Envelope, Loop:RateHz and SimRobot:StepRateHz are the robot's actuator: the envs' actions pass through it, so the policy learns the limits it will run under" };
        var rollouts = new Option<int>("--rollouts") { Description = "after training, run this many stochastic episodes and print each one's end" };
        var runDir = new Option<DirectoryInfo?>("--run-dir") { Description = "where config.json, metrics.csv and TensorBoard events go (default runs/learn-TASK-<UTC timestamp>)" };
        var metricsEvery = new Option<int>("--metrics-every") { Description = "env steps between metrics rows", DefaultValueFactory = _ => 1000 };
        var command = new Command("learn", "Train MEow, SAC or S2AC in-process on a built-in task and report deterministic evaluations");
        foreach (var o in new Option[] { algo, task, model, steps, seed, envs, alpha, learningStarts, randomSteps, particles, svgdSteps, svgdLr, initial, actor, evalEvery, evalEpisodes, save, quiet, rollouts, normalizeObs, threads, runDir, metricsEvery, param, randomise, updateRatio, actuator }) command.Options.Add(o);
        command.Validators.Add(r =>
        {
            if (r.GetValue(algo) is { } a && (!PolicyAlgorithms.TryParse(a, out var known) || !AlgorithmSetup.CanTrain(known)))
                r.AddError($"unknown or untrainable algorithm '{a}'; algorithms: {string.Join(", ", PolicyAlgorithms.All.Where(AlgorithmSetup.CanTrain).Select(x => x.Name()))}");
            if (r.GetValue(task) is { } t && !TaskCatalog.TryGet(t, out _))
                r.AddError($"unknown task '{t}'; tasks: {string.Join(", ", TaskCatalog.All.Select(e => e.Name))}");
        });
        command.SetAction((parse, cancellation) =>
        {
            var name = parse.GetValue(task)!;
            var numEnvs = parse.GetValue(envs);
            if (parse.GetValue(steps) < 1 || numEnvs is not (>= 1 and <= 256) || parse.GetValue(threads) is not (1 or 2) || parse.GetValue(metricsEvery) < 1)
            {
                Console.Error.WriteLine("learn: --steps and --metrics-every must be ≥ 1, --envs lie in 1..256 and --threads be 1 or 2");
                return Task.FromResult(2);
            }
            var runSeed = parse.GetValue(seed);
            PolicyAlgorithms.TryParse(parse.GetValue(algo) ?? "meow", out var algorithm);
            if (algorithm != PolicyAlgorithm.S2ac && (parse.GetValue(particles) ?? parse.GetValue(svgdSteps) ?? (object?)parse.GetValue(svgdLr) ?? parse.GetValue(initial) ?? (object?)parse.GetValue(actor)) is not null)
            {
                Console.Error.WriteLine($"learn: --particles, --svgd-steps, --svgd-lr, --initial-distribution and --actor are S2AC's; {algorithm.Name()} has no SVGD sampler");
                return Task.FromResult(2);
            }
            if (parse.GetValue(threads) == 2 && algorithm == PolicyAlgorithm.Sac)
            {
                Console.Error.WriteLine($"learn: --threads 2 is MEow's and S2AC's data-parallel update; {algorithm.Name()} runs on one core");
                return Task.FromResult(2);
            }
            var taskOptions = new TaskOptions(parse.GetValue(model)?.FullName);
            ActuatorModel? actuatorModel;
            try
            {
                actuatorModel = parse.GetValue(actuator) is { } config ? ActuatorModel.Load(config.FullName) : null;
            }
            catch (Exception e) when (e is InvalidControlOptionsException or IOException)
            {
                Console.Error.WriteLine("learn: --actuator: " + e.Message);
                return Task.FromResult(2);
            }
            IReadOnlyDictionary<string, double> fixedParams;
            IReadOnlyList<ParameterDistribution> randomisation;
            LocalVectorEnv env, evalEnv;
            try
            {
                fixedParams = TaskParameterArguments.Values(parse.GetValue(param) ?? []);
                randomisation = ParameterDistribution.ParseArguments(parse.GetValue(randomise) ?? []);
                env = TaskCatalog.CreateVectorEnv(name, numEnvs, taskOptions, runSeed, fixedParams, randomisation);
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                Console.Error.WriteLine($"learn: {e.Message}");
                return Task.FromResult(2);
            }
            using var trainingEnv = env;
            using var evaluationEnv = evalEnv = TaskCatalog.CreateVectorEnv(name, 1, taskOptions, runSeed + 10_000, fixedParams, randomisation);
            IVectorEnv Actuated(IVectorEnv inner) => actuatorModel is null ? inner : new ActuatedVectorEnv(inner, actuatorModel);
            // Not disposed themselves: the usings above dispose the envs inside.
            var actuatedEnv = Actuated(env);
            var actuatedEvalEnv = Actuated(evalEnv);
            var setup = AlgorithmSetup.For(algorithm, name, env.Spec.ObsDim, env.Spec.ActDim);
            if (parse.GetValue(alpha) is { } a)
            {
                setup = setup with
                {
                    Flow = setup.Flow is { } f ? f with { Alpha = a } : null,
                    Sac = setup.Sac is { } sac ? sac with { Alpha = a, Autotune = false } : null,
                    S2ac = setup.S2ac is { } s2ac ? s2ac with { Alpha = a } : null,
                };
            }
            var loop = setup.Loop;
            setup = setup with
            {
                Loop = loop with
                {
                    Seed = runSeed,
                    LearningStarts = parse.GetValue(learningStarts) ?? loop.LearningStarts,
                    RandomSteps = parse.GetValue(randomSteps) ?? loop.RandomSteps,
                    UpdatesPerTransition = parse.GetValue(updateRatio) ?? loop.UpdatesPerTransition,
                    EvalEvery = parse.GetValue(evalEvery) ?? loop.EvalEvery,
                    EvalEpisodes = parse.GetValue(evalEpisodes) ?? loop.EvalEpisodes,
                    NormalizeObservations = parse.GetValue(normalizeObs),
                },
                Meow = setup.Meow is { } meow ? meow with { Threads = parse.GetValue(threads) } : null,
                S2ac = setup.S2ac is { } s2
                    ? s2 with
                    {
                        Threads = parse.GetValue(threads),
                        Particles = parse.GetValue(particles) ?? s2.Particles,
                        SvgdSteps = parse.GetValue(svgdSteps) ?? s2.SvgdSteps,
                        SvgdLearningRate = parse.GetValue(svgdLr) ?? s2.SvgdLearningRate,
                        InitialDistribution = parse.GetValue(initial) ?? s2.InitialDistribution,
                        Amortized = parse.GetValue(actor) is { } deployed ? deployed == S2acActor.Amortized : s2.Amortized,
                    }
                    : null,
            };
            var inv = CultureInfo.InvariantCulture;
            var totalSteps = parse.GetValue(steps);
            Console.WriteLine(string.Create(inv, $"task: {name} seed: {runSeed} envs: {numEnvs} steps: {totalSteps} {setup.Describe()}"));
            if (actuatorModel is not null) Console.WriteLine("actuator: " + actuatorModel.Describe());
            if (totalSteps <= setup.Loop.LearningStarts)
                Console.Error.WriteLine(string.Create(inv, $"learn: warning: --steps {totalSteps} ends before learning starts ({setup.Loop.LearningStarts} random-action steps): no gradient update will run and the policy stays as initialised (raise --steps or lower --learning-starts)"));
            var (directory, held) = RunsDirectory.Claim(parse.GetValue(runDir)?.FullName, $"learn-{name}");
            using var runLock = held;
            if (runLock is null)
            {
                Console.Error.WriteLine($"learn: --run-dir {directory} is in use by another process ({Path.Combine(directory, RunsDirectory.LockFileName)} is locked)");
                return Task.FromResult(2);
            }
            OffPolicyLearner learner;
            try
            {
                learner = setup.CreateLearner(actuatedEnv, actuatedEvalEnv);
            }
            catch (ArgumentOutOfRangeException e)
            {
                Console.Error.WriteLine($"learn: {e.ParamName}: {e.Message.Split(" (Parameter")[0]}");
                return Task.FromResult(2);
            }
            using var record = new RunRecord(directory, new RunConfig("trainer learn", setup.Algorithm.Name(), name, env.Spec.ObsDim, env.Spec.ActDim, runSeed,
                RunConfig.Of(setup),
                new { task = name, model = parse.GetValue(model)?.FullName, steps = parse.GetValue(steps), envs = numEnvs }));
            Console.WriteLine($"run: {directory}");
            var clock = Stopwatch.StartNew();
            var printEpisodes = !parse.GetValue(quiet);
            UpdateStats last = default;
            var rowEvery = parse.GetValue(metricsEvery);
            var nextRow = (long)rowEvery;
            learner.Reported += e =>
            {
                record.Observe(e);
                if (e.EnvSteps >= nextRow)
                {
                    record.Row("train", e.EnvSteps, learner.Updates, 0, clock.Elapsed.TotalSeconds);
                    nextRow = (e.EnvSteps / rowEvery + 1) * rowEvery;
                }
                if (e is Evaluated done) record.Row("eval", done.EnvSteps, learner.Updates, 0, clock.Elapsed.TotalSeconds, done.Result);
                switch (e)
                {
                    case EpisodeEnded ep when printEpisodes:
                        Console.WriteLine(string.Create(inv, $"step {ep.EnvSteps} episode_return {ep.Return:F1} length {ep.Length}"));
                        break;
                    case Updated u:
                        last = u.Stats;
                        break;
                    case Evaluated ev:
                        var r = ev.Result;
                        var actor = float.IsNaN(last.Alpha) ? "" : string.Create(inv, $", actor loss {last.ActorLoss:F3}, alpha {last.Alpha:F3}");
                        Console.WriteLine(string.Create(inv,
                            $"step {r.EnvSteps} eval_return {r.MeanReturn:F1} ± {r.StdReturn:F1} over {r.Episodes} (loss {last.Loss:F3}, mean Q {last.MeanQ:F2}{actor}, {clock.Elapsed.TotalSeconds:F0} s)"));
                        break;
                }
            };
            var evaluations = learner.Run(parse.GetValue(steps), cancellation);
            record.End(success: !cancellation.IsCancellationRequested);
            if (parse.GetValue(rollouts) is > 0 and var count)
            {
                // On a MultiGoal task, also which goal each episode reached, and how many reached each.
                var goals = (TaskCatalog.Create(name, taskOptions) as MultiGoal)?.Layout;
                var reached = new int[goals is null ? 0 : goals.Goals.Length / 2 + 1];
                foreach (var ep in learner.Rollouts(count, stochastic: true))
                {
                    var goal = "";
                    if (goals is not null)
                    {
                        var g = ep.Terminated ? goals.Nearest(ep.FinalObs[0], ep.FinalObs[1]).Goal : -1;
                        reached[g + 1]++;
                        goal = g < 0 ? " goal none" : string.Create(inv, $" goal ({goals.Goals[2 * g]}, {goals.Goals[2 * g + 1]})");
                    }
                    Console.WriteLine(string.Create(inv, $"rollout return {ep.Return:F1} length {ep.Length} terminated {ep.Terminated} final_obs [{string.Join(", ", ep.FinalObs.Select(v => v.ToString("F2", inv)))}]{goal}"));
                }
                if (goals is not null)
                {
                    var parts = Enumerable.Range(0, reached.Length - 1).Select(g => string.Create(inv, $"({goals.Goals[2 * g]}, {goals.Goals[2 * g + 1]}) {reached[g + 1]}"));
                    Console.WriteLine($"goals_reached: {string.Join(" ", parts)} none {reached[0]}");
                }
            }
            if (randomisation.Count > 0) Console.WriteLine($"randomised: {ParameterDistribution.FormatList(randomisation)}");
            var learned = learner.Algorithm.Updates > 0;
            if (parse.GetValue(save) is { } file)
            {
                learner.ExportPolicy(m => m with { Source = learned ? "MeowRobot trainer learn" : "MeowRobot trainer learn (untrained: the budget ended before learning started)" }).Save(file.FullName);
                Console.WriteLine(learned ? $"saved: {file.FullName}" : $"saved: {file.FullName} (UNTRAINED: 0 updates)");
            }
            Console.WriteLine(learned
                ? string.Create(inv, $"updates: {learner.Algorithm.Updates}")
                : string.Create(inv, $"updates: 0 (never learned: {learner.EnvSteps} env steps, learning starts at {setup.Loop.LearningStarts})"));
            Console.WriteLine(string.Create(inv, $"final_eval_return: {(evaluations.Count > 0 ? evaluations[^1].MeanReturn : double.NaN):F1}"));
            return Task.FromResult(0);
        });
        return command;
    }
}

/// <summary>The command-line form of fixed task parameters: <c>NAME=VALUE</c> (<c>NAME=DIST</c>: <see cref="ParameterDistribution.ParseArguments"/>).</summary>
public static class TaskParameterArguments
{
    /// <summary><c>NAME=VALUE</c> pairs; <see cref="FormatException"/> naming a malformed one.</summary>
    public static Dictionary<string, double> Values(IEnumerable<string> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                throw new FormatException($"--param '{pair}' is not NAME=NUMBER");
            values[pair[..eq]] = v;
        }
        return values;
    }
}
