using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.Flow;

/// <summary>
/// MEow's learnable reward shifting: two state functions b1(s), b2(s) (MLPs S → shift hidden… → 1, Swish, Dropout(0); every
/// Linear's weight starts at zero and its bias at PyTorch's default, as in the official code) that add to both Q_k and V_k. They leave the policy unchanged (they cancel in log π) and give the
/// two soft Q estimates of the shifting-based clipped double Q.
/// </summary>
public sealed class RewardShift : Module
{
    public RewardShift(FlowShape shape, Rng rng)
    {
        var sizes = Prior.Sizes(shape.ObsDim, shape.ShiftHidden, shape.HiddenLayers, 1);
        var options = new MlpOptions { Dropout = 0f, HiddenInit = LinearInit.ZeroWeight, OutputInit = LinearInit.ZeroWeight };
        Scale1 = RegisterModule("scale1", new Mlp(sizes, rng, options));
        Scale2 = RegisterModule("scale2", new Mlp(sizes, rng, options));
    }

    public Mlp Scale1 { get; }
    public Mlp Scale2 { get; }

    /// <summary>b_k(s), [N, 1], for k ∈ {1, 2}.</summary>
    public Tensor Shift(Tape tape, Tensor obs, int k) => k switch
    {
        1 => Scale1.Forward(tape, obs),
        2 => Scale2.Forward(tape, obs),
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, "the reward shifts are b1 and b2"),
    };
}
