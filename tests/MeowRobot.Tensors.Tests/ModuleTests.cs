using System.Buffers.Binary;
using System.Text.Json;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;
using MeowRobot.Testing;

namespace MeowRobot.Tensors.Tests;

public class ModuleTests
{
    /// <summary>The three official MLP variants, built as MEow builds them for a case's sizes (its safetensors metadata).</summary>
    private sealed class Official : Module
    {
        public Official(int obs, int act, int hidden, int layers, int shiftHidden, bool layerNorm, Rng rng)
        {
            RegisterModule("prior", new Prior(Sizes(obs, hidden, layers, act), rng));
            RegisterModule("t", new Mlp(Sizes(act + obs, hidden, layers, act), rng, new MlpOptions { LayerNorm = layerNorm, Dropout = 0.1f }));
            RegisterModule("scale1", new Mlp(Sizes(obs, shiftHidden, layers, 1), rng, new MlpOptions { Dropout = 0f }));
        }

        private static int[] Sizes(int input, int hidden, int layers, int output) => [input, .. Enumerable.Repeat(hidden, layers), output];

        private sealed class Prior : Module
        {
            public Prior(int[] sizes, Rng rng) => RegisterModule("log_scale", new Mlp(sizes, rng));
        }
    }

    public static TheoryData<string> GoldenCases => SharedMaterial.GoldenCaseNames();

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(GoldenCases))]
    public void Mlp_names_and_shapes_reproduce_the_official_state_dict(string name)
    {
        var (header, metadata) = ReadSafetensorsHeader(Path.Combine(GoldenRoot.Meow.Case(name), "weights.safetensors"));
        int Meta(string key) => int.Parse(metadata["meow." + key], System.Globalization.CultureInfo.InvariantCulture);
        var expected = header
            .Where(kv => kv.Key.StartsWith("prior.", StringComparison.Ordinal) || kv.Key.StartsWith("flows.0.t.", StringComparison.Ordinal) || kv.Key.StartsWith("flows." + 2 * Meta("flow_layers") + ".scale1.", StringComparison.Ordinal))
            .Select(kv => (Name: kv.Key[(kv.Key.StartsWith("flows.", StringComparison.Ordinal) ? kv.Key.IndexOf('.', "flows.".Length) + 1 : 0)..], kv.Value))
            .OrderBy(e => e.Name, StringComparer.Ordinal)
            .ToArray();
        Assert.Contains(expected, e => e.Name.StartsWith("scale1.", StringComparison.Ordinal));
        var model = new Official(Meta("obs_dim"), Meta("act_dim"), Meta("hidden"), Meta("hidden_layers"), Meta("shift_hidden"), bool.Parse(metadata["meow.layer_norm"]), new Rng(1));
        var actual = model.StateEntries().Select(e => (e.Name, e.Tensor.Shape)).OrderBy(e => e.Name, StringComparer.Ordinal).ToArray();
        Assert.Equal(expected.Select(e => e.Name), actual.Select(e => e.Name));
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i].Value, actual[i].Shape);
    }

    [Fact]
    public void State_dict_order_is_own_tensors_then_children_in_registration_order()
    {
        var mlp = new Mlp([4, 8, 2], new Rng(1), new MlpOptions { LayerNorm = true, Dropout = 0f });
        Assert.Equal(
            ["net.0.weight", "net.0.bias", "net.1.weight", "net.1.bias", "net.2.beta", "net.4.weight", "net.4.bias"],
            mlp.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void Loading_a_state_dict_checks_names_and_sizes_and_changes_nothing_on_error()
    {
        var mlp = new Mlp([2, 3, 1], new Rng(1));
        var state = mlp.StateDict();
        var before = mlp.StateDict();
        state["net.0.weight"] = new float[5];
        var e = Assert.Throws<StateDictException>(() => mlp.LoadStateDict(state));
        Assert.Contains(e.Problems, p => p.Contains("net.0.weight", StringComparison.Ordinal));
        Assert.Equal(before["net.0.bias"], mlp.StateDict()["net.0.bias"]);

        state = mlp.StateDict();
        state.Remove("net.2.bias");
        state["net.9.weight"] = [1f];
        e = Assert.Throws<StateDictException>(() => mlp.LoadStateDict(state));
        Assert.Equal(2, e.Problems.Count);
        state.Remove("net.9.weight");
        Assert.Throws<StateDictException>(() => mlp.LoadStateDict(state, strict: false)); // missing is always an error

        var other = new Mlp([2, 3, 1], new Rng(2));
        mlp.LoadStateDict(other.StateDict());
        Assert.Equal(other.StateDict()["net.0.weight"], mlp.StateDict()["net.0.weight"]);
    }

    [Fact]
    public void Linear_default_init_stays_within_one_over_sqrt_fan_in_and_fills_the_range()
    {
        var l = new Linear(64, 256, new Rng(3));
        var bound = 1 / Math.Sqrt(64);
        Assert.All(l.Weight.ToArray(), w => Assert.InRange(w, -bound, bound));
        Assert.All(l.Bias!.ToArray(), b => Assert.InRange(b, -bound, bound));
        Assert.True(l.Weight.ToArray().Max() > 0.95 * bound && l.Weight.ToArray().Min() < -0.95 * bound);
    }

    [Fact]
    public void Zero_and_orthogonal_inits_set_the_weight_only_and_leave_the_bias_at_the_default()
    {
        var bound = 1 / Math.Sqrt(64);
        foreach (var init in new[] { LinearInit.ZeroWeight, LinearInit.Orthogonal() })
        {
            var l = new Linear(64, 256, new Rng(3), init);
            var bias = l.Bias!.ToArray();
            Assert.All(bias, b => Assert.InRange(b, -bound, bound));
            Assert.True(bias.Max() > 0.9 * bound && bias.Min() < -0.9 * bound, $"{init.Kind}: bias does not fill ±1/sqrt(fan_in)");
        }
        Assert.All(new Linear(4, 3, new Rng(3), LinearInit.ZeroWeight).Weight.ToArray(), w => Assert.Equal(0f, w));
    }

    [Theory]
    [InlineData(3, 5)]
    [InlineData(5, 3)]
    public void Orthogonal_init_gives_orthonormal_rows_or_columns_times_gain(int rows, int cols)
    {
        var l = new Linear(cols, rows, new Rng(4), LinearInit.Orthogonal(2f));
        var w = l.Weight;
        var small = Math.Min(rows, cols);
        for (var p = 0; p < small; p++)
        for (var q = 0; q < small; q++)
        {
            double dot = 0;
            for (var k = 0; k < Math.Max(rows, cols); k++)
                dot += rows <= cols ? w[p, k] * w[q, k] : w[k, p] * w[k, q];
            Assert.Equal(p == q ? 4.0 : 0.0, dot, 1e-5);
        }
    }

    [Fact]
    public void Dropout_modules_are_active_only_in_training_mode()
    {
        var mlp = new Mlp([4, 16, 2], new Rng(1), new MlpOptions { Dropout = 0.5f });
        var tape = new Tape();
        var x = tape.Full(8, 4, 1f);
        mlp.Eval();
        var a = mlp.Forward(tape, x).ToArray();
        var b = mlp.Forward(tape, x).ToArray();
        Assert.Equal(a, b);
        mlp.Train();
        Assert.NotEqual(a, mlp.Forward(tape, x).ToArray());
    }

    [Fact]
    public void Dropout_streams_are_listed_in_module_order_and_fix_the_masks()
    {
        var rng = new Rng(1);
        Mlp first = new([4, 16, 16, 2], rng, new MlpOptions { Dropout = 0.5f }), second = new([2, 8, 1], rng, new MlpOptions { Dropout = 0f });
        var model = new Sequential(first, second);
        var expected = first.Net.Layers.Concat(second.Net.Layers).OfType<Dropout>().Select(d => d.Stream).ToArray();
        Assert.Equal(3, expected.Length);
        var streams = model.DropoutStreams();
        Assert.Equal(expected.Length, streams.Count);
        for (var i = 0; i < expected.Length; i++) Assert.Same(expected[i], streams[i]);

        // The streams are all the randomness of a training-mode forward: their saved states replay its masks.
        var saved = streams.Select(s => s.State).ToArray();
        var tape = new Tape();
        var x = tape.Full(8, 4, 1f);
        var y = model.Forward(tape, x).ToArray();
        Assert.NotEqual(y, model.Forward(tape, x).ToArray());
        for (var i = 0; i < saved.Length; i++) streams[i].State = saved[i];
        Assert.Equal(y, model.Forward(tape, x).ToArray());
    }

    private static (Dictionary<string, int[]> Shapes, Dictionary<string, string> Metadata) ReadSafetensorsHeader(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, n));
        var shapes = doc.RootElement.EnumerateObject()
            .Where(p => p.Name != "__metadata__")
            .ToDictionary(p => p.Name, p => p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray());
        var metadata = doc.RootElement.GetProperty("__metadata__").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        return (shapes, metadata);
    }
}
