using System.Buffers.Binary;
using System.Text;
using MeowRobot.Policy.Safetensors;

namespace MeowRobot.Policy.Tests;

/// <summary>Each validation rule of ../shared/notes/safetensors.md, one hand-made file per rule.</summary>
public class SafetensorsValidationTests
{
    /// <summary>8-byte little-endian length, the header text, then the data (the length may be declared wrongly on purpose).</summary>
    internal static byte[] Raw(string header, int dataBytes = 0, ulong? declared = null, byte[]? headerBytes = null)
    {
        var h = headerBytes ?? Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, declared ?? (ulong)h.Length);
        h.CopyTo(file, 8);
        return file;
    }

    private static SafetensorsError Reject(byte[] file) => Assert.Throws<SafetensorsException>(() => SafetensorsHeader.Parse(file)).Error;

    private const string Two = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[2,2],"data_offsets":[8,12]}}""";

    [Fact]
    public void A_valid_file_parses_with_its_tensors_and_metadata()
    {
        var h = SafetensorsHeader.Parse(Raw("""{"__metadata__":{"k":"v","x":"1"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[2,2],"data_offsets":[8,12]}}   """, 12));
        Assert.Equal(["a", "b"], h.Tensors.Select(t => t.Name));
        Assert.Equal(SafetensorsDtype.U8, h["b"].Dtype);
        Assert.Equal([2L, 2L], h["b"].Shape);
        Assert.Equal(8, h["b"].Begin);
        Assert.Equal("v", h.Metadata["k"]);
        Assert.Equal(["k", "x"], h.MetadataEntries.Select(kv => kv.Key));
    }

    [Fact]
    public void Tensors_listed_out_of_offset_order_are_fine() =>
        Assert.Equal(2, SafetensorsHeader.Parse(Raw("""{"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 12)).Tensors.Count);

    [Fact]
    public void Empty_header_object_and_zero_sized_tensors_are_valid()
    {
        Assert.Empty(SafetensorsHeader.Parse(Raw("{}")).Tensors);
        Assert.Single(SafetensorsHeader.Parse(Raw("""{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}""")).Tensors);
    }

    [Fact]
    public void Shorter_than_the_length_prefix_is_HeaderTooSmall()
    {
        Assert.Equal(SafetensorsError.HeaderTooSmall, Reject([]));
        Assert.Equal(SafetensorsError.HeaderTooSmall, Reject(new byte[7]));
    }

    [Fact]
    public void Declared_header_over_100_MB_is_HeaderTooLarge_even_when_the_file_is_tiny()
    {
        Assert.Equal(SafetensorsError.HeaderTooLarge, Reject(Raw("{}", declared: 100_000_001)));
        Assert.Equal(SafetensorsError.HeaderTooLarge, Reject(Raw("{}", declared: ulong.MaxValue)));
    }

    [Fact]
    public void Header_running_past_the_file_is_InvalidHeaderLength() =>
        Assert.Equal(SafetensorsError.InvalidHeaderLength, Reject(Raw("{}", declared: 3)));

    [Fact]
    public void Invalid_UTF8_is_InvalidHeader() =>
        Assert.Equal(SafetensorsError.InvalidHeader, Reject(Raw("", headerBytes: [(byte)'{', 0xC3, 0x28, (byte)'}'])));

    [Theory]
    [InlineData("")]
    [InlineData("  {}")]
    [InlineData("[]")]
    public void A_header_not_starting_with_a_brace_is_InvalidHeaderStart(string header) =>
        Assert.Equal(SafetensorsError.InvalidHeaderStart, Reject(Raw(header)));

    [Theory]
    [InlineData("{")]
    [InlineData("{} {}")]
    [InlineData("{}x")]
    [InlineData("""{"a":1}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}""")]
    [InlineData("""{"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":0}}""")]
    [InlineData("""{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("""{"__metadata__":{"k":1}}""")]
    [InlineData("""{"__metadata__":{"k":null}}""")]
    [InlineData("""{"__metadata__":["k"]}""")]
    [InlineData("""{/*c*/}""")]
    [InlineData("""{"\ud800":1}""")]
    [InlineData("""{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}""")]
    public void A_header_that_is_not_the_schema_is_InvalidHeaderDeserialization(string header) =>
        Assert.Equal(SafetensorsError.InvalidHeaderDeserialization, Reject(Raw(header, 4)));

    [Fact]
    public void Metadata_may_be_null_as_in_the_reference() =>
        Assert.Empty(SafetensorsHeader.Parse(Raw("""{"__metadata__":null}""")).MetadataEntries);

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""")]
    [InlineData("""{"__metadata__":{},"__metadata__":{}}""")]
    [InlineData("""{"__metadata__":{"k":"1","k":"2"}}""")]
    public void Duplicate_names_are_DuplicateName(string header) =>
        Assert.Equal(SafetensorsError.DuplicateName, Reject(Raw(header, 8)));

    [Theory]
    [InlineData("f32")]
    [InlineData("F128")]
    [InlineData("F\\u0033\\u0033")]
    public void Unknown_dtypes_are_UnknownDtype(string dtype) =>
        Assert.Equal(SafetensorsError.UnknownDtype, Reject(Raw($$$"""{"a":{"dtype":"{{{dtype}}}","shape":[1],"data_offsets":[0,4]}}""", 4)));

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12)] // hole at the start
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12)] // hole between
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12)] // overlap
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8)] // same range twice
    [InlineData("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}""", 4)] // end before begin
    public void Offsets_that_do_not_tile_the_buffer_are_InvalidOffset(string header, int data) =>
        Assert.Equal(SafetensorsError.InvalidOffset, Reject(Raw(header, data)));

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}""")]
    [InlineData("""{"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}}""")]
    public void Element_counts_that_overflow_are_ValidationOverflow(string header) =>
        Assert.Equal(SafetensorsError.ValidationOverflow, Reject(Raw(header, 4)));

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8)]
    [InlineData("""{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,4]}}""", 4)]
    [InlineData("""{"a":{"dtype":"F32","shape":[],"data_offsets":[0,8]}}""", 8)]
    public void A_byte_range_that_is_not_elements_times_size_is_TensorInvalidInfo(string header, int data) =>
        Assert.Equal(SafetensorsError.TensorInvalidInfo, Reject(Raw(header, data)));

    [Fact]
    public void An_escaped_dtype_means_what_it_spells() =>
        Assert.Equal(SafetensorsDtype.F32, SafetensorsHeader.Parse(Raw("""{"a":{"dtype":"F\u0033\u0032","shape":[1],"data_offsets":[0,4]}}""", 4))["a"].Dtype);

    [Fact]
    public void Sub_byte_tensors_must_end_on_a_byte() =>
        Assert.Equal(SafetensorsError.MisalignedSlice, Reject(Raw("""{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}""", 1)));

    [Fact]
    public void Trailing_bytes_or_a_truncated_buffer_are_MetadataIncompleteBuffer()
    {
        Assert.Equal(SafetensorsError.MetadataIncompleteBuffer, Reject(Raw(Two, 13)));
        Assert.Equal(SafetensorsError.MetadataIncompleteBuffer, Reject(Raw(Two, 11)));
        Assert.Equal(2, SafetensorsHeader.Parse(Raw(Two, 12)).Tensors.Count);
    }

    [Fact]
    public void Files_over_the_size_cap_are_refused_before_reading()
    {
        var path = Path.Combine(Path.GetTempPath(), $"meow-cap-{Environment.ProcessId}.safetensors");
        File.WriteAllBytes(path, Raw(Two, 12));
        try
        {
            Assert.Equal(SafetensorsError.FileTooLarge, Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path, 20)).Error);
            Assert.Equal(2, SafetensorsFile.Read(path, 1 << 20).Header.Tensors.Count);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Reading_a_tensor_checks_its_name_and_dtype()
    {
        var file = SafetensorsFile.Parse(Raw(Two, 12));
        Assert.Equal(SafetensorsError.TensorNotFound, Assert.Throws<SafetensorsException>(() => file.ReadF32("nope")).Error);
        Assert.Equal(SafetensorsError.WrongDtype, Assert.Throws<SafetensorsException>(() => file.ReadF32("b")).Error);
    }

    [Fact]
    public void The_writer_pads_the_header_to_a_multiple_of_8_with_spaces_and_reads_back()
    {
        var bytes = SafetensorsWriter.ToArray(
            [SafetensorsTensor.F32("w", [2, 3], [1, 2, 3, 4, 5, 6]), new SafetensorsTensor("m", SafetensorsDtype.U8, [3], new byte[] { 7, 8, 9 })],
            [new("k", "ü \"quoted\" <tag>")]);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, n);
        Assert.Equal(
            """{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"m":{"dtype":"U8","shape":[3],"data_offsets":[24,27]},"__metadata__":{"k":"ü \"quoted\" <tag>"}}""",
            header.TrimEnd(' '));
        Assert.All(header[header.TrimEnd(' ').Length..], c => Assert.Equal(' ', c));
        var file = SafetensorsFile.Parse(bytes);
        Assert.Equal([1f, 2, 3, 4, 5, 6], file.ReadF32("w"));
        Assert.Equal([7, 8, 9], file.Data(file.Header["m"]).ToArray());
        Assert.Equal("ü \"quoted\" <tag>", file.Header.Metadata["k"]);
    }

    [Fact]
    public void The_writer_refuses_inconsistent_tensors()
    {
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.ToArray([SafetensorsTensor.F32("w", [2, 3], [1, 2, 3])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.ToArray([SafetensorsTensor.F32("w", [1], [1]), SafetensorsTensor.F32("w", [1], [1])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.ToArray([SafetensorsTensor.F32("__metadata__", [1], [1])]));
    }
}
