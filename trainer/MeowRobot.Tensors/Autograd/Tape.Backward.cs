namespace MeowRobot.Tensors;

public sealed partial class Tape
{
    private void RunBackward(ref Node n)
    {
        switch (n.Op)
        {
            case <= Op.RSubScalar: UnaryBackward(ref n); break;
            case <= Op.Maximum: BinaryBackward(ref n); break;
            case Op.Sum: ReduceBackward(ref n); break;
            case Op.MatMul: MatMulBackward(ref n); break;
            case Op.Linear: LinearBackward(ref n); break;
            case Op.Concat or Op.Narrow or Op.IndexColumns: ShapeBackward(ref n); break;
            case Op.LayerNorm: LayerNormBackward(ref n); break;
            case Op.Swish: SwishBackward(ref n); break;
            case Op.Dropout: DropoutBackward(ref n); break;
            default: throw new InvalidOperationException(n.Op.ToString());
        }
    }

    private static Span<float> OutGrad(ref Node n) => n.Out.grad.AsSpan(0, n.Out.Length);
}
