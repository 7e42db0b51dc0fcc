using MeowRobot.Policy.Files;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.Flow;

/// <summary>
/// An additive coupling layer (volume preserving, log-det 0) with mask b: the masked part passes through and conditions a
/// translation of the rest, t(b ⊙ z, s) an MLP (A + S) → hidden… → A with LayerNorm, Swish and Dropout (every Linear's weight
/// orthogonal, its bias PyTorch's default, as in the official code).
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

    /// <summary>Latent → action direction. <paramref name="z"/> holds the N states' rows of <paramref name="obs"/>, or several
    /// copies of the batch stacked (k·N rows), each row i conditioned on state i mod N.</summary>
    public Tensor Forward(Tape tape, Tensor z, Tensor obs)
    {
        var passed = tape.Mul(z, Mask);
        return tape.Add(passed, tape.Mul(tape.Add(z, Translation(tape, passed, obs)), _keep));
    }

    /// <summary>Action → latent direction (rows of <paramref name="z"/> as for <see cref="Forward"/>).</summary>
    public Tensor Inverse(Tape tape, Tensor z, Tensor obs)
    {
        var passed = tape.Mul(z, Mask);
        return tape.Add(passed, tape.Mul(tape.Sub(z, Translation(tape, passed, obs)), _keep));
    }

    // t's first layer acts on concat(b ⊙ z, s). It runs split in two, so that the state's part is computed once per state
    // even when z stacks copies of the batch (the doubled batch of the Q update) and no concatenated input is built; that
    // part then seeds the z part's product on every copy.
    private Tensor Translation(Tape tape, Tensor passed, Tensor obs)
    {
        if (passed.Rows % obs.Rows != 0)
            throw new ArgumentException($"coupling: {passed.Rows} rows of z are not copies of the {obs.Rows} states", nameof(obs));
        var first = T.FirstLayer;
        var byState = tape.LinearColumns(obs, first.Weight, passed.Cols);
        return T.ForwardFromFirstLayer(tape, tape.LinearColumns(passed, first.Weight, 0, first.Bias, byState));
    }
}
