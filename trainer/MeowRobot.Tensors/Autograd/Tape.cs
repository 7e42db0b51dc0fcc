namespace MeowRobot.Tensors;

/// <summary>
/// Records operations for reverse-mode differentiation and owns the storage of their results.
/// <para>
/// One tape serves one computation that is repeated every step (a training update, an inference call): call
/// <see cref="Reset"/> at the start of the step, run the forward pass through the tape's operations, then
/// <see cref="Backward(Tensor)"/>. Results live in an arena that is handed out again, in the same order, after each
/// Reset, so a step that repeats the same sequence of shapes allocates nothing once warm. Operations are recorded only
/// when an input requires a gradient and no <see cref="NoGrad"/> scope is open.
/// </para>
/// <para>
/// A step's tensors far outgrow the caches, so storage is handed on while it is still in cache where that is safe: a
/// result's gradient buffer, once its operation's backward step has consumed it, goes to the next gradient of that size;
/// a <see cref="Transient"/> scope's results go to the operations after it.
/// </para>
/// <para>Not thread-safe: one tape per thread.</para>
/// </summary>
public sealed partial class Tape
{
    private readonly List<Tensor> arena = [];
    private int cursor;
    private Node[] nodes = new Node[64];
    private int nodeCount;
    private readonly List<Tensor> savedLists = [];
    private int noGradDepth;
    private float[] scratchA = [], scratchB = [], scratchC = [];
    private readonly Dictionary<int, Stack<float[]>> gradientPool = [];

    internal int Epoch { get; private set; } = 1;
    internal int BackwardGeneration { get; private set; }

    /// <summary>Whether operations are being recorded (no open <see cref="NoGrad"/> scope).</summary>
    public bool IsRecording => noGradDepth == 0;

    /// <summary>Number of operations recorded since the last Reset.</summary>
    public int RecordedOperations => nodeCount;

    /// <summary>Number of tensors the arena holds (grows until the step's shape sequence has been seen once).</summary>
    public int ArenaTensors => arena.Count;

    /// <summary>
    /// Starts a new step: forgets the recorded operations and hands the arena out again. Every tensor this tape returned
    /// before becomes invalid (using one throws).
    /// </summary>
    public void Reset()
    {
        for (var i = 0; i < cursor; i++) ReleaseGradient(arena[i]);
        Epoch++;
        cursor = 0;
        nodeCount = 0;
        savedLists.Clear();
    }

    /// <summary>
    /// Opens a scope (use with <c>using</c>) in which nothing is recorded and results do not require gradients, like
    /// <c>torch.no_grad()</c>. Scopes nest.
    /// </summary>
    public NoGradScope NoGrad()
    {
        noGradDepth++;
        return new NoGradScope(this);
    }

    public readonly struct NoGradScope : IDisposable
    {
        private readonly Tape tape;
        internal NoGradScope(Tape tape) => this.tape = tape;
        public void Dispose() => tape.noGradDepth--;
    }

    /// <summary>
    /// Opens a scope (use with <c>using</c>) whose results are dead when it ends: the arena hands their storage out again
    /// to the next operations, while it is still in cache, instead of to tensors last touched a whole step ago (a forward
    /// pass under <see cref="NoGrad"/> whose outputs are copied out, such as a TD target). Using one of its tensors after
    /// the scope throws; recording an operation inside it is an error (the scope's tensors would be reused under the tape).
    /// </summary>
    public TransientScope Transient() => new(this, cursor, nodeCount, savedLists.Count, dropsOperations: false);

    /// <summary>
    /// Opens a scope (use with <c>using</c>) that is forgotten when it ends, recorded operations included: a
    /// <see cref="Transient"/> scope in which operations may be recorded (and differentiated with <see cref="Grad"/>), for
    /// one step of an iteration whose results are copied out to tensors made before it (the TD target's SVGD steps, each
    /// a fresh gradient root). Every step then runs in the same arena storage, still in cache. No operation recorded
    /// before the scope may take part in a backward pass after it that would reach the scope's operations (none can:
    /// the scope's results are dead).
    /// </summary>
    public TransientScope Scratch() => new(this, cursor, nodeCount, savedLists.Count, dropsOperations: true);

