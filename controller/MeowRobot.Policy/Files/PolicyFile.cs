using MeowRobot.Policy.Safetensors;

namespace MeowRobot.Policy.Files;

/// <summary>A named F32 tensor of a policy: official name, shape, row-major values.</summary>
public sealed record PolicyTensor(string Name, int[] Shape, float[] Values);

/// <summary>A policy of one of the algorithms (<see cref="PolicyMetadata.Algorithm"/>): the official implementation's parameters (exactly its state-dict names and shapes) plus typed
/// metadata in the algorithm's namespace, stored as safetensors. Everything beyond the state dict (observation
/// normalisation, action scaling, identity) lives in metadata, so a saved file loads into the official PyTorch modules with
/// <c>safetensors.torch.load_file</c> + strict <c>load_state_dict</c>. Instances are immutable once validated
/// (do not mutate the arrays you passed in or read out).</summary>
public sealed class PolicyFile
{
    /// <summary>Default size cap when reading from disk (a (376, 17) policy is ~2 MB).</summary>
    public const long DefaultMaxBytes = 256L << 20;

    private readonly Dictionary<string, PolicyTensor> _byName;

    /// <summary>Builds and validates a policy: every tensor of <see cref="PolicyLayout.Tensors"/> present with its shape,
    /// no others, all values finite, masks the official ones.</summary>
    /// <exception cref="PolicyFileException">The first problem found, naming the tensor.</exception>
    public PolicyFile(PolicyMetadata metadata, IEnumerable<PolicyTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        metadata.Validate();
        var given = new Dictionary<string, PolicyTensor>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!given.TryAdd(t.Name, t))
                throw new PolicyFileException(PolicyFileError.UnexpectedTensor, $"tensor '{t.Name}' given twice", t.Name);
        }
        var ordered = new List<PolicyTensor>();
        var coupling = 0; // masks come in coupling order
        foreach (var spec in PolicyLayout.Tensors(metadata))
        {
            if (!given.Remove(spec.Name, out var t))
                throw new PolicyFileException(PolicyFileError.MissingTensor, $"tensor '{spec.Name}' [{string.Join(",", spec.Shape)}] is missing", spec.Name);
            if (!t.Shape.AsSpan().SequenceEqual(spec.Shape) || t.Values.Length != spec.ElementCount)
                throw new PolicyFileException(PolicyFileError.WrongShape,
                    $"tensor '{spec.Name}' has shape [{string.Join(",", t.Shape)}] ({t.Values.Length} values); the metadata implies [{string.Join(",", spec.Shape)}]", spec.Name);
            var bad = FirstNonFinite(t.Values);
            if (bad >= 0)
                throw new PolicyFileException(PolicyFileError.NonFinite, $"tensor '{spec.Name}' holds {t.Values[bad]} at flat index {bad}", spec.Name);
            if (spec.Role == PolicyTensorRole.CouplingMask)
            {
                if (!t.Values.AsSpan().SequenceEqual(PolicyLayout.Mask(coupling++, metadata.ActDim)))
                    throw new PolicyFileException(PolicyFileError.InvalidMask, $"mask '{spec.Name}' is [{string.Join(",", t.Values)}], not the official alternating pattern", spec.Name);
            }
            ordered.Add(t);
        }
        if (given.Count > 0)
        {
            var name = given.Keys.Order(StringComparer.Ordinal).First();
            throw new PolicyFileException(PolicyFileError.UnexpectedTensor,
                $"tensor '{name}' is not part of the architecture the metadata describes ({given.Count} unexpected in all)", name);
        }
        if (metadata.Algorithm == PolicyAlgorithm.Sac) CheckActionBuffers(metadata, ordered);
        Metadata = metadata;
        Tensors = ordered;
        _byName = ordered.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public PolicyMetadata Metadata { get; }

    /// <summary>Tensors in canonical order (<see cref="PolicyLayout.Tensors"/>).</summary>
    public IReadOnlyList<PolicyTensor> Tensors { get; }

    public PolicyTensor this[string name] => _byName.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"policy has no tensor '{name}'");

    public bool TryGet(string name, out PolicyTensor tensor) => _byName.TryGetValue(name, out tensor!);

    /// <summary>Parses and validates policy file bytes.</summary>
    /// <exception cref="PolicyFileException">Any problem; a format violation has <see cref="PolicyFileError.Malformed"/> and
    /// the <see cref="SafetensorsException"/> as inner exception.</exception>
    public static PolicyFile Parse(ReadOnlyMemory<byte> bytes)
    {
        SafetensorsFile file;
        try
        {
            file = SafetensorsFile.Parse(bytes);
        }
        catch (SafetensorsException e)
        {
            throw new PolicyFileException(PolicyFileError.Malformed, e.Message, null, e);
        }
        return FromSafetensors(file);
    }

    /// <summary>Reads and validates a policy file from disk (refusing files over <paramref name="maxBytes"/>).</summary>
    /// <exception cref="PolicyFileException">Invalid.</exception>
    /// <exception cref="IOException">Unreadable.</exception>
    public static PolicyFile Load(string path, long maxBytes = DefaultMaxBytes)
    {
        SafetensorsFile file;
        try
        {
            file = SafetensorsFile.Read(path, maxBytes);
        }
        catch (SafetensorsException e)
        {
            throw new PolicyFileException(PolicyFileError.Malformed, $"{path}: {e.Message}", null, e);
        }
        return FromSafetensors(file);
    }

    private static PolicyFile FromSafetensors(SafetensorsFile file)
    {
        var metadata = PolicyMetadata.FromEntries(file.Header.MetadataEntries);
        var tensors = new List<PolicyTensor>(file.Header.Tensors.Count);
        foreach (var info in file.Header.Tensors)
        {
            if (info.Dtype != SafetensorsDtype.F32)
                throw new PolicyFileException(PolicyFileError.WrongDtype, $"tensor '{info.Name}' is {info.Dtype}; policies are F32", info.Name);
            if (info.Shape.Any(d => d > int.MaxValue))
                throw new PolicyFileException(PolicyFileError.WrongShape, $"tensor '{info.Name}' has a dimension over 2^31", info.Name);
            tensors.Add(new PolicyTensor(info.Name, info.Shape.Select(d => (int)d).ToArray(), file.ReadF32(info.Name)));
        }
        return new PolicyFile(metadata, tensors);
    }

    /// <summary>A random policy with PyTorch's default initialisation: Linear weights and biases uniform in ±1/sqrt(fan_in),
    /// LayerNorm weight 1 and bias 0, Swish beta 1, the official masks. Deterministic for a seed. Not the official MEow
    /// initialisation (the trainer's FlowPolicy makes that one), whose zero weights in the prior would give every state the
    /// same σ: benchmarks and random-policy runs want a policy that depends on its input.</summary>
    public static PolicyFile Initialized(PolicyMetadata metadata, int seed)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var rng = new Random(seed);
        var coupling = 0;
        var fanIn = 1;
        var tensors = new List<PolicyTensor>();
        foreach (var spec in PolicyLayout.Tensors(metadata))
        {
            if (spec.Role == PolicyTensorRole.LinearWeight) fanIn = spec.Shape[1]; // a Linear's bias follows its weight
            var bound = 1 / Math.Sqrt(fanIn);
            var values = spec.Role switch
            {
                PolicyTensorRole.CouplingMask => PolicyLayout.Mask(coupling++, metadata.ActDim),
                PolicyTensorRole.LinearWeight or PolicyTensorRole.LinearBias =>
                    Enumerable.Range(0, spec.ElementCount).Select(_ => (float)((rng.NextDouble() * 2 - 1) * bound)).ToArray(),
                PolicyTensorRole.LayerNormBias => new float[spec.ElementCount],
                PolicyTensorRole.ActionScale => SacLayout.ActionBuffers(metadata).Scale,
                PolicyTensorRole.ActionBias => SacLayout.ActionBuffers(metadata).Bias,
                _ => Enumerable.Repeat(1f, spec.ElementCount).ToArray(),
            };
            tensors.Add(new PolicyTensor(spec.Name, spec.Shape, values));
        }
        return new PolicyFile(metadata, tensors);
    }

    /// <summary>The safetensors bytes: canonical tensor order, metadata as <see cref="PolicyMetadata.ToEntries"/>.</summary>
    public byte[] ToBytes() => SafetensorsWriter.ToArray(
        Tensors.Select(t => SafetensorsTensor.F32(t.Name, t.Shape.Select(d => (long)d).ToArray(), t.Values)).ToArray(),
        Metadata.ToEntries());

    /// <summary>Writes the file atomically (a temporary file beside it, then a rename), so a reader never sees half a policy.</summary>
    public void Save(string path)
    {
        var full = Path.GetFullPath(path);
        var tmp = full + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(tmp, ToBytes());
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>The official actor's action buffers must be a positive scale and, where the metadata has an action box,
    /// the scale and bias of that box.</summary>
    private static void CheckActionBuffers(PolicyMetadata m, List<PolicyTensor> tensors)
    {
        var scale = tensors.First(t => t.Name == SacLayout.ActionScale).Values;
        var bias = tensors.First(t => t.Name == SacLayout.ActionBias).Values;
        if (scale.Any(v => !(v > 0f)))
            throw new PolicyFileException(PolicyFileError.InvalidActionBuffers, $"'{SacLayout.ActionScale}' must be positive, is [{string.Join(",", scale)}]", SacLayout.ActionScale);
        if (m.ActionScale is null) return;
        var (wantScale, wantBias) = SacLayout.ActionBuffers(m);
        if (!scale.AsSpan().SequenceEqual(wantScale) || !bias.AsSpan().SequenceEqual(wantBias))
            throw new PolicyFileException(PolicyFileError.InvalidActionBuffers,
                $"'{SacLayout.ActionScale}'/'{SacLayout.ActionBias}' are [{string.Join(",", scale)}]/[{string.Join(",", bias)}], the action box says [{string.Join(",", wantScale)}]/[{string.Join(",", wantBias)}]",
                SacLayout.ActionScale);
    }

    private static int FirstNonFinite(float[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) return i;
        }
        return -1;
    }
}
