namespace MeowRobot.Policy.Safetensors;

/// <summary>The element types the safetensors format defines (names as they appear in a header).</summary>
public enum SafetensorsDtype
{
    BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F4, F6_E2M3, F6_E3M2, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, C64,
}

public static class SafetensorsDtypes
{
    /// <summary>Bits per element (the FP4/FP6 variants are sub-byte; a tensor of them must still end on a byte).</summary>
    public static int BitSize(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F4 => 4,
        SafetensorsDtype.F6_E2M3 or SafetensorsDtype.F6_E3M2 => 6,
        SafetensorsDtype.BOOL or SafetensorsDtype.U8 or SafetensorsDtype.I8
            or SafetensorsDtype.F8_E5M2 or SafetensorsDtype.F8_E4M3 or SafetensorsDtype.F8_E8M0 => 8,
        SafetensorsDtype.I16 or SafetensorsDtype.U16 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 => 16,
        SafetensorsDtype.I32 or SafetensorsDtype.U32 or SafetensorsDtype.F32 => 32,
        SafetensorsDtype.F64 or SafetensorsDtype.I64 or SafetensorsDtype.U64 or SafetensorsDtype.C64 => 64,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>The header spelling of a dtype.</summary>
    public static string Name(this SafetensorsDtype dtype) => dtype.ToString();

    /// <summary>Parses a header dtype string (exact, case-sensitive, as the reference does).</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out SafetensorsDtype dtype)
    {
        foreach (var d in All)
        {
            if (utf8.SequenceEqual(d.Utf8))
            {
                dtype = d.Dtype;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    private static readonly (SafetensorsDtype Dtype, byte[] Utf8)[] All =
        Enum.GetValues<SafetensorsDtype>().Select(d => (d, System.Text.Encoding.ASCII.GetBytes(d.ToString()))).ToArray();
}
