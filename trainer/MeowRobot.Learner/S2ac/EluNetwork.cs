using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.S2ac;

/// <summary>
/// The official code's <c>mlp(sizes, ELU)</c>: child <c>net</c> = Linear, ELU, Linear, ELU, …, named as PyTorch's
/// <c>nn.Sequential</c> (Linears at 0, 2, 4, …), with an ELU after the last Linear too when
/// <paramref name="activateOutput"/> (the initial distribution's trunk).
/// </summary>
public class EluNetwork : Layer
{
    private readonly Linear[] _linears;
    private readonly bool _activateOutput;

    public EluNetwork(IReadOnlyList<int> sizes, Rng rng, bool activateOutput)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Count < 2) throw new ArgumentException("an ELU network needs an input and an output size", nameof(sizes));
        _activateOutput = activateOutput;
        _linears = new Linear[sizes.Count - 1];
        var layers = new List<Layer>();
        for (var i = 0; i < _linears.Length; i++)
        {
            layers.Add(_linears[i] = new Linear(sizes[i], sizes[i + 1], rng));
            if (i < _linears.Length - 1 || activateOutput) layers.Add(new Elu());
        }
        RegisterModule("net", new Sequential(layers));
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
}

/// <summary>A soft Q critic Q(s, a): an ELU network on concat(s, a) → 1 (the official <c>MLPFunction</c>), so its
/// tensors are <c>net.0.*</c>, <c>net.2.*</c>, … under the critic's name.</summary>
public sealed class Critic(S2acOptions o, Rng rng)
    : EluNetwork([o.ObsDim + o.ActDim, .. Enumerable.Repeat(o.Hidden, o.CriticLayers), 1], rng, activateOutput: false)
{
    /// <summary>Q(s, a) [rows, 1].</summary>
    public Tensor Forward(Tape tape, Tensor obs, Tensor act) => Forward(tape, tape.Concat(1, obs, act));
}
