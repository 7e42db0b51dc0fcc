using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.Flow;

/// <summary>
/// The conditional diagonal Gaussian prior p(z | s): zero mean and a state-dependent log-scale
/// log σ(s) = σ_min + ½(σ_max − σ_min)(tanh h(s) + 1), h the MLP <c>log_scale</c> (S → hidden… → A, Swish, no LayerNorm,
/// no dropout). As in the official code every Linear's weight starts at zero and its bias at PyTorch's default, so h(s)
/// starts as a constant near zero and every σ near mid-range, the same for every state.
/// </summary>
public sealed class Prior : Module
{
    private readonly float _sigmaMin, _halfRange;

    public Prior(FlowShape shape, Rng rng)
    {
        LogScale = RegisterModule("log_scale", new Mlp(Sizes(shape.ObsDim, shape.Hidden, shape.HiddenLayers, shape.ActDim), rng,
            new MlpOptions { HiddenInit = LinearInit.ZeroWeight, OutputInit = LinearInit.ZeroWeight }));
        _sigmaMin = shape.SigmaMin;
        _halfRange = 0.5f * (shape.SigmaMax - shape.SigmaMin);
    }

    public Mlp LogScale { get; }

    /// <summary>log σ(s), [N, A].</summary>
    public Tensor LogSigma(Tape tape, Tensor obs) =>
        tape.Add(tape.Mul(tape.Add(tape.Tanh(LogScale.Forward(tape, obs)), 1f), _halfRange), _sigmaMin);

    internal static int[] Sizes(int input, int hidden, int layers, int output)
    {
        var sizes = new int[layers + 2];
        sizes[0] = input;
        for (var i = 1; i <= layers; i++) sizes[i] = hidden;
        sizes[^1] = output;
        return sizes;
    }
}
