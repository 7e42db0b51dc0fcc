using System.Globalization;
using System.Text.RegularExpressions;
using MeowRobot.Bridge.Sim;
using MeowRobot.Campaign.Gates;
using MeowRobot.Campaign.Promotion;
using MeowRobot.Tasks;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MeowRobot.Campaign.Spec;

/// <summary>A campaign spec that cannot be run, with the key and line at fault (<c>spec.yaml:12: budget.env_steps: …</c>).</summary>
public sealed class CampaignSpecException(string file, long line, string key, string problem)
    : Exception($"{file}:{line}: {key}: {problem}")
{
    public CampaignSpecException() : this("spec", 0, "", "invalid campaign spec") { }

    public CampaignSpecException(string message) : this("spec", 0, "", message) { }

    public CampaignSpecException(string message, Exception inner) : this("spec", 0, "", message) => _ = inner;

    public string File { get; } = file;
    public long Line { get; } = line;
    public string Key { get; } = key;
    public string Problem { get; } = problem;
}

/// <summary>One training configuration of the grid: its name, algorithm (Trainer:Algorithm; null: the trainer's
/// default, MEow) and the Trainer:Learner keys it sets.</summary>
/// <param name="Line">Where it is in the spec file (errors the trainer finds later point there).</param>
public sealed record TrainingConfiguration(string Name, string? Algorithm, IReadOnlyDictionary<string, string> Learner, long Line);

/// <summary>Every run's budget and evaluation schedule.</summary>
public sealed record RunBudget(long EnvSteps, int EvalEvery, int EvalEpisodes, long CheckpointEvery, int MetricsEvery);