    public readonly struct TransientScope : IDisposable
    {
        private readonly Tape tape;
        private readonly int cursor, nodes, lists;
        private readonly bool dropsOperations;

        internal TransientScope(Tape tape, int cursor, int nodes, int lists, bool dropsOperations) =>
            (this.tape, this.cursor, this.nodes, this.lists, this.dropsOperations) = (tape, cursor, nodes, lists, dropsOperations);

        public void Dispose()
        {
            if (!dropsOperations && tape.nodeCount != nodes) throw new InvalidOperationException("operations were recorded inside a transient scope; open it inside NoGrad()");
            for (var i = cursor; i < tape.cursor; i++)
            {
                tape.ReleaseGradient(tape.arena[i]); // an input's, when one was the root of a backward pass in the scope
                tape.arena[i].epoch = 0; // no tape epoch is 0: CheckAlive rejects them
            }
            tape.cursor = cursor;
            tape.nodeCount = nodes;
            tape.savedLists.RemoveRange(lists, tape.savedLists.Count - lists);
        }
    }

    /// <summary>An arena copy of <paramref name="values"/> as a [rows, cols] tensor, optionally requiring a gradient
    /// (for gradients with respect to inputs, e.g. dQ/da). Its gradient holds the latest backward pass only.</summary>
    public Tensor Input(ReadOnlySpan<float> values, int rows, int cols, bool requiresGrad = false)
    {
        var t = Alloc(rows, cols);
        if (values.Length != t.Length)
            throw new ArgumentException($"expected {t.Length} values for [{rows}, {cols}], got {values.Length}", nameof(values));
        values.CopyTo(t.data);
        t.requiresGrad = requiresGrad;
        return t;
    }

    /// <summary>An arena copy of a leaf (or earlier result) with no history; optionally a new gradient root.</summary>
    public Tensor Input(Tensor source, bool requiresGrad = false)
    {
        Use(source);
        var t = Alloc(source.Rows, source.Cols, source.Rank);
        source.data.AsSpan(0, source.Length).CopyTo(t.data);
        t.requiresGrad = requiresGrad;
        return t;
    }

    /// <summary>A [rows, cols] arena tensor filled with <paramref name="value"/> (a constant).</summary>
    public Tensor Full(int rows, int cols, float value)
    {
        var t = Alloc(rows, cols);
        t.data.AsSpan(0, t.Length).Fill(value);
        return t;
    }

    public Tensor Zeros(int rows, int cols) => Full(rows, cols, 0f);

    /// <summary>The result without history: same values, no gradient flows back through it (<c>tensor.detach()</c>).</summary>
    public Tensor Detach(Tensor x) => Input(x);

    /// <summary>
    /// Back-propagates from a single-valued <paramref name="loss"/> (seed 1): every tensor on the path that requires a
    /// gradient receives d loss / d tensor in <see cref="Tensor.Grad"/>. Leaves accumulate; call ZeroGrad on them (or
    /// the optimiser's) between steps.
    /// </summary>
    public void Backward(Tensor loss)
    {
        if (loss.Length != 1) throw new ArgumentException($"Backward(loss) needs a single value; got {loss.ShapeString}. Use Backward(output, outputGrad) for a vector-Jacobian product.", nameof(loss));
        Span<float> seed = stackalloc float[1];
        seed[0] = 1f;
        Backward(loss, seed);
    }

    /// <summary>Back-propagates <paramref name="outputGrad"/> (same layout as <paramref name="output"/>): the
    /// vector-Jacobian product.</summary>
    public void Backward(Tensor output, ReadOnlySpan<float> outputGrad)
    {
        Use(output);
        if (output.owner != this || !output.requiresGrad)
            throw new InvalidOperationException("the output does not depend on any tensor that requires a gradient (or was computed under NoGrad)");
        if (outputGrad.Length != output.Length) throw new ArgumentException($"expected {output.Length} gradient values", nameof(outputGrad));
        BackwardGeneration++;
        outputGrad.CopyTo(GradOf(output));
        for (var i = nodeCount - 1; i >= 0; i--)
        {
            ref var node = ref nodes[i];
            if (node.Out.gradGeneration != BackwardGeneration) continue; // no gradient reached this result
            RunBackward(ref node);
            ReleaseGradient(node.Out);
        }
    }

