using System.Globalization;
using MeowRobot.Learner.S2ac;
using MeowRobot.Learner.Sac;
using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>
/// One run's algorithm with all its settings: the loop's (<see cref="Loop"/>) and the chosen algorithm's own record
/// (the others are null). <see cref="For"/> gives a task's presets; callers override with <c>with</c>. What
/// <c>trainer learn --algo</c>, <c>bench update --algo</c> and <c>Trainer:Algorithm</c> all build learners from.
/// </summary>
public sealed record AlgorithmSetup
{
    private AlgorithmSetup(PolicyAlgorithm algorithm, int obsDim, int actDim, LearnerOptions loop)
    {
        Algorithm = algorithm;
        ObsDim = obsDim;
        ActDim = actDim;
        Loop = loop;
    }

    public PolicyAlgorithm Algorithm { get; }
    public int ObsDim { get; }
    public int ActDim { get; }
    public LearnerOptions Loop { get; init; }
    /// <summary>MEow's flow and update (with <see cref="PolicyAlgorithm.Meow"/>).</summary>
    public FlowShape? Flow { get; init; }
    public MeowOptions? Meow { get; init; }
    /// <summary>SAC's networks and update (with <see cref="PolicyAlgorithm.Sac"/>).</summary>
    public SacOptions? Sac { get; init; }
    /// <summary>S2AC's networks, sampler and update (with <see cref="PolicyAlgorithm.S2ac"/>).</summary>
    public S2acOptions? S2ac { get; init; }

    /// <summary>The presets of <paramref name="algorithm"/> for a task (unknown task names get the algorithm's defaults).</summary>
    /// <exception cref="NotSupportedException">An algorithm this trainer cannot train yet.</exception>
    public static AlgorithmSetup For(PolicyAlgorithm algorithm, string task, int obsDim, int actDim)
    {
        ArgumentNullException.ThrowIfNull(task);
        switch (algorithm)
        {
            case PolicyAlgorithm.Meow:
                var (shape, meow, meowLoop) = MeowPresets.For(task, obsDim, actDim);
                return new AlgorithmSetup(algorithm, obsDim, actDim, meowLoop) { Flow = shape, Meow = meow };
            case PolicyAlgorithm.Sac:
                var (sac, sacLoop) = SacPresets.For(task);
                return new AlgorithmSetup(algorithm, obsDim, actDim, sacLoop) { Sac = sac };
            case PolicyAlgorithm.S2ac:
                var (s2ac, s2acLoop) = S2acPresets.For(task, obsDim, actDim);
                return new AlgorithmSetup(algorithm, obsDim, actDim, s2acLoop) { S2ac = s2ac };
            default:
                throw new NotSupportedException($"this trainer cannot train {algorithm.Name()} yet");
        }
    }

    /// <summary>Whether <see cref="For"/> can set up <paramref name="algorithm"/>.</summary>
    public static bool CanTrain(PolicyAlgorithm algorithm) => algorithm is PolicyAlgorithm.Meow or PolicyAlgorithm.Sac or PolicyAlgorithm.S2ac;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> (ParamName the setting) for the first bad value.</summary>
    public void Validate()
    {
        Loop.Validate();
        Flow?.Validate();
        Meow?.Validate();
        Sac?.Validate();
        S2ac?.Validate();
    }

    /// <summary>The algorithm for <see cref="OffPolicyLearner"/>'s constructor.</summary>
    public Func<Rng, IOffPolicyAlgorithm> Factory() => Algorithm switch
    {
        PolicyAlgorithm.Meow => MeowAlgorithm.Factory(Flow!, Meow!, Loop),
        PolicyAlgorithm.Sac => SacAlgorithm.Factory(ObsDim, ActDim, Sac!),
        PolicyAlgorithm.S2ac => S2acAlgorithm.Factory(S2ac!),
        _ => throw new NotSupportedException($"this trainer cannot train {Algorithm.Name()} yet"),
    };

    /// <summary>The learner this setup describes.</summary>
    public OffPolicyLearner CreateLearner(Bridge.Sim.IVectorEnv env, Bridge.Sim.IVectorEnv? evalEnv = null)
    {
        Validate();
        return new OffPolicyLearner(Factory(), Loop, env, evalEnv);
    }

    /// <summary>The settings that matter most, on one line (printed at the start of a run).</summary>
    public string Describe()
    {
        var inv = CultureInfo.InvariantCulture;
        var loop = string.Create(inv, $"batch: {Loop.BatchSize} learning_starts: {Loop.LearningStarts}{(Loop.RandomSteps is { } r ? $" random_steps: {r}" : "")} updates_per_transition: {Loop.UpdatesPerTransition}");
        return Algorithm switch
        {
            PolicyAlgorithm.Meow => string.Create(inv,
                $"algo: meow alpha: {Flow!.Alpha} tau: {Meow!.Tau} gamma: {Meow.Gamma} {loop} sigma: [{Flow.SigmaMin}, {Flow.SigmaMax}]"),
            PolicyAlgorithm.Sac => string.Create(inv,
                $"algo: sac alpha: {(Sac!.Autotune ? "auto" : Sac.Alpha.ToString(inv))} tau: {Sac.Tau} gamma: {Sac.Gamma} {loop} policy_frequency: {Sac.PolicyFrequency}"),
            PolicyAlgorithm.S2ac => string.Create(inv,
                $"algo: s2ac alpha: {S2ac!.Alpha} polyak: {S2ac.Polyak} gamma: {S2ac.Gamma} {loop} particles: {S2ac.Particles} svgd_steps: {S2ac.SvgdSteps} svgd_lr: {S2ac.SvgdLearningRate} initial: {(S2ac.InitialDistribution == S2acInitial.Fixed ? "fixed, sigma " + S2ac.InitialSigma.ToString(inv) : "learned")} amortized: {(S2ac.Amortized ? "yes, sampler_layers " + S2ac.SamplerLayers.ToString(inv) : "no")}"),
            _ => $"algo: {Algorithm.Name()} {loop}",
        };
    }
}
