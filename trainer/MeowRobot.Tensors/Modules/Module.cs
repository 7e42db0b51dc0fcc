namespace MeowRobot.Tensors.Modules;

/// <summary>A named tensor of a module tree, named as in PyTorch's <c>state_dict</c> (<c>net.0.weight</c>).</summary>
public readonly record struct NamedTensor(string Name, Tensor Tensor);

/// <summary>
/// A node of a model: its own parameters and buffers plus child modules, each registered under a name so that the
/// dotted paths reproduce PyTorch's <c>state_dict</c> keys. Order is PyTorch's: a module's own tensors (in
/// registration order), then each child's, recursively.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Tensor, bool Trainable)> own = [];
    private readonly List<(string Name, Module Module)> children = [];

    /// <summary>Training mode (dropout active) or evaluation mode; see <see cref="Train"/> and <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Sets training mode on this module and every descendant, as <c>module.train(mode)</c>.</summary>
    public void Train(bool mode = true)
    {
        Training = mode;
        foreach (var (_, m) in children) m.Train(mode);
    }

    public void Eval() => Train(false);

    /// <summary>Registers a trainable tensor (marks it as requiring gradients).</summary>
    protected Tensor RegisterParameter(string name, Tensor tensor)
    {
        CheckName(name);
        if (tensor.IsTapeResult) throw new ArgumentException("parameters must be leaf tensors", nameof(tensor));
        tensor.RequiresGrad = true;
        own.Add((name, tensor, true));
        return tensor;
    }

    /// <summary>Registers a tensor that belongs to the state (saved and loaded) but is not trained, e.g. a coupling mask.</summary>
    protected Tensor RegisterBuffer(string name, Tensor tensor)
    {
        CheckName(name);
        if (tensor.IsTapeResult) throw new ArgumentException("buffers must be leaf tensors", nameof(tensor));
        own.Add((name, tensor, false));
        return tensor;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(module);
        children.Add((name, module));
        module.Train(Training);
        return module;
    }

    /// <summary>Every tensor of the state (parameters and buffers) with its full name, in state_dict order.</summary>
    public IReadOnlyList<NamedTensor> StateEntries()
    {
        var list = new List<NamedTensor>();
        Collect(list, "", trainableOnly: false);
        return list;
    }

    /// <summary>The trainable tensors with their full names, in state_dict order (<c>named_parameters()</c>).</summary>
    public IReadOnlyList<NamedTensor> NamedParameters()
    {
        var list = new List<NamedTensor>();
        Collect(list, "", trainableOnly: true);
        return list;
    }

    /// <summary>The trainable tensors in state_dict order: what the optimiser, clipping and Polyak averaging take.</summary>
    public IReadOnlyList<Tensor> Parameters() => NamedParameters().Select(p => p.Tensor).ToArray();

    /// <summary>The mask streams of every <see cref="Dropout"/> in this module tree, in module (state_dict) order: the
    /// generator state outside the tensors, which a checkpoint needs for a resumed run to draw the same masks.</summary>
    public IReadOnlyList<Rng> DropoutStreams()
    {
        var list = new List<Rng>();
        CollectDropoutStreams(list);
        return list;
    }

    /// <summary>Copies of every state tensor by name (row-major values).</summary>
    public Dictionary<string, float[]> StateDict() => StateEntries().ToDictionary(e => e.Name, e => e.Tensor.ToArray(), StringComparer.Ordinal);

    /// <summary>
    /// Loads values by name. Every state tensor must be present with exactly its element count; with
    /// <paramref name="strict"/>, names the model does not have are an error too. Nothing is changed when any check fails.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, float[]> values, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(values);
        var entries = StateEntries();
        var problems = new List<string>();
        foreach (var e in entries)
        {
            if (!values.TryGetValue(e.Name, out var v)) problems.Add($"missing '{e.Name}'");
            else if (v.Length != e.Tensor.Length) problems.Add($"'{e.Name}' has {v.Length} values, the model expects {e.Tensor.Length} ({e.Tensor.ShapeString})");
        }
        if (strict)
        {
            var known = entries.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
            problems.AddRange(values.Keys.Where(k => !known.Contains(k)).Order(StringComparer.Ordinal).Select(k => $"unexpected '{k}'"));
        }
        if (problems.Count > 0) throw new StateDictException(problems);
        foreach (var e in entries) e.Tensor.CopyFrom(values[e.Name]);
    }

    /// <summary>Copies every state tensor from a module of the same structure (e.g. to initialise a target network).</summary>
    public void CopyStateFrom(Module source)
    {
        var mine = StateEntries();
        var theirs = source.StateEntries();
        if (mine.Count != theirs.Count) throw new ArgumentException("modules differ in structure", nameof(source));
        for (var i = 0; i < mine.Count; i++)
        {
            if (mine[i].Name != theirs[i].Name || mine[i].Tensor.Length != theirs[i].Tensor.Length)
                throw new ArgumentException($"modules differ at '{mine[i].Name}' / '{theirs[i].Name}'", nameof(source));
            mine[i].Tensor.CopyFrom(theirs[i].Tensor.Values);
        }
    }

    /// <summary>
    /// Makes every state tensor of this module use the storage of <paramref name="source"/>'s tensor of the same name and
    /// shape (no copy): values written to either, by an optimiser, <see cref="LoadStateDict"/> or
    /// <see cref="CopyStateFrom"/>, are seen by both. Gradients, training mode and dropout streams stay this module's own,
    /// so a replica can run a share of a batch on another thread while its gradients are kept apart.
    /// </summary>
    public void ShareStateWith(Module source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var mine = StateEntries();
        var theirs = source.StateEntries();
        if (mine.Count != theirs.Count) throw new ArgumentException($"modules differ in structure ({mine.Count} vs {theirs.Count} state tensors)", nameof(source));
        for (var i = 0; i < mine.Count; i++)
        {
            Tensor a = mine[i].Tensor, b = theirs[i].Tensor;
            if (mine[i].Name != theirs[i].Name || a.Rank != b.Rank || a.Rows != b.Rows || a.Cols != b.Cols)
                throw new ArgumentException($"modules differ at '{mine[i].Name}' {a.ShapeString} / '{theirs[i].Name}' {b.ShapeString}", nameof(source));
        }
        for (var i = 0; i < mine.Count; i++) mine[i].Tensor.data = theirs[i].Tensor.data;
    }

    private void Collect(List<NamedTensor> list, string prefix, bool trainableOnly)
    {
        foreach (var (name, t, trainable) in own)
            if (trainable || !trainableOnly) list.Add(new NamedTensor(prefix + name, t));
        foreach (var (name, m) in children) m.Collect(list, prefix + name + ".", trainableOnly);
    }

    private void CollectDropoutStreams(List<Rng> list)
    {
        if (this is Dropout dropout) list.Add(dropout.Stream);
        foreach (var (_, m) in children) m.CollectDropoutStreams(list);
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.')) throw new ArgumentException($"'{name}' is not a valid member name", nameof(name));
        if (own.Any(o => o.Name == name) || children.Any(c => c.Name == name)) throw new ArgumentException($"'{name}' is already registered", nameof(name));
    }
}

/// <summary>A module with one input and one output.</summary>
public abstract class Layer : Module
{
    public abstract Tensor Forward(Tape tape, Tensor x);
}

/// <summary>A state dict that does not fit the model: every problem, listed.</summary>
public sealed class StateDictException(IReadOnlyList<string> problems)
    : Exception("state dict does not match the model: " + string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
