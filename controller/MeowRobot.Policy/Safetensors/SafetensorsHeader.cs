using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;

namespace MeowRobot.Policy.Safetensors;

/// <summary>One tensor's header entry. <see cref="Begin"/>/<see cref="End"/> are byte offsets into the data buffer.</summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDtype Dtype, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;

    /// <summary>Product of the shape (1 for a scalar); validated not to overflow when the header was parsed.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>A validated safetensors header: every rule of the reference reader holds for the file it came from
/// (see ../shared/notes/safetensors.md), so each tensor's bytes lie inside the file and exactly fill it.</summary>
public sealed class SafetensorsHeader
{
    /// <summary>The reference reader's cap on the JSON header (a DoS guard).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private readonly Dictionary<string, string> _metadata;

    private SafetensorsHeader(List<SafetensorsTensorInfo> tensors, List<KeyValuePair<string, string>> metadata, long dataStart)
    {
        Tensors = tensors;
        MetadataEntries = metadata;
        DataStart = dataStart;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _metadata = metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary><c>__metadata__</c> entries in header order (empty when absent).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> MetadataEntries { get; }

    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>Offset of the data buffer in the file: 8 + header length.</summary>
    public long DataStart { get; }

    public bool TryGet(string name, out SafetensorsTensorInfo info) => _byName.TryGetValue(name, out info!);

    public SafetensorsTensorInfo this[string name] =>
        _byName.TryGetValue(name, out var t) ? t : throw new SafetensorsException(SafetensorsError.TensorNotFound, $"no tensor named '{name}'");

    /// <summary>Parses and validates the header of a whole file (the file's length is part of the validation).</summary>
    /// <exception cref="SafetensorsException">The file breaks a rule; nothing else is thrown for any input.</exception>
    public static SafetensorsHeader Parse(ReadOnlySpan<byte> file)
    {
        if (file.Length < 8) throw new SafetensorsException(SafetensorsError.HeaderTooSmall, $"file is {file.Length} bytes, shorter than the 8-byte length prefix");
        var n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > MaxHeaderLength) throw new SafetensorsException(SafetensorsError.HeaderTooLarge, $"header length {n} exceeds {MaxHeaderLength}");
        if (8 + (long)n > file.Length) throw new SafetensorsException(SafetensorsError.InvalidHeaderLength, $"header length {n} runs past the end of a {file.Length}-byte file");
        var json = file.Slice(8, (int)n);
        if (!Utf8.IsValid(json)) throw new SafetensorsException(SafetensorsError.InvalidHeader, "header is not valid UTF-8");
        if (json.Length == 0 || json[0] != (byte)'{') throw new SafetensorsException(SafetensorsError.InvalidHeaderStart, "header does not start with '{'");

        var tensors = new List<SafetensorsTensorInfo>();
        var metadata = new List<KeyValuePair<string, string>>();
        try
        {
            ParseJson(json, tensors, metadata);
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(SafetensorsError.InvalidHeaderDeserialization, "header is not valid JSON: " + e.Message, e);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString on an escape that is not valid UTF-16 (a lone surrogate).
            throw new SafetensorsException(SafetensorsError.InvalidHeaderDeserialization, "header string cannot be decoded: " + e.Message, e);
        }

        var dataStart = 8 + (long)n;
        var covered = ValidateOffsets(tensors);
        if (dataStart + covered != file.Length)
            throw new SafetensorsException(SafetensorsError.MetadataIncompleteBuffer,
                $"tensors cover {covered} data bytes but the file holds {file.Length - dataStart}");
        return new SafetensorsHeader(tensors, metadata, dataStart);
    }

