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
            case Op.Concat or Op.Narrow or Op.IndexColumns or Op.RepeatRows: ShapeBackward(ref n); break;
            case Op.Activation: ActivationBackward(ref n); break;
            case Op.EluGrad: EluGradBackward(ref n); break;
            case Op.Expand: ExpandBackward(ref n); break;
            case Op.PairwiseSquaredDistances: PairwiseSquaredDistancesBackward(ref n); break;
            case Op.GroupMatMul: GroupMatMulBackward(ref n); break;
            case Op.WeightedPairwiseDifferences: WeightedPairwiseDifferencesBackward(ref n); break;
            case Op.RepeatEachRow: RepeatEachRowBackward(ref n); break;
            case Op.Reshape: AddTo(GradOf(n.A), OutGrad(ref n)); break;
            default: throw new InvalidOperationException(n.Op.ToString());
        }
    }

    private static Span<float> OutGrad(ref Node n) => n.Out.grad.AsSpan(0, n.Out.Length);
}