/// <summary>
/// What a campaign trains (docs/campaigns.md): one task with its fixed parameters and per-episode randomisation, a list
/// of training configurations × seeds, each run's budget, and how many runs the engine runs at once. Read from a YAML
/// (or JSON) file that is kept with the campaign's results; every error names the key and its line.
/// </summary>
public sealed record CampaignSpec(
    string Name,
    string Task,
    string? Model,
    int Envs,
    IReadOnlyDictionary<string, double> Params,
    IReadOnlyList<ParameterDistribution> Randomise,
    IReadOnlyList<TrainingConfiguration> Configurations,
    IReadOnlyList<int> Seeds,
    RunBudget Budget,
    int Parallel)
{
    /// <summary>How candidates are evaluated and gated (<c>evaluation:</c> and <c>gates:</c>); null: no gates.</summary>
    public EvaluationPlan? Evaluation { get; init; }

    /// <summary>The robots candidates are promoted to, canary-first (null: the spec has no <c>promotion:</c> section).</summary>
    public PromotionSpec? Promotion { get; init; }

    /// <summary>The <c>engine:</c> section (the local engine when absent).</summary>
    public EngineSpec Engine { get; init; } = EngineSpec.Local;

    private static readonly Regex NamePattern = new("^[a-z0-9][a-z0-9_.-]{0,63}$", RegexOptions.CultureInvariant);

    /// <summary>Reads and checks a spec file; <see cref="CampaignSpecException"/> names the key and line of the first problem.</summary>
    public static CampaignSpec Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var file = Path.GetFileName(path);
        string text;
        try
        {
            text = System.IO.File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CampaignSpecException(file, 0, "", $"cannot read the spec: {e.Message}");
        }
        return Parse(text, file, Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Reads spec text; <paramref name="baseDirectory"/> resolves a relative <c>model</c> path.</summary>
    public static CampaignSpec Parse(string text, string file, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(text);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            var why = e.InnerException?.Message ?? e.Message;
            // The likeliest cause: a gate written unquoted, `mean_return: >= -400` (YAML reads '>' as a folded block).
            if (why.Contains("block scalar", StringComparison.Ordinal)) why += " (a value that starts with '>' must be quoted: mean_return: \">= -400\")";
            throw new CampaignSpecException(file, e.Start.Line, "", $"not valid YAML: {why}");
        }
        if (stream.Documents.Count != 1)
            throw new CampaignSpecException(file, 1, "", $"a spec is one YAML document, found {stream.Documents.Count}");
        var root = new SpecNode(file, "", stream.Documents[0].RootNode);
        var map = root.Mapping("name", "task", "model", "envs", "params", "randomise", "configurations", "seeds", "budget", "engine", "evaluation", "gates", "promotion");

        var name = map.Required("name").Text();
        if (!NamePattern.IsMatch(name)) throw map.Required("name").Error("a name of lower-case letters, digits, '_', '.' and '-' (at most 64)");
        var taskNode = map.Required("task");
        var task = taskNode.Text();
        if (!TaskCatalog.TryGet(task, out var entry))
            throw taskNode.Error($"unknown task '{task}' (tasks: {string.Join(", ", TaskCatalog.All.Select(e => e.Name))})");
        string? model = null;
        if (map.Optional("model") is { } modelNode)
        {
            model = Path.GetFullPath(Path.Combine(baseDirectory, modelNode.Text()));
            if (!System.IO.File.Exists(model)) throw modelNode.Error($"model file '{model}' does not exist");
        }
        if (entry.TakesModel && model is null) throw taskNode.Error($"task '{task}' needs a model (key 'model')");
        if (!entry.TakesModel && model is not null) throw map.Optional("model")!.Value.Error($"task '{task}' is built in and takes no model");
        var envs = map.Optional("envs")?.Int(1, 256) ?? 2;

        // Parameters are checked against the task itself (a MuJoCo task's per-name parameters come from its model).
        IReadOnlyList<TaskParameter> parameters;
        TaskSpec taskSpec;
        using (var instance = TaskCatalog.Create(task, new TaskOptions(model))) (parameters, taskSpec) = (instance.Parameters, instance.Spec);
        var fixedParams = new Dictionary<string, double>(StringComparer.Ordinal);
        if (map.Optional("params") is { } paramsNode)
        {
            foreach (var (key, value) in paramsNode.Entries())
            {
                var v = value.Double();
                var p = parameters.FirstOrDefault(q => q.Name == key) ?? throw value.Error($"{task} has no parameter '{key}' (it has: {string.Join(", ", parameters.Select(q => q.Name))})");
                if (p.Validate(v) is { } why) throw value.Error(why);
                fixedParams[key] = v;
            }
        }
        IReadOnlyList<ParameterDistribution> Randomisation(SpecNode node)
        {
            var list = new List<ParameterDistribution>();
            foreach (var (key, value) in node.Entries())
            {
                ParameterDistribution d;
                try
                {
                    d = ParameterDistribution.Parse(key, value.Text());
                }
                catch (FormatException e)
                {
                    throw value.Error(e.Message);
                }
                if (d.Check(parameters, task) is { } why) throw value.Error(why);
                list.Add(d);
            }
            return list;
        }
        var randomise = map.Optional("randomise") is { } randomiseNode ? Randomisation(randomiseNode) : [];

        var configurations = new List<TrainingConfiguration>();
        var configsNode = map.Required("configurations");
        foreach (var item in configsNode.Items())
        {
            var c = item.Mapping("name", "algorithm", "learner");
            var configName = c.Required("name").Text();
            if (!NamePattern.IsMatch(configName)) throw c.Required("name").Error("a name of lower-case letters, digits, '_', '.' and '-'");
            if (configurations.Any(x => x.Name == configName)) throw c.Required("name").Error($"configuration '{configName}' is named twice");
            var learner = new Dictionary<string, string>(StringComparer.Ordinal);
            if (c.Optional("learner") is { } l)
            {
                foreach (var (key, value) in l.Entries()) learner[key] = value.Text();
            }
            configurations.Add(new TrainingConfiguration(configName, c.Optional("algorithm")?.Text(), learner, item.Line));
        }
        if (configurations.Count == 0) throw configsNode.Error("at least one configuration is needed");

        var seedsNode = map.Required("seeds");
        var seeds = seedsNode.Items().Select(s => s.Int(int.MinValue, int.MaxValue)).ToArray();
        if (seeds.Length == 0) throw seedsNode.Error("at least one seed is needed");
        if (seeds.Distinct().Count() != seeds.Length) throw seedsNode.Error("seeds must differ");

        var b = map.Required("budget").Mapping("env_steps", "eval_every", "eval_episodes", "checkpoint_every", "metrics_every");
        var steps = b.Required("env_steps").Long(1, long.MaxValue);
        var budget = new RunBudget(
            steps,
            b.Optional("eval_every")?.Int(0, int.MaxValue) ?? (int)Math.Min(steps, 10_000),
            b.Optional("eval_episodes")?.Int(1, 10_000) ?? 5,
            b.Optional("checkpoint_every")?.Long(1, long.MaxValue) ?? Math.Max(1, steps / 10),
            b.Optional("metrics_every")?.Int(1, int.MaxValue) ?? (int)Math.Clamp(steps / 20, 1, 1000));

        var engine = EngineSpec.Parse(map.Optional("engine"));
        var parallel = engine.Parallel ?? Math.Max(1, Environment.ProcessorCount / 2);

        return new CampaignSpec(name, task, model, envs, fixedParams, randomise, configurations, seeds, budget, parallel)
        {
            Evaluation = EvaluationPlan.Parse(map.Optional("evaluation"), map.Optional("gates"), taskSpec, baseDirectory, Randomisation),
            Promotion = map.Optional("promotion") is { } promotion ? PromotionSpec.Parse(promotion, baseDirectory) : null,
            Engine = engine,
        };
    }
}