    internal Tensor Alloc(int rows, int cols, int rank = 2)
    {
        Tensor t;
        if (cursor < arena.Count) t = arena[cursor];
        else
        {
            t = new Tensor(this);
            arena.Add(t);
        }
        cursor++;
        t.Reshape(rows, cols, rank);
        t.epoch = Epoch;
        t.gradGeneration = -1;
        t.requiresGrad = false;
        t.zeroRowsNeedNoGradient = false;
        return t;
    }

    internal Tensor AllocLike(Tensor x) => Alloc(x.Rows, x.Cols, x.Rank);

    /// <summary>Checks that an operand may be used here: a leaf, or a live result of this tape.</summary>
    internal void Use(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.owner is null) return;
        if (t.owner != this) throw new InvalidOperationException("a tensor from another tape was passed in; use Input(...) to copy it");
        t.CheckAlive();
    }

    internal bool Tracks(Tensor a) => noGradDepth == 0 && a.requiresGrad;
    internal bool Tracks(Tensor a, Tensor? b) => noGradDepth == 0 && (a.requiresGrad || (b?.requiresGrad ?? false));
    internal bool Tracks(Tensor a, Tensor? b, Tensor? c) => noGradDepth == 0 && (a.requiresGrad || (b?.requiresGrad ?? false) || (c?.requiresGrad ?? false));

    /// <summary>Records an operation whose result is <paramref name="output"/>; callers fill the extra fields.</summary>
    internal ref Node Record(Op op, Tensor output, Tensor a, Tensor? b = null, Tensor? c = null)
    {
        if (nodeCount == nodes.Length) Array.Resize(ref nodes, nodes.Length * 2);
        output.requiresGrad = true;
        ref var n = ref nodes[nodeCount++];
        n = default;
        n.Op = op;
        n.Out = output;
        n.A = a;
        n.B = b;
        n.C = c;
        return ref n;
    }

    /// <summary>The gradient of <paramref name="t"/> for accumulation: a tape tensor's buffer is cleared the first time
    /// a backward pass touches it; a leaf's buffer keeps accumulating.</summary>
    internal Span<float> GradOf(Tensor t)
    {
        var g = GradOf(t, out var overwrite);
        if (overwrite) g.Clear();
        return g;
    }

    /// <summary>The gradient of <paramref name="t"/> for an operation that can either accumulate into it or, when
    /// <paramref name="overwrite"/> is true (a tape tensor no backward step has touched yet), write every element
    /// outright: this skips clearing buffers that are about to be overwritten (the large hidden activations).</summary>
    internal Span<float> GradOf(Tensor t, out bool overwrite)
    {
        var g = t.owner == this ? t.grad ??= TakeGradient(t.Length) : t.GradBuffer();
        overwrite = t.owner is not null && t.gradGeneration != BackwardGeneration;
        t.gradGeneration = BackwardGeneration;
        return g.AsSpan(0, t.Length);
    }

    /// <summary>
    /// A gradient buffer for a tape tensor, the one of its length given back last. A result's gradient is working storage:
    /// it is consumed by its operation's backward step and then given back, so the next gradient of that size is written
    /// into memory that was just read (in cache) rather than into a buffer untouched since the last step.
    /// </summary>
    private float[] TakeGradient(int length) =>
        gradientPool.TryGetValue(length, out var free) && free.TryPop(out var buffer) ? buffer : new float[length];

    private void ReleaseGradient(Tensor t)
    {
        if (t.grad is not { } buffer) return;
        t.grad = null;
        if (!gradientPool.TryGetValue(buffer.Length, out var free)) gradientPool[buffer.Length] = free = new Stack<float[]>();
        free.Push(buffer);
    }

    internal Span<float> Scratch(ref float[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new float[Math.Max(length, buffer.Length * 2)];
        return buffer.AsSpan(0, length);
    }

    internal Span<float> ScratchA(int length) => Scratch(ref scratchA, length);
    internal Span<float> ScratchB(int length) => Scratch(ref scratchB, length);
    internal Span<float> ScratchC(int length) => Scratch(ref scratchC, length);

    internal static Span<float> Val(Tensor t) => t.data.AsSpan(0, t.Length);
}
