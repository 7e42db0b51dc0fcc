using System.Globalization;

namespace MeowRobot.Trainer.Export.Onnx;

/// <summary>An ONNX node attribute: an int or a float (all the operators used here need).</summary>
public sealed record OnnxAttribute(string Name, long? Int = null, float? Float = null)
{
    public static OnnxAttribute Of(string name, long value) => new(name, Int: value);
    public static OnnxAttribute Of(string name, float value) => new(name, Float: value);
}

/// <summary>A node: operator, input and output value names, attributes.</summary>
public sealed record OnnxNode(string Op, string[] Inputs, string[] Outputs, OnnxAttribute[] Attributes);

/// <summary>A float32 constant (an initializer): name, shape, row-major values.</summary>
public sealed record OnnxTensor(string Name, long[] Dims, float[] Values);

/// <summary>A graph input or output: a float32 matrix [batch, Columns] whose first dimension is symbolic.</summary>
public sealed record OnnxValue(string Name, int Columns);

/// <summary>
/// An ONNX graph under construction, in the default operator domain at <see cref="Opset"/>. Every method adds the nodes
/// (and constants) of one operation and returns the name of its result, so a network reads as it is computed.
/// Values are float32 matrices [batch, n]; the batch dimension stays symbolic.
/// </summary>
public sealed class OnnxGraph(string name)
{
    /// <summary>ONNX opset 17: the first with LayerNormalization; ONNX 1.12 (Debian 12's python3-onnx) knows it, as does
    /// every ONNX Runtime since 1.12.</summary>
    public const int Opset = 17;

    /// <summary>IR version 8, the one that goes with opset 17.</summary>
    public const int IrVersion = 8;

    /// <summary>The symbolic name of the batch dimension of inputs and outputs.</summary>
    public const string BatchDimension = "batch";

    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxTensor> _constants = [];
    private readonly List<OnnxValue> _inputs = [], _outputs = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _next;

    public string Name { get; } = name;
    public IReadOnlyList<OnnxNode> Nodes => _nodes;
    public IReadOnlyList<OnnxTensor> Constants => _constants;
    public IReadOnlyList<OnnxValue> Inputs => _inputs;
    public IReadOnlyList<OnnxValue> Outputs => _outputs;

    /// <summary>Declares an input [batch, columns].</summary>
    public string Input(string name, int columns)
    {
        Claim(name);
        _inputs.Add(new OnnxValue(name, columns));
        return name;
    }

    /// <summary>Makes <paramref name="value"/> an output [batch, columns] called <paramref name="name"/>.</summary>
    public void Output(string value, string name, int columns)
    {
        Claim(name);
        _nodes.Add(new OnnxNode("Identity", [value], [name], []));
        _outputs.Add(new OnnxValue(name, columns));
    }

    /// <summary>A constant of the given shape (row-major values); its name says what it is.</summary>
    public string Constant(string name, float[] values, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (dims.Aggregate(1L, (a, d) => a * d) != values.Length)
            throw new ArgumentException($"constant {name}: {values.Length} values for shape [{string.Join(", ", dims)}]", nameof(values));
        Claim(name);
        _constants.Add(new OnnxTensor(name, dims, values));
        return name;
    }

    /// <summary>y = x Wᵀ + c, with W [out, in] (row-major, as nn.Linear stores it) and c a bias vector or a value
    /// [batch, out] (ONNX Gemm with transB).</summary>
    public string Linear(string x, string weight, string bias) => Add("Gemm", [x, weight, bias], OnnxAttribute.Of("transB", 1L));

    public string Add(string a, string b) => Add("Add", [a, b]);
    public string Mul(string a, string b) => Add("Mul", [a, b]);
    public string Sigmoid(string x) => Add("Sigmoid", [x]);
    public string Tanh(string x) => Add("Tanh", [x]);

    /// <summary>clamp(x, lo, hi) (opset 11+ Clip takes its bounds as scalar inputs).</summary>
    public string Clip(string x, float lo, float hi, string what) =>
        Add("Clip", [x, Constant(what + ".min", [lo]), Constant(what + ".max", [hi])]);

    /// <summary>LayerNormalization over the last axis: (x − mean)/sqrt(var + eps) · scale + bias, var biased as in PyTorch.</summary>
    public string LayerNorm(string x, string scale, string bias, float epsilon) =>
        Add("LayerNormalization", [x, scale, bias], OnnxAttribute.Of("axis", -1L), OnnxAttribute.Of("epsilon", epsilon));

    /// <summary>Adds one node and returns its (single) output's name.</summary>
    public string Add(string op, string[] inputs, params OnnxAttribute[] attributes)
    {
        var output = string.Create(CultureInfo.InvariantCulture, $"{op}_{_next++}");
        Claim(output);
        _nodes.Add(new OnnxNode(op, inputs, [output], attributes));
        return output;
    }

    private void Claim(string name)
    {
        if (!_names.Add(name)) throw new ArgumentException($"the graph already has a value called '{name}'", nameof(name));
    }
}