    // Sorted by offset, ranges must tile [0, end) exactly: no hole, no overlap (overlaps were a DoS vector).
    private static long ValidateOffsets(List<SafetensorsTensorInfo> tensors)
    {
        var sorted = tensors.ToArray();
        Array.Sort(sorted, (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long next = 0;
        foreach (var t in sorted)
        {
            if (t.Begin != next || t.End < t.Begin)
                throw new SafetensorsException(SafetensorsError.InvalidOffset, $"tensor '{t.Name}' has data_offsets [{t.Begin}, {t.End}], expected to begin at {next}");
            ulong elements = 1;
            foreach (var d in t.Shape)
            {
                if (!TryMultiply(elements, (ulong)d, out elements))
                    throw new SafetensorsException(SafetensorsError.ValidationOverflow, $"tensor '{t.Name}' element count overflows");
            }
            if (!TryMultiply(elements, (ulong)t.Dtype.BitSize(), out var bits))
                throw new SafetensorsException(SafetensorsError.ValidationOverflow, $"tensor '{t.Name}' bit size overflows");
            if (bits % 8 != 0)
                throw new SafetensorsException(SafetensorsError.MisalignedSlice, $"tensor '{t.Name}' is {bits} bits, not a whole number of bytes");
            if (bits / 8 > long.MaxValue || (long)(bits / 8) != t.End - t.Begin)
                throw new SafetensorsException(SafetensorsError.TensorInvalidInfo,
                    $"tensor '{t.Name}' {t.Dtype}[{string.Join(",", t.Shape)}] needs {bits / 8} bytes but data_offsets span {t.End - t.Begin}");
            next = t.End;
        }
        return next;
    }

    private static bool TryMultiply(ulong a, ulong b, out ulong product)
    {
        var p = (UInt128)a * b;
        product = (ulong)p;
        return p <= ulong.MaxValue;
    }

    private static void ParseJson(ReadOnlySpan<byte> json, List<SafetensorsTensorInfo> tensors, List<KeyValuePair<string, string>> metadata)
    {
        // Depth 3 is all a valid header needs; a small cap makes deep nesting fail at once.
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8, CommentHandling = JsonCommentHandling.Disallow });
        Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject, "header must be a JSON object");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var sawMetadata = false;
        while (true)
        {
            Expect(reader.Read(), "unterminated header object");
            if (reader.TokenType == JsonTokenType.EndObject) break;
            var name = reader.GetString()!;
            Expect(reader.Read(), "unterminated header object");
            if (name == "__metadata__")
            {
                if (sawMetadata) throw new SafetensorsException(SafetensorsError.DuplicateName, "__metadata__ appears twice");
                sawMetadata = true;
                ReadMetadata(ref reader, metadata);
                continue;
            }
            if (!names.Add(name)) throw new SafetensorsException(SafetensorsError.DuplicateName, $"tensor '{name}' appears twice");
            tensors.Add(ReadTensor(ref reader, name));
        }
        // Anything but whitespace after the object makes Read throw (JsonException), which the caller maps.
        Expect(!reader.Read(), "content after the header object");
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, List<KeyValuePair<string, string>> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null) return; // the reference accepts "__metadata__": null
        Expect(reader.TokenType == JsonTokenType.StartObject, "__metadata__ must be an object of strings");
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            Expect(reader.Read(), "unterminated __metadata__");
            if (reader.TokenType == JsonTokenType.EndObject) return;
            var key = reader.GetString()!;
            Expect(reader.Read() && reader.TokenType == JsonTokenType.String, $"__metadata__ value of '{key}' must be a string");
            if (!keys.Add(key)) throw new SafetensorsException(SafetensorsError.DuplicateName, $"__metadata__ key '{key}' appears twice");
            metadata.Add(new(key, reader.GetString()!));
        }
    }

    private static SafetensorsTensorInfo ReadTensor(ref Utf8JsonReader reader, string name)
    {
        Expect(reader.TokenType == JsonTokenType.StartObject, $"tensor '{name}' must be an object");
        SafetensorsDtype? dtype = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        while (true)
        {
            Expect(reader.Read(), $"unterminated tensor '{name}'");
            if (reader.TokenType == JsonTokenType.EndObject) break;
            if (reader.ValueTextEquals("dtype"u8) && dtype is null)
            {
                Expect(reader.Read() && reader.TokenType == JsonTokenType.String, $"tensor '{name}' dtype must be a string");
                // ValueSpan is the raw text; an escaped spelling ("F\u0033\u0032") is unescaped first, as JSON means it.
                var text = reader.ValueIsEscaped ? System.Text.Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;
                if (!SafetensorsDtypes.TryParse(text, out var d))
                    throw new SafetensorsException(SafetensorsError.UnknownDtype, $"tensor '{name}' has unknown dtype '{reader.GetString()}'");
                dtype = d;
            }
            else if (reader.ValueTextEquals("shape"u8) && shape is null)
            {
                shape = ReadIntegers(ref reader, name, "shape");
            }
            else if (reader.ValueTextEquals("data_offsets"u8) && offsets is null)
            {
                offsets = ReadIntegers(ref reader, name, "data_offsets");
                Expect(offsets.Count == 2, $"tensor '{name}' data_offsets must hold exactly [begin, end]");
            }
            else
            {
                throw new SafetensorsException(SafetensorsError.InvalidHeaderDeserialization, $"tensor '{name}' has an unknown or repeated field '{reader.GetString()}'");
            }
        }
        Expect(dtype is not null && shape is not null && offsets is not null, $"tensor '{name}' needs dtype, shape and data_offsets");
        return new SafetensorsTensorInfo(name, dtype!.Value, shape!.ToArray(), offsets![0], offsets[1]);
    }

    private static List<long> ReadIntegers(ref Utf8JsonReader reader, string name, string field)
    {
        Expect(reader.Read() && reader.TokenType == JsonTokenType.StartArray, $"tensor '{name}' {field} must be an array");
        var values = new List<long>();
        while (true)
        {
            Expect(reader.Read(), $"unterminated {field} of tensor '{name}'");
            if (reader.TokenType == JsonTokenType.EndArray) return values;
            ulong v = 0;
            Expect(reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out v),
                $"tensor '{name}' {field} must hold non-negative integers");
            if (v > long.MaxValue) throw new SafetensorsException(SafetensorsError.ValidationOverflow, $"tensor '{name}' {field} value {v} overflows");
            values.Add((long)v);
        }
    }

    private static void Expect(bool condition, string what)
    {
        if (!condition) throw new SafetensorsException(SafetensorsError.InvalidHeaderDeserialization, what);
    }
}