/// <summary>A node of the spec with its dotted key, for errors that say where (<c>budget.env_steps</c>, line 12).</summary>
internal readonly struct SpecNode(string file, string key, YamlNode node)
{
    public string Key => key;
    public long Line => node.Start.Line;

    public CampaignSpecException Error(string problem) => new(file, node.Start.Line, key.Length == 0 ? "(top level)" : key, problem);

    /// <summary>A mapping whose keys must be among <paramref name="known"/> (an unknown key is an error naming the known ones).</summary>
    public SpecMapping Mapping(params string[] known)
    {
        if (node is not YamlMappingNode m) throw Error("must be a mapping of keys to values");
        var children = new Dictionary<string, SpecNode>(StringComparer.Ordinal);
        foreach (var (k, v) in m.Children)
        {
            var name = k is YamlScalarNode s ? s.Value ?? "" : throw new SpecNode(file, key, k).Error("keys must be plain words");
            var path = key.Length == 0 ? name : $"{key}.{name}";
            if (!known.Contains(name, StringComparer.Ordinal))
                throw new SpecNode(file, path, k).Error($"unknown key (known here: {string.Join(", ", known)})");
            children[name] = new SpecNode(file, path, v);
        }
        return new SpecMapping(this, children);
    }

    /// <summary>Every key → value of a mapping whose keys are free (parameter names, learner keys).</summary>
    public IEnumerable<(string Key, SpecNode Value)> Entries()
    {
        if (node is not YamlMappingNode m) throw Error("must be a mapping of names to values");
        foreach (var (k, v) in m.Children)
        {
            var name = k is YamlScalarNode s ? s.Value ?? "" : throw new SpecNode(file, key, k).Error("keys must be plain words");
            yield return (name, new SpecNode(file, $"{key}.{name}", v));
        }
    }

    public IEnumerable<SpecNode> Items()
    {
        if (node is not YamlSequenceNode seq) throw Error("must be a list");
        var i = 0;
        foreach (var item in seq.Children) yield return new SpecNode(file, $"{key}[{i++}]", item);
    }

    public string Text() => node is YamlScalarNode { Value: { Length: > 0 } v } ? v : throw Error("must be a non-empty value");

    public int Int(int min, int max) => (int)Long(min, max);

    public long Long(long min, long max)
    {
        var text = Text();
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) throw Error($"'{text}' is not a whole number");
        return v < min || v > max ? throw Error($"{v} is outside [{min}, {max}]") : v;
    }

    public double Double()
    {
        var text = Text();
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : throw Error($"'{text}' is not a number");
    }
}

internal readonly struct SpecMapping(SpecNode self, Dictionary<string, SpecNode> children)
{
    public SpecNode Required(string name) =>
        children.TryGetValue(name, out var n) ? n : throw self.Error($"missing key '{name}'");

    public SpecNode? Optional(string name) => children.TryGetValue(name, out var n) ? n : null;
}
