using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MeowRobot.Policy.Safetensors;

/// <summary>A tensor to write: name, dtype, shape and its little-endian row-major bytes.</summary>
public sealed record SafetensorsTensor(string Name, SafetensorsDtype Dtype, long[] Shape, ReadOnlyMemory<byte> Data)
{
    /// <summary>An F32 tensor from values (copied).</summary>
    public static SafetensorsTensor F32(string name, long[] shape, ReadOnlySpan<float> values)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        return new(name, SafetensorsDtype.F32, shape, MemoryMarshal.AsBytes(values).ToArray());
    }
}

/// <summary>Writes safetensors files: compact JSON header (tensors in the caller's order, then <c>__metadata__</c> in the
/// caller's order) padded with spaces to a multiple of 8, then the data in the same order. Same input, same bytes.</summary>
public static class SafetensorsWriter
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = false,
        // Metadata is free text; escape only what JSON requires so it reads back byte-for-byte as written.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <exception cref="ArgumentException">A duplicate or reserved name, or data whose length does not match its shape.</exception>
    public static void Write(IBufferWriter<byte> output, IReadOnlyList<SafetensorsTensor> tensors, IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        var header = new ArrayBufferWriter<byte>(256 + 128 * tensors.Count);
        using (var json = new Utf8JsonWriter(header, Options))
        {
            json.WriteStartObject();
            var names = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            foreach (var t in tensors)
            {
                if (t.Name == "__metadata__" || !names.Add(t.Name)) throw new ArgumentException($"tensor name '{t.Name}' is reserved or repeated", nameof(tensors));
                var bits = t.Shape.Aggregate((Int128)t.Dtype.BitSize(), (a, d) => d >= 0 ? a * d : throw new ArgumentException($"tensor '{t.Name}' has a negative dimension", nameof(tensors)));
                if (bits % 8 != 0 || bits / 8 != t.Data.Length)
                    throw new ArgumentException($"tensor '{t.Name}' {t.Dtype}[{string.Join(",", t.Shape)}] needs {bits / 8} bytes, got {t.Data.Length}", nameof(tensors));
                json.WriteStartObject(t.Name);
                json.WriteString("dtype"u8, t.Dtype.Name());
                json.WriteStartArray("shape"u8);
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets"u8);
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__"u8);
                var keys = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (k, v) in metadata)
                {
                    if (!keys.Add(k)) throw new ArgumentException($"metadata key '{k}' is repeated", nameof(metadata));
                    json.WriteString(k, v);
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        var padded = (header.WrittenCount + 7) / 8 * 8;
        if (padded > SafetensorsHeader.MaxHeaderLength) throw new ArgumentException("header would exceed the 100,000,000-byte limit");
        BinaryPrimitives.WriteUInt64LittleEndian(output.GetSpan(8), (ulong)padded);
        output.Advance(8);
        output.Write(header.WrittenSpan);
        var pad = output.GetSpan(padded - header.WrittenCount)[..(padded - header.WrittenCount)];
        pad.Fill((byte)' ');
        output.Advance(pad.Length);
        foreach (var t in tensors) output.Write(t.Data.Span);
    }

    public static byte[] ToArray(IReadOnlyList<SafetensorsTensor> tensors, IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(buffer, tensors, metadata);
        return buffer.WrittenSpan.ToArray();
    }
}
