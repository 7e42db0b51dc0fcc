using System.Runtime.CompilerServices;

namespace MeowRobot.Tensors;

/// <summary>
/// A dense, row-major float32 tensor: a matrix [Rows, Cols] or a vector [Length] (rank 1, which broadcasts as a row
/// [1, Length]). Tensors you create with the constructors or factories are leaves that live until you drop them
/// (parameters, inputs); tensors returned by <see cref="Tape"/> operations live in the tape's arena and are valid only
/// until that tape's next <see cref="Tape.Reset"/>, after which their storage is reused.
/// </summary>
public sealed class Tensor
{
    internal float[] data;
    internal float[]? grad;
    internal Tape? owner;
    internal int epoch;          // owner's epoch when this arena tensor was handed out
    internal int gradGeneration; // owner's backward generation in which grad was last cleared
    internal bool requiresGrad;
    // Only this tensor's nonzero rows need a gradient: it is g · elu'(x) of a constant g (Tape.EluGrad), whose gradient
    // reaches x only multiplied by g again, so a row where it is zero passes nothing on. Set per use by the tape.
    internal bool zeroRowsNeedNoGradient;
    // Tape.Grad's bookkeeping (d output / d inputs as tape tensors): the pass that found this tensor on a path from
    // the inputs, and the pass whose gradient gradTensor holds.
    internal int reachPass, gradPass;
    internal Tensor? gradTensor;

    /// <summary>A zero-filled leaf tensor of shape [rows, cols].</summary>
    public Tensor(int rows, int cols, bool requiresGrad = false)
    {
        CheckShape(rows, cols);
        data = new float[rows * cols];
        Rows = rows;
        Cols = cols;
        this.requiresGrad = requiresGrad;
    }

    /// <summary>A zero-filled leaf vector of the given length (rank 1).</summary>
    public Tensor(int length, bool requiresGrad = false) : this(1, length, requiresGrad) => Rank = 1;

    /// <summary>A leaf matrix holding a copy of <paramref name="values"/> (row-major, rows*cols values).</summary>
    public static Tensor FromValues(int rows, int cols, ReadOnlySpan<float> values, bool requiresGrad = false)
    {
        var t = new Tensor(rows, cols, requiresGrad);
        if (values.Length != t.Length)
            throw new ArgumentException($"expected {t.Length} values for [{rows}, {cols}], got {values.Length}", nameof(values));
        values.CopyTo(t.data);
        return t;
    }

    /// <summary>A leaf vector (rank 1) holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromVector(ReadOnlySpan<float> values, bool requiresGrad = false)
    {
        var t = new Tensor(values.Length, requiresGrad);
        values.CopyTo(t.data);
        return t;
    }

    /// <summary>A leaf 1x1 tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(float value, bool requiresGrad = false)
    {
        var t = new Tensor(1, 1, requiresGrad);
        t.data[0] = value;
        return t;
    }

    internal Tensor(Tape owner)
    {
        data = [];
        this.owner = owner;
    }

    public int Rows { get; private set; }
    public int Cols { get; private set; }

    /// <summary>1 for a vector, 2 for a matrix.</summary>
    public int Rank { get; private set; } = 2;

    public int Length => Rows * Cols;

    /// <summary>The shape as PyTorch would print it: [Cols] for a vector, [Rows, Cols] for a matrix.</summary>
    public int[] Shape => Rank == 1 ? [Cols] : [Rows, Cols];

    /// <summary>Whether gradients flow to (and, for leaves, accumulate in) this tensor.</summary>
    public bool RequiresGrad
    {
        get => requiresGrad;
        set
        {
            if (owner is not null && value)
                throw new InvalidOperationException("only leaf tensors (not tape results) can be marked to require gradients; use Tape.Input(..., requiresGrad: true)");
            requiresGrad = value;
        }
    }

    /// <summary>True for tensors produced by a tape (arena storage, valid until the tape's next Reset).</summary>
    public bool IsTapeResult => owner is not null;

