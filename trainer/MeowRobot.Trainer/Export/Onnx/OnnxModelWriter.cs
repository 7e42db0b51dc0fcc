using MeowRobot.Trainer.Reporting.TensorBoard;

namespace MeowRobot.Trainer.Export.Onnx;

/// <summary>
/// Serialises an <see cref="OnnxGraph"/> as an ONNX ModelProto (onnx/onnx.proto, IR version 8) with our own protobuf
/// writer (<see cref="ProtoWriter"/>, shared with the TensorBoard event files; no generated code): the handful of
/// messages a float32 feed-forward graph needs, their field numbers below as onnx.proto gives them. Constants are
/// initializers with raw little-endian data; repeated int64 fields are written unpacked (proto2's default encoding).
/// </summary>
public static class OnnxModelWriter
{
    // ModelProto
    private const int ModelIrVersion = 1, ModelProducerName = 2, ModelProducerVersion = 3, ModelDocString = 6, ModelGraph = 7,
        ModelOpsetImport = 8, ModelMetadataProps = 14;
    // OperatorSetIdProto, StringStringEntryProto
    private const int OpsetDomain = 1, OpsetVersion = 2, EntryKey = 1, EntryValue = 2;
    // GraphProto
    private const int GraphNode = 1, GraphName = 2, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12;
    // NodeProto
    private const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeAttribute = 5;
    // AttributeProto and its AttributeType values
    private const int AttrName = 1, AttrF = 2, AttrI = 3, AttrType = 20, TypeFloat = 1, TypeInt = 2;
    // TensorProto and its DataType FLOAT
    private const int TensorDims = 1, TensorDataType = 2, TensorName = 8, TensorRawData = 9, DataTypeFloat = 1;
    // ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto, TensorShapeProto.Dimension
    private const int ValueName = 1, ValueType = 2, TypeTensorType = 1, TensorElemType = 1, TensorShape = 2, ShapeDim = 1,
        DimValue = 1, DimParam = 2;

    /// <summary>Producer and documentation of a model, and its metadata_props (key → value, in order).</summary>
    public sealed record ModelInfo(string ProducerName, string ProducerVersion, string DocString, IReadOnlyList<KeyValuePair<string, string>> Metadata);

    public static byte[] ToBytes(OnnxGraph graph, ModelInfo info)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(info);
        // The weights' bytes plus room for names and structure; a model that does not fit is written again, twice as big.
        var size = graph.Constants.Sum(c => 4L * c.Values.Length) + 65_536;
        while (true)
        {
            var buffer = new byte[checked((int)size)];
            var w = new ProtoWriter(buffer);
            Write(ref w, graph, info);
            if (!w.Overflowed) return w.WrittenSpan.ToArray();
            size *= 2;
        }
    }

    private static void Write(ref ProtoWriter w, OnnxGraph graph, ModelInfo info)
    {
        w.Int64(ModelIrVersion, OnnxGraph.IrVersion);
        w.String(ModelProducerName, info.ProducerName);
        w.String(ModelProducerVersion, info.ProducerVersion);
        w.String(ModelDocString, info.DocString);
        var g = w.BeginMessage(ModelGraph);
        WriteGraph(ref w, graph);
        w.EndMessage(g);
        var opset = w.BeginMessage(ModelOpsetImport);
        w.String(OpsetDomain, "");
        w.Int64(OpsetVersion, OnnxGraph.Opset);
        w.EndMessage(opset);
        foreach (var (key, value) in info.Metadata)
        {
            var e = w.BeginMessage(ModelMetadataProps);
            w.String(EntryKey, key);
            w.String(EntryValue, value);
            w.EndMessage(e);
        }
    }

    private static void WriteGraph(ref ProtoWriter w, OnnxGraph graph)
    {
        for (var n = 0; n < graph.Nodes.Count; n++)
        {
            var node = graph.Nodes[n];
            var m = w.BeginMessage(GraphNode);
            foreach (var i in node.Inputs) w.String(NodeInput, i);
            foreach (var o in node.Outputs) w.String(NodeOutput, o);
            w.String(NodeName, $"{node.Op}_node_{n}");
            w.String(NodeOpType, node.Op);
            foreach (var a in node.Attributes) WriteAttribute(ref w, a);
            w.EndMessage(m);
        }
        w.String(GraphName, graph.Name);
        foreach (var c in graph.Constants) WriteTensor(ref w, c);
        foreach (var v in graph.Inputs) WriteValueInfo(ref w, GraphInput, v);
        foreach (var v in graph.Outputs) WriteValueInfo(ref w, GraphOutput, v);
    }

    private static void WriteAttribute(ref ProtoWriter w, OnnxAttribute a)
    {
        var m = w.BeginMessage(NodeAttribute);
        w.String(AttrName, a.Name);
        if (a.Float is { } f)
        {
            w.Float(AttrF, f);
            w.Int64(AttrType, TypeFloat);
        }
        else
        {
            w.Int64(AttrI, a.Int ?? throw new ArgumentException($"attribute {a.Name} has no value", nameof(a)));
            w.Int64(AttrType, TypeInt);
        }
        w.EndMessage(m);
    }

    private static void WriteTensor(ref ProtoWriter w, OnnxTensor t)
    {
        var m = w.BeginMessage(GraphInitializer);
        foreach (var d in t.Dims) w.Int64(TensorDims, d);
        w.Int64(TensorDataType, DataTypeFloat);
        w.String(TensorName, t.Name);
        var raw = new byte[t.Values.Length * sizeof(float)];
        for (var i = 0; i < t.Values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), t.Values[i]);
        w.Bytes(TensorRawData, raw);
        w.EndMessage(m);
    }

    // A float32 tensor [batch, columns], batch symbolic.
    private static void WriteValueInfo(ref ProtoWriter w, int field, OnnxValue v)
    {
        var info = w.BeginMessage(field);
        w.String(ValueName, v.Name);
        var type = w.BeginMessage(ValueType);
        var tensor = w.BeginMessage(TypeTensorType);
        w.Int64(TensorElemType, DataTypeFloat);
        var shape = w.BeginMessage(TensorShape);
        var batch = w.BeginMessage(ShapeDim);
        w.String(DimParam, OnnxGraph.BatchDimension);
        w.EndMessage(batch);
        var columns = w.BeginMessage(ShapeDim);
        w.Int64(DimValue, v.Columns);
        w.EndMessage(columns);
        w.EndMessage(shape);
        w.EndMessage(tensor);
        w.EndMessage(type);
        w.EndMessage(info);
    }
}
