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
/// Forward runs each hidden block's LayerNorm → Swish → Dropout as one fused tape op (<see cref="Tape.HiddenActivation"/>).
/// </summary>
public sealed class Mlp : Layer
{
    private readonly HiddenBlock[] hidden;
    private readonly Linear output;

    /// <param name="sizes">input, hidden…, output widths (at least two).</param>
    public Mlp(IReadOnlyList<int> sizes, Rng rng, MlpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentNullException.ThrowIfNull(rng);
        if (sizes.Count < 2 || sizes.Any(s => s <= 0)) throw new ArgumentException("an MLP needs at least input and output widths, all positive", nameof(sizes));
        options ??= new MlpOptions();
        var layers = new List<Layer>();
        hidden = new HiddenBlock[sizes.Count - 2];
        for (var i = 0; i < hidden.Length; i++)
        {
            var block = new HiddenBlock(
                new Linear(sizes[i], sizes[i + 1], rng, options.HiddenInit),
                options.LayerNorm ? new LayerNorm(sizes[i + 1]) : null,
                new Swish(sizes[i + 1]),
                options.Dropout is { } p ? new Dropout(p, rng.Split()) : null);
            layers.Add(block.Linear);
            if (block.Norm is not null) layers.Add(block.Norm);
            layers.Add(block.Swish);
            if (block.Dropout is not null) layers.Add(block.Dropout);
            hidden[i] = block;
        }
        output = new Linear(sizes[^2], sizes[^1], rng, options.OutputInit);
        layers.Add(output);
        Net = RegisterModule("net", new Sequential(layers));
    }

    public Sequential Net { get; }

    /// <summary>The first Linear (the output layer when there is no hidden layer).</summary>
    public Linear FirstLayer => hidden.Length > 0 ? hidden[0].Linear : output;

    public override Tensor Forward(Tape tape, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var first = FirstLayer;
        return ForwardFromFirstLayer(tape, tape.Linear(x, first.Weight, first.Bias));
    }

    /// <summary>The rest of the network given the first Linear's output (computed by the caller, e.g. split by input
    /// columns): <c>Forward(x) == ForwardFromFirstLayer(tape, tape.Linear(x, FirstLayer.Weight, FirstLayer.Bias))</c>.</summary>
    public Tensor ForwardFromFirstLayer(Tape tape, Tensor preActivation)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var x = preActivation;
        for (var i = 0; i < hidden.Length; i++)
        {
            var block = hidden[i];
            if (i > 0) x = block.Linear.Forward(tape, x);
            var norm = block.Norm;
            var dropout = block.Dropout;
            x = tape.HiddenActivation(x, norm is not null, norm?.Weight, norm?.Bias, norm?.Eps ?? 0f, block.Swish.Beta,
                dropout?.ActiveP ?? 0f, dropout?.Stream);
        }
        return hidden.Length > 0 ? output.Forward(tape, x) : x;
    }

    private sealed record HiddenBlock(Linear Linear, LayerNorm? Norm, Swish Swish, Dropout? Dropout);
}
