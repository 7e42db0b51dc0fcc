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

    public override Tensor Forward(Tape tape, Tensor x)
    {
        for (var i = 0; i < _linears.Length; i++)
        {
            x = _linears[i].Forward(tape, x);
            if (i < _linears.Length - 1 || _activateOutput) x = tape.Elu(x);
        }
        return x;
    }

    private static string Name(int i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A soft Q critic Q(s, a) (the official <c>MLPFunction</c>): <c>net</c> = an ELU network on concat(s, a) → 1.</summary>
public sealed class Critic : Module
{
    public Critic(S2acOptions o, Rng rng) =>
        Net = RegisterModule("net", new EluNetwork([o.ObsDim + o.ActDim, .. Enumerable.Repeat(o.Hidden, o.CriticLayers), 1], rng, activateOutput: false));

    public EluNetwork Net { get; }

    /// <summary>Q(s, a) [rows, 1].</summary>
    public Tensor Forward(Tape tape, Tensor obs, Tensor act) => Net.Forward(tape, tape.Concat(1, obs, act));
}

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
