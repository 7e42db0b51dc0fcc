using MeowRobot.Policy.Files;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.Flow;

/// <summary>
/// An additive coupling layer (volume preserving, log-det 0) with mask b: the masked part passes through and conditions a
/// translation of the rest, t(b ⊙ z, s) an MLP (A + S) → hidden… → A with LayerNorm, Swish and Dropout.
/// forward (latent → action): z′ = b ⊙ z + (1 − b) ⊙ (z + t); inverse: z = b ⊙ z′ + (1 − b) ⊙ (z′ − t).
/// </summary>
public sealed class Coupling : Module
{
    private readonly Tensor _keep; // 1 − b, a constant row

    /// <param name="index">Position among the couplings: even ones take b = [1, 0, 1, …], odd ones 1 − b.</param>
    public Coupling(FlowShape shape, int index, Rng rng)
    {
        var mask = PolicyLayout.Mask(index, shape.ActDim);
        Mask = RegisterBuffer("b", Tensor.FromValues(1, shape.ActDim, mask));
        _keep = Tensor.FromValues(1, shape.ActDim, mask.Select(m => 1f - m).ToArray());
        T = RegisterModule("t", new Mlp(Prior.Sizes(shape.ActDim + shape.ObsDim, shape.Hidden, shape.HiddenLayers, shape.ActDim), rng,
            new MlpOptions
            {
                LayerNorm = shape.LayerNorm,
                Dropout = shape.Dropout,
                HiddenInit = LinearInit.Orthogonal(),
                OutputInit = LinearInit.Orthogonal(),
            }));
    }

    /// <summary>The mask b, [1, A] (a buffer: saved, never trained).</summary>
    public Tensor Mask { get; }

    /// <summary>The translation network t.</summary>
    public Mlp T { get; }

    /// <summary>Latent → action direction.</summary>
    public Tensor Forward(Tape tape, Tensor z, Tensor obs)
    {
        var passed = tape.Mul(z, Mask);
        return tape.Add(passed, tape.Mul(tape.Add(z, Translation(tape, passed, obs)), _keep));
    }

    /// <summary>Action → latent direction.</summary>
    public Tensor Inverse(Tape tape, Tensor z, Tensor obs)
    {
        var passed = tape.Mul(z, Mask);
        return tape.Add(passed, tape.Mul(tape.Sub(z, Translation(tape, passed, obs)), _keep));
    }

    private Tensor Translation(Tape tape, Tensor passed, Tensor obs) => T.Forward(tape, tape.Concat(1, passed, obs));
}