    /// <summary>The values, row-major.</summary>
    public Span<float> Values
    {
        get
        {
            CheckAlive();
            return data.AsSpan(0, Length);
        }
    }

    /// <summary>
    /// The gradient from the last <see cref="Tape.Backward(Tensor)"/>, same layout as <see cref="Values"/>; empty when no
    /// gradient has reached this tensor. Leaves accumulate across backward passes until <see cref="ZeroGrad"/> (as PyTorch);
    /// tape inputs hold the gradient of the latest backward pass only, until the tape's next Reset. A tape result's
    /// gradient is working storage that its operation's backward step consumes (empty afterwards, as PyTorch keeps no
    /// gradient for non-leaf tensors): to read d output / d x, make x a tape input.
    /// </summary>
    public Span<float> Grad
    {
        get
        {
            CheckAlive();
            if (grad is null) return [];
            if (owner is not null && gradGeneration != owner.BackwardGeneration) return [];
            return grad.AsSpan(0, Length);
        }
    }

    /// <summary>One row of a matrix (a view).</summary>
    public Span<float> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        return Values.Slice(row * Cols, Cols);
    }

    [IndexerName("At")]
    public float this[int row, int col]
    {
        get => Values[Index(row, col)];
        set => Values[Index(row, col)] = value;
    }

    [IndexerName("At")]
    public float this[int index]
    {
        get => Values[index];
        set => Values[index] = value;
    }

    /// <summary>The single value of a 1x1 tensor (or length-1 vector).</summary>
    public float Item()
    {
        if (Length != 1) throw new InvalidOperationException($"Item() needs a single value, tensor has shape {ShapeString}");
        return Values[0];
    }

    public float[] ToArray() => Values.ToArray();

    public void CopyFrom(ReadOnlySpan<float> values)
    {
        if (values.Length != Length) throw new ArgumentException($"expected {Length} values, got {values.Length}", nameof(values));
        values.CopyTo(Values);
    }

    public void Fill(float value) => Values.Fill(value);

    /// <summary>Clears the accumulated gradient of a leaf.</summary>
    public void ZeroGrad()
    {
        if (grad is not null) Array.Clear(grad, 0, Length);
    }

    /// <summary>A new leaf with a copy of the values (no gradient history).</summary>
    public Tensor Clone()
    {
        var t = Rank == 1 ? new Tensor(Cols) : new Tensor(Rows, Cols);
        Values.CopyTo(t.data);
        return t;
    }

    public string ShapeString => Rank == 1 ? $"[{Cols}]" : $"[{Rows}, {Cols}]";

    public override string ToString() => $"Tensor{ShapeString}";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Index(int row, int col)
    {
        if ((uint)row >= (uint)Rows || (uint)col >= (uint)Cols)
            throw new ArgumentOutOfRangeException(nameof(row), $"({row}, {col}) outside {ShapeString}");
        return row * Cols + col;
    }

    internal void CheckAlive()
    {
        if (owner is not null && epoch != owner.Epoch)
            throw new InvalidOperationException("this tensor came from a tape that has since been Reset (or from a transient scope that has ended); its storage is reused. Copy values out (ToArray/Clone) before.");
    }

    /// <summary>Gives an arena tensor a new shape, growing its storage when needed (steady state: never).</summary>
    internal void Reshape(int rows, int cols, int rank)
    {
        CheckShape(rows, cols);
        var n = rows * cols;
        if (data.Length < n) data = new float[n];
        Rows = rows;
        Cols = cols;
        Rank = rank;
    }

    /// <summary>The gradient buffer, allocated on first use (capacity follows data).</summary>
    internal float[] GradBuffer()
    {
        if (grad is null || grad.Length < Length) grad = new float[data.Length];
        return grad;
    }

    private static void CheckShape(int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentOutOfRangeException(nameof(rows), $"shape [{rows}, {cols}] must be positive");
    }
}
