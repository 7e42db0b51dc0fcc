namespace MeowRobot.Tensors.Modules;

/// <summary>How a <see cref="Linear"/> layer's weight starts. The bias always starts as PyTorch's default (uniform in
/// ±1/sqrt(fan_in)): the official MEow code re-initialises weights only (<c>nn.init.zeros_</c>/<c>orthogonal_</c> on
/// <c>.weight</c>).</summary>
public readonly record struct LinearInit(LinearInitKind Kind, float Gain = 1f)
{
    /// <summary>PyTorch's default: weight uniform in ±1/sqrt(fan_in) (kaiming_uniform_ with a = sqrt 5).</summary>
    public static LinearInit Default => new(LinearInitKind.Default);

    /// <summary>Orthogonal weight scaled by <paramref name="gain"/> (<c>nn.init.orthogonal_</c>).</summary>
    public static LinearInit Orthogonal(float gain = 1f) => new(LinearInitKind.Orthogonal, gain);

    /// <summary>Zero weight (<c>nn.init.zeros_</c>).</summary>
    public static LinearInit ZeroWeight => new(LinearInitKind.ZeroWeight);
}

public enum LinearInitKind { Default, Orthogonal, ZeroWeight }

/// <summary>y = x Wᵀ + b, W [out, in] named <c>weight</c>, b [out] named <c>bias</c> (as <c>nn.Linear</c>).</summary>
public sealed class Linear : Layer
{
    public Linear(int inFeatures, int outFeatures, Rng rng, LinearInit init = default, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(rng);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", new Tensor(outFeatures, inFeatures));
        Bias = bias ? RegisterParameter("bias", new Tensor(outFeatures)) : null;
        var bound = 1f / MathF.Sqrt(inFeatures);
        switch (init.Kind)
        {
            case LinearInitKind.Default:
                rng.FillUniform(Weight.Values, -bound, bound);
                break;
            case LinearInitKind.Orthogonal:
                Initialisers.Orthogonal(Weight, init.Gain, rng);
                break;
            case LinearInitKind.ZeroWeight:
                break;
        }
        if (Bias is not null) rng.FillUniform(Bias.Values, -bound, bound);
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public override Tensor Forward(Tape tape, Tensor x) => tape.Linear(x, Weight, Bias);
}

/// <summary>Layer normalisation over the last dimension with affine <c>weight</c> (ones) and <c>bias</c> (zeros).</summary>
public sealed class LayerNorm : Layer
{
    public LayerNorm(int features, float eps = 1e-5f)
    {
        Eps = eps;
        Weight = RegisterParameter("weight", new Tensor(features));
        Weight.Fill(1f);
        Bias = RegisterParameter("bias", new Tensor(features));
    }

    public float Eps { get; }
    public Tensor Weight { get; }
    public Tensor Bias { get; }

    public override Tensor Forward(Tape tape, Tensor x) => tape.LayerNorm(x, Weight, Bias, Eps);
}

/// <summary>x · sigmoid(β x) with a learnable <c>beta</c> per unit, initialised to 1.</summary>
public sealed class Swish : Layer
{
    public Swish(int features)
    {
        Beta = RegisterParameter("beta", new Tensor(features));
        Beta.Fill(1f);
    }

    public Tensor Beta { get; }

    public override Tensor Forward(Tape tape, Tensor x) => tape.Swish(x, Beta);
}

/// <summary>ELU with α = 1 (<c>nn.ELU()</c>): no parameters.</summary>
public sealed class Elu : Layer
{
    public override Tensor Forward(Tape tape, Tensor x) => tape.Elu(x);
}

/// <summary>Dropout with its own seeded stream; identity in evaluation mode or when p = 0.</summary>
public sealed class Dropout(float p, Rng rng) : Layer
{
    public float P { get; } = p is >= 0f and < 1f ? p : throw new ArgumentOutOfRangeException(nameof(p), "dropout probability must be in [0, 1)");

    /// <summary>The probability in effect: <see cref="P"/> while training, 0 in evaluation mode.</summary>
    internal float ActiveP => Training ? P : 0f;

    /// <summary>This layer's mask stream (the fused hidden block in <see cref="Mlp"/> draws from it as Forward does).</summary>
    internal Rng Stream => rng;

    public override Tensor Forward(Tape tape, Tensor x) => ActiveP > 0f ? tape.Dropout(x, P, rng) : x;
}

/// <summary>Layers applied in order, named "0", "1", … as <c>nn.Sequential</c>.</summary>
public sealed class Sequential : Layer
{
    private readonly Layer[] layers;

    public Sequential(params IEnumerable<Layer> layers)
    {
        this.layers = layers.ToArray();
        for (var i = 0; i < this.layers.Length; i++) RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), this.layers[i]);
    }

    public IReadOnlyList<Layer> Layers => layers;

    public override Tensor Forward(Tape tape, Tensor x)
    {
        foreach (var l in layers) x = l.Forward(tape, x);
        return x;
    }
}
