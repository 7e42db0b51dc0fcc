namespace MeowRobot.Tensors;

/// <summary>The operations the tape knows how to differentiate.</summary>
internal enum Op : byte
{
    Neg, Exp, Log, Tanh, Atanh, Sigmoid, Softplus, Square, Sqrt, Relu, Elu, Clamp, AddScalar, MulScalar, RSubScalar,
    Add, Sub, Mul, Div, Minimum, Maximum,
    Sum, // also Mean: a sum with a scale
    MatMul, Linear,
    Concat, Narrow, IndexColumns, RepeatRows,
    Activation, // [LayerNorm] → [Swish] → [Dropout]: LayerNorm, Swish, Dropout and the fused hidden block
    EluGrad, // g · elu'(x): ELU's backward step as an op of its own (recorded by a create-graph backward pass)
    Expand, // a row, column or scalar broadcast to a full shape (the backward step of sums and means)
    PairwiseSquaredDistances, WeightedPairwiseDifferences, GroupMatMul, RepeatEachRow, Reshape, // per-group pairwise ops (groups of P consecutive rows: particles of one state)
}

/// <summary>One recorded operation: its result, operands and the few constants its backward needs. Stored by value in
/// the tape's node array, so recording allocates nothing.</summary>
internal struct Node
{
    public Op Op;
    public Tensor Out;
    public Tensor A;
    public Tensor? B;
    public Tensor? C;
    public Tensor? D;
    public Tensor? Aux;
    public Tensor? Aux2;
    public Tensor? Aux3;
    public Tensor? Aux4;
    public float S0, S1;
    public ulong U0;
    public int I0, I1, I2;
    public int[]? Index;
}
