using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using MeowRobot.Policy.Files;
using MeowRobot.Policy.Safetensors;
using MeowRobot.Testing;

namespace MeowRobot.Policy.Tests;

public class PolicyFileTests
{
    public static TheoryData<string> Cases => SharedMaterial.GoldenCaseNames();

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Every_golden_weights_file_loads_with_its_metadata(string name)
    {
        var golden = GoldenCase.Load(name);
        foreach (var file in new[] { "weights.safetensors", "after_train.safetensors", "after_train_target.safetensors" })
        {
            var policy = PolicyFile.Load(Path.Combine(golden.Dir, file));
            Assert.Equal(golden.ObsDim, policy.Metadata.ObsDim);
            Assert.Equal(golden.ActDim, policy.Metadata.ActDim);
            Assert.Equal(4, policy.Metadata.Couplings);
            Assert.Equal(64, policy.Metadata.Hidden);
            Assert.True(policy.Metadata.LayerNorm);
            Assert.Equal([64, golden.ObsDim + golden.ActDim], policy["flows.0.t.net.0.weight"].Shape);
            Assert.Equal([1, 256], policy["flows.4.scale2.net.6.weight"].Shape);
        }
    }

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void Saving_a_loaded_golden_file_reproduces_it_byte_for_byte(string name)
    {
        // The golden bytes come from the official code: same names, order, shapes, metadata and padding.
        var golden = File.ReadAllBytes(GoldenCase.Load(name).Weights);
        Assert.Equal(golden, PolicyFile.Parse(golden).ToBytes());
    }

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void The_layout_names_exactly_the_golden_header_tensors_in_its_order(string name)
    {
        var golden = File.ReadAllBytes(GoldenCase.Load(name).Weights);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(golden);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(golden, 8, n));
        var names = header.RootElement.EnumerateObject().Select(p => p.Name).Where(k => k != "__metadata__").ToArray();
        var shapes = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__")
            .Select(p => p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray()).ToArray();
        var metadata = PolicyFile.Parse(golden).Metadata;
        var layout = PolicyLayout.Tensors(metadata);
        Assert.Equal(names, layout.Select(s => s.Name));
        Assert.Equal(shapes, layout.Select(s => s.Shape));
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Extras_round_trip_in_metadata_and_add_no_tensor()
    {
        var plain = PolicyFile.Load(GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0])).Weights);
        var m = plain.Metadata;
        var extended = new PolicyFile(m with
        {
            ObsNorm = new ObservationNormalization(Enumerable.Range(0, m.ObsDim).Select(i => i * 0.1f - 0.3f).ToArray(),
                Enumerable.Range(0, m.ObsDim).Select(i => 1f / 3 + i).ToArray(), 1e-6f, float.PositiveInfinity),
            ActionScale = new ActionScaling(Enumerable.Repeat(-0.4f, m.ActDim).ToArray(), Enumerable.Repeat(1.7f, m.ActDim).ToArray()),
            Version = 42,
            Task = "hopper",
            Robot = "hopper-07",
            Extra = [new("meow.note", "kept"), new("other", "x")],
        }, plain.Tensors);
        var bytes = extended.ToBytes();
        var back = PolicyFile.Parse(bytes);
        Assert.Equal(extended.Metadata.ObsNorm!.Mean, back.Metadata.ObsNorm!.Mean);
        Assert.Equal(extended.Metadata.ObsNorm.Var, back.Metadata.ObsNorm.Var);
        Assert.Equal(1e-6f, back.Metadata.ObsNorm.Epsilon);
        Assert.Equal(float.PositiveInfinity, back.Metadata.ObsNorm.Clip);
        Assert.Equal(extended.Metadata.ActionScale!.High, back.Metadata.ActionScale!.High);
        Assert.Equal((42UL, "hopper", "hopper-07"), (back.Metadata.Version!.Value, back.Metadata.Task!, back.Metadata.Robot!));
        Assert.Equal(extended.Metadata.Extra, back.Metadata.Extra);
        Assert.Equal(plain.Tensors.Select(t => t.Name), SafetensorsFile.Parse(bytes).Header.Tensors.Select(t => t.Name));
        Assert.All(plain.Tensors, t => Assert.Equal(t.Values, back[t.Name].Values));
        Assert.Equal(bytes, back.ToBytes());
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Save_writes_a_file_that_loads_back()
    {
        var plain = PolicyFile.Load(GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0])).Weights);
        var path = Path.Combine(Path.GetTempPath(), $"meow-policy-{Environment.ProcessId}.safetensors");
        try
        {
            plain.Save(path);
            Assert.Equal(plain.ToBytes(), File.ReadAllBytes(path));
            Assert.Single(Directory.GetFiles(Path.GetTempPath(), $"meow-policy-{Environment.ProcessId}.safetensors*"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void A_NaN_or_infinite_weight_is_rejected_naming_the_tensor()
    {
        var plain = PolicyFile.Load(GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0])).Weights);
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var bytes = WithValue(plain, "flows.2.t.net.4.weight", 17, bad);
            var e = Assert.Throws<PolicyFileException>(() => PolicyFile.Parse(bytes));
            Assert.Equal(PolicyFileError.NonFinite, e.Error);
            Assert.Equal("flows.2.t.net.4.weight", e.Tensor);
            Assert.Contains("flows.2.t.net.4.weight", e.Message, StringComparison.Ordinal);
            Assert.Contains("17", e.Message, StringComparison.Ordinal);
        }
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Missing_unexpected_misshapen_or_mistyped_tensors_are_rejected()
    {
        var plain = PolicyFile.Load(GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0])).Weights);
        var tensors = plain.Tensors.Select(t => SafetensorsTensor.F32(t.Name, t.Shape.Select(d => (long)d).ToArray(), t.Values)).ToList();
        var meta = plain.Metadata.ToEntries().ToArray();

        PolicyFileException Reject(IEnumerable<SafetensorsTensor> ts, IEnumerable<KeyValuePair<string, string>>? md = null) =>
            Assert.Throws<PolicyFileException>(() => PolicyFile.Parse(SafetensorsWriter.ToArray(ts.ToArray(), md ?? meta)));

        var missing = Reject(tensors.Where(t => t.Name != "prior.log_scale.net.2.bias"));
        Assert.Equal((PolicyFileError.MissingTensor, "prior.log_scale.net.2.bias"), (missing.Error, missing.Tensor));

        var extra = Reject(tensors.Append(SafetensorsTensor.F32("obs_norm.mean", [1], [0f])));
        Assert.Equal((PolicyFileError.UnexpectedTensor, "obs_norm.mean"), (extra.Error, extra.Tensor));

        var shaped = Reject(tensors.Select(t => t.Name == "flows.1.t.net.8.bias" ? SafetensorsTensor.F32(t.Name, [1, plain.Metadata.ActDim], new float[plain.Metadata.ActDim]) : t));
        Assert.Equal((PolicyFileError.WrongShape, "flows.1.t.net.8.bias"), (shaped.Error, shaped.Tensor));

        var typed = Reject(tensors.Select(t => t.Name == "flows.0.b" ? new SafetensorsTensor(t.Name, SafetensorsDtype.F64, t.Shape, new byte[t.Data.Length * 2]) : t));
        Assert.Equal((PolicyFileError.WrongDtype, "flows.0.b"), (typed.Error, typed.Tensor));

        // Metadata saying a different size makes every tensor the wrong shape.
        var resized = Reject(tensors, meta.Select(kv => kv.Key == "meow.hidden" ? new KeyValuePair<string, string>(kv.Key, "32") : kv));
        Assert.Equal(PolicyFileError.WrongShape, resized.Error);
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void A_mask_other_than_the_official_pattern_is_rejected()
    {
        var plain = PolicyFile.Load(GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0])).Weights);
        var e = Assert.Throws<PolicyFileException>(() => PolicyFile.Parse(WithValue(plain, "flows.1.b", 0, 1f)));
        Assert.Equal((PolicyFileError.InvalidMask, "flows.1.b"), (e.Error, e.Tensor));
    }

    [RequiresFact(Requirement.GoldenVectors)]
    public void Bad_metadata_is_rejected_with_the_key()
    {
        var plain = PolicyFile.Load(GoldenCase.Load(Path.GetFileName(SharedMaterial.GoldenCases()[0])).Weights);
        var tensors = plain.Tensors.Select(t => SafetensorsTensor.F32(t.Name, t.Shape.Select(d => (long)d).ToArray(), t.Values)).ToArray();
        var meta = plain.Metadata.ToEntries().ToArray();

        PolicyFileException With(string key, string? value)
        {
            var md = value is null ? meta.Where(kv => kv.Key != key) : meta.Where(kv => kv.Key != key).Append(new(key, value));
            return Assert.Throws<PolicyFileException>(() => PolicyFile.Parse(SafetensorsWriter.ToArray(tensors, md)));
        }

        Assert.Equal(PolicyFileError.MissingMetadata, With("meow.act_dim", null).Error);
        Assert.Equal(PolicyFileError.UnsupportedFormat, With("meow.format", "2").Error);
        Assert.Equal(PolicyFileError.InvalidMetadata, With("meow.obs_dim", "eleven").Error);
        Assert.Equal(PolicyFileError.InvalidMetadata, With("meow.obs_dim", "-3").Error);
        Assert.Equal(PolicyFileError.InvalidMetadata, With("meow.alpha", "nan").Error);
        Assert.Equal(PolicyFileError.InvalidMetadata, With("meow.sigma_min", "0").Error); // not below sigma_max
        Assert.Equal(PolicyFileError.InvalidMetadata, With("meow.layer_norm", "yes").Error);
        Assert.Equal(PolicyFileError.InvalidMetadata, With("meow.shift_hidden", "65536").Error); // 2^32 weights in one layer
        Assert.Equal(PolicyFileError.InvalidMetadata, With("meow.action.low", "0,0,0").Error); // high missing
        Assert.Equal(PolicyFileError.InvalidMetadata, With("meow.obs_norm.mean", "0").Error); // without meow.obs_norm
        Assert.Contains("meow.obs_dim", With("meow.obs_dim", "eleven").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_numbers_are_written_as_Python_writes_floats()
    {
        Assert.Equal("0.2", PolicyMetadata.PythonFloat(0.2));
        Assert.Equal("-5.0", PolicyMetadata.PythonFloat(-5.0));
        Assert.Equal("-0.3", PolicyMetadata.PythonFloat(-0.3));
        Assert.Equal("1e-05", PolicyMetadata.PythonFloat(1e-5));
        Assert.Equal("1.5e+300", PolicyMetadata.PythonFloat(1.5e300));
    }

    private static byte[] WithValue(PolicyFile policy, string tensor, int index, float value) =>
        SafetensorsWriter.ToArray(policy.Tensors.Select(t =>
        {
            var v = (float[])t.Values.Clone();
            if (t.Name == tensor) v[index] = value;
            return SafetensorsTensor.F32(t.Name, t.Shape.Select(d => (long)d).ToArray(), v);
        }).ToArray(), policy.Metadata.ToEntries());
}
