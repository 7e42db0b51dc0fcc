namespace MeowRobot.Tensors.Modules;

/// <summary>How <see cref="Mlp"/> builds each hidden layer.</summary>
public sealed record MlpOptions
{
    /// <summary>Insert a LayerNorm after each hidden Linear.</summary>
    public bool LayerNorm { get; init; }

    /// <summary>Insert a Dropout of this probability after each hidden Swish; null for none. A Dropout(0) still occupies
    /// an index in the names (the official reward-shift networks have one).</summary>
    public float? Dropout { get; init; }

    public LinearInit HiddenInit { get; init; } = LinearInit.Default;
    public LinearInit OutputInit { get; init; } = LinearInit.Default;
}

/// <summary>
/// The official MEow MLP: a child <c>net</c> (nn.Sequential) holding, per hidden layer,
/// Linear → [LayerNorm] → Swish → [Dropout], then a final Linear. State names are therefore
/// <c>net.0.weight</c>, <c>net.1.weight</c> (LayerNorm) or <c>net.1.beta</c> (Swish), … exactly as PyTorch's.
/// </summary>
public sealed class Mlp : Layer
{
    /// <param name="sizes">input, hidden…, output widths (at least two).</param>
    public Mlp(IReadOnlyList<int> sizes, Rng rng, MlpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentNullException.ThrowIfNull(rng);
        if (sizes.Count < 2 || sizes.Any(s => s <= 0)) throw new ArgumentException("an MLP needs at least input and output widths, all positive", nameof(sizes));
        options ??= new MlpOptions();
        var layers = new List<Layer>();
        for (var i = 0; i < sizes.Count - 2; i++)
        {
            layers.Add(new Linear(sizes[i], sizes[i + 1], rng, options.HiddenInit));
            if (options.LayerNorm) layers.Add(new LayerNorm(sizes[i + 1]));
            layers.Add(new Swish(sizes[i + 1]));
            if (options.Dropout is { } p) layers.Add(new Dropout(p, rng.Split()));
        }
        layers.Add(new Linear(sizes[^2], sizes[^1], rng, options.OutputInit));
        Net = RegisterModule("net", new Sequential(layers));
    }

    public Sequential Net { get; }

    public override Tensor Forward(Tape tape, Tensor x) => Net.Forward(tape, x);
}
