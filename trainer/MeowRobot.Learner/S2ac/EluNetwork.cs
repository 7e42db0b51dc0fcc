using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.S2ac;

/// <summary>
/// The official code's <c>mlp(sizes, ELU)</c>, an <c>nn.Sequential</c> of Linear, ELU, Linear, ELU, …: children named
/// "0", "1", … (Linears at 0, 2, 4, …), with an ELU after the last Linear too when <paramref name="activateOutput"/>
/// (the initial distribution's trunk).
/// </summary>
public sealed class EluNetwork : Layer
{
    private readonly Linear[] _linears;
    private readonly bool _activateOutput;

    public EluNetwork(IReadOnlyList<int> sizes, Rng rng, bool activateOutput)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Count < 2) throw new ArgumentException("an ELU network needs an input and an output size", nameof(sizes));
        _activateOutput = activateOutput;
        _linears = new Linear[sizes.Count - 1];
        var index = 0;
        for (var i = 0; i < _linears.Length; i++)
        {
            _linears[i] = RegisterModule(Name(index++), new Linear(sizes[i], sizes[i + 1], rng));
            if (i < _linears.Length - 1 || activateOutput) RegisterModule(Name(index++), new Elu());
        }
    }

    public IReadOnlyList<Linear> Linears => _linears;

    public override Tensor Forward(Tape tape, Tensor x) => FromFirstLayer(tape, _linears[0].Forward(tape, x));

    /// <summary>The network on from the first Linear's result <paramref name="h"/> (for callers that compute that layer
    /// in parts).</summary>
    public Tensor FromFirstLayer(Tape tape, Tensor h)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var x = h;
        for (var i = 0; i < _linears.Length; i++)
        {
            if (i > 0) x = _linears[i].Forward(tape, x);
            if (i < _linears.Length - 1 || _activateOutput) x = tape.Elu(x);
        }
        return x;
    }

    private static string Name(int i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A soft Q critic Q(s, a) (the official <c>MLPFunction</c>): <c>net</c> = an ELU network on concat(s, a) → 1.
/// Its first layer runs in two blocks, s·W[:, :S]ᵀ + b and a·W[:, S:]ᵀ, so that the SVGD steps, which move the actions
/// of fixed states, compute the state's block once (<see cref="ObservationPart"/>) and each step a product over the A
/// action columns only, whose input gradient has A columns, not S + A.</summary>
public sealed class Critic : Module
{
    private readonly int _obsDim;

    public Critic(S2acOptions o, Rng rng)
    {
        _obsDim = o.ObsDim;
        Net = RegisterModule("net", new EluNetwork([o.ObsDim + o.ActDim, .. Enumerable.Repeat(o.Hidden, o.CriticLayers), 1], rng, activateOutput: false));
    }

    public EluNetwork Net { get; }

    /// <summary>Q(s, a) [rows, 1].</summary>
    public Tensor Forward(Tape tape, Tensor obs, Tensor act) => Forward(tape, ObservationPart(tape, obs), act);

    /// <summary>The first layer's observation block s·W[:, :S]ᵀ + b [rows, H], shared by every action at those states.</summary>
    public ObservationBlock ObservationPart(Tape tape, Tensor obs)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var first = Net.Linears[0];
        return new ObservationBlock(tape.LinearColumns(obs, first.Weight, 0, first.Bias));
    }

    /// <summary>Q(s, a) [rows, 1] from the states' <see cref="ObservationPart"/> (same rows as <paramref name="act"/>).</summary>
    public Tensor Forward(Tape tape, ObservationBlock obs, Tensor act)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return Net.FromFirstLayer(tape, tape.LinearColumns(act, Net.Linears[0].Weight, _obsDim, null, obs.Values));
    }
}

/// <summary>A critic's first-layer block of some states (<see cref="Critic.ObservationPart"/>) [rows, H]: a type of its
/// own so that it is not passed where the states themselves are meant.</summary>
public readonly record struct ObservationBlock(Tensor Values);

/// <summary>The amortized sampling network f(s, ξ) (Algorithm 2 of the paper): <c>net</c> = an ELU network on
/// concat(s, ξ) → A, pre-tanh, with <see cref="S2acOptions.SamplerLayers"/> hidden layers.</summary>
public sealed class SamplingNetwork : Module
{
    public SamplingNetwork(S2acOptions o, Rng rng) =>
        Net = RegisterModule("net", new EluNetwork([o.ObsDim + o.ActDim, .. Enumerable.Repeat(o.Hidden, o.SamplerLayers), o.ActDim], rng, activateOutput: false));

    public EluNetwork Net { get; }

    /// <summary>f(s, ξ) [rows, A].</summary>
    public Tensor Forward(Tape tape, Tensor obs, Tensor xi) => Net.Forward(tape, tape.Concat(1, obs, xi));
}
