using System.Globalization;
using System.Text.RegularExpressions;
using MeowRobot.Bridge.Sim;
using MeowRobot.Campaign.Spec;
using MeowRobot.Control.Safety;

namespace MeowRobot.Campaign.Gates;

/// <summary>Which evaluation a gate reads: <c>policy eval</c> on the held-out randomisation, or the rehearsal through
/// <c>controller run</c>.</summary>
public enum GateSource
{
    Eval,
    Rehearsal,
}

/// <summary>One gate of the spec, e.g. <c>mean_return: "&gt;= -400"</c>: a candidate passes it when its value compares
/// so with the threshold (a value that is not a number passes no gate).</summary>
public sealed record GateCheck(string Name, string Op, double Threshold, GateSource Source)
{
    /// <summary>Every gate the spec knows, and which evaluation measures it (docs/campaigns.md, "Gates").</summary>
    public static readonly IReadOnlyDictionary<string, GateSource> Known = new Dictionary<string, GateSource>(StringComparer.Ordinal)
    {
        ["mean_return"] = GateSource.Eval,
        ["p10_return"] = GateSource.Eval,
        ["rehearsal_mean_return"] = GateSource.Rehearsal,
        ["rehearsal_p10_return"] = GateSource.Rehearsal,
        ["safe_stops_per_episode"] = GateSource.Rehearsal,          // all of them, as the two below together
        ["stall_safe_stops_per_episode"] = GateSource.Rehearsal,    // stale or missing observations, deadline-miss budget
        ["policy_safe_stops_per_episode"] = GateSource.Rehearsal,   // state bounds, non-finite observations or actions
        ["envelope_interventions_per_episode"] = GateSource.Rehearsal,
        ["deadline_misses"] = GateSource.Rehearsal,
    };

    public bool Passes(double value) => Op switch
    {
        ">=" => value >= Threshold,
        ">" => value > Threshold,
        "<=" => value <= Threshold,
        _ => value < Threshold,
    };

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} {Op} {Threshold:R}");
}

/// <summary>Rehearsal of every candidate through <c>controller run --episodes</c> with the robot's controller
/// configuration (its envelope, loop rate and plant rate: <see cref="ActuatorModel"/>).</summary>
/// <param name="ControllerConfig">Absolute path of the controller configuration (JSON).</param>
public sealed record RehearsalPlan(string ControllerConfig, int Episodes, double LoopRateHz, double StepRateHz);

/// <summary>
/// How a campaign's candidates are judged (the spec's <c>evaluation:</c> and <c>gates:</c>): <c>policy eval</c> of
/// <see cref="Episodes"/> episodes seeded <see cref="Seed"/> + i on the held-out randomisation, the same seeds and
/// randomisation rehearsed through the controller, and the gates every candidate must pass.
/// </summary>
/// <param name="EpisodeSteps">The task's episode length (what the tools' time limits are sized by).</param>
public sealed record EvaluationPlan(IReadOnlyList<ParameterDistribution> Randomise, int Episodes, int Seed, RehearsalPlan? Rehearsal,
    IReadOnlyList<GateCheck> Gates, int EpisodeSteps)
{
    public const int DefaultEpisodes = 20, DefaultRehearsalEpisodes = 5, DefaultSeed = 1_000_000;

    private static readonly Regex Condition = new(@"^\s*(>=|<=|>|<)\s*(\S+)\s*$", RegexOptions.CultureInvariant);

    /// <summary>Reads <c>evaluation:</c> and <c>gates:</c> (both or neither); errors name the key and line.</summary>
    /// <param name="randomise">Reads a <c>NAME: DIST</c> mapping as the spec's own <c>randomise:</c> does (checked against the task).</param>
    internal static EvaluationPlan? Parse(SpecNode? evaluation, SpecNode? gates, TaskSpec task, string baseDirectory,
        Func<SpecNode, IReadOnlyList<ParameterDistribution>> randomise)
    {
        if (evaluation is null)
            return gates is { } g ? throw g.Error("gates need an evaluation (key 'evaluation': the held-out randomisation, episodes, rehearsal)") : null;
        var e = evaluation.Value.Mapping("randomise", "episodes", "seed", "rehearsal");
        if (gates is null) throw evaluation.Value.Error("an evaluation needs gates to decide the verdicts (key 'gates', e.g. mean_return: \">= -400\")");
        var held = e.Optional("randomise") is { } r ? randomise(r) : [];
        var episodes = e.Optional("episodes")?.Int(1, 100_000) ?? DefaultEpisodes;
        var seed = e.Optional("seed")?.Int(0, int.MaxValue - 100_000) ?? DefaultSeed;

        RehearsalPlan? rehearsal = null;
        if (e.Optional("rehearsal") is { } rehearsalNode)
        {
            var rm = rehearsalNode.Mapping("controller", "episodes");
            var controllerNode = rm.Required("controller");
            var path = Path.GetFullPath(Path.Combine(baseDirectory, controllerNode.Text()));
            if (!File.Exists(path)) throw controllerNode.Error($"controller configuration '{path}' does not exist");
            ActuatorModel model;
            try
            {
                model = ActuatorModel.Load(path);
                model.EnvelopeFor(task);
            }
            catch (InvalidControlOptionsException x)
            {
                throw controllerNode.Error($"the controller refuses {path}: {x.Message}");
            }
            rehearsal = new RehearsalPlan(path, rm.Optional("episodes")?.Int(1, 10_000) ?? DefaultRehearsalEpisodes, model.LoopRateHz, model.StepRateHz);
        }

        var checks = new List<GateCheck>();
        foreach (var (name, node) in gates.Value.Entries())
        {
            if (!GateCheck.Known.TryGetValue(name, out var source))
                throw node.Error($"unknown gate (known: {string.Join(", ", GateCheck.Known.Keys)})");
            if (source == GateSource.Rehearsal && rehearsal is null)
                throw node.Error("a rehearsal gate needs evaluation.rehearsal (the controller configuration to rehearse with)");
            var m = Condition.Match(node.Text());
            if (!m.Success || !double.TryParse(m.Groups[2].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold) || !double.IsFinite(threshold))
                throw node.Error($"'{node.Text()}' is not a condition like \">= -400\" or \"<= 0\" (>=, >, <=, < and a number; quote it: YAML reads a leading '>' as a folded block)");
            checks.Add(new GateCheck(name, m.Groups[1].Value, threshold, source));
        }
        if (checks.Count == 0) throw gates.Value.Error("at least one gate is needed");
        return new EvaluationPlan(held, episodes, seed, rehearsal, checks, task.MaxEpisodeSteps);
    }
}
