namespace MeowRobot.Bridge.MessagePack;

/// <summary>Why a MessagePack input was rejected.</summary>
public enum MsgPackErrorKind
{
    /// <summary>The input ended inside a value.</summary>
    EndOfData,
    /// <summary>The byte 0xc1, which the format never uses.</summary>
    InvalidCode,
    /// <summary>The next value is not of the type the caller asked for.</summary>
    TypeMismatch,
    /// <summary>An integer does not fit the requested type.</summary>
    IntegerOverflow,
    /// <summary>A length prefix (or element count) exceeds what the remaining bytes can hold.</summary>
    LengthExceedsInput,
    /// <summary>Containers nest deeper than <see cref="MsgPackReaderOptions.MaxDepth"/>.</summary>
    DepthExceeded,
    /// <summary>A str is not valid UTF-8.</summary>
    InvalidUtf8,
    /// <summary>An ext -1 value has a length other than 4, 8 or 12, or nanoseconds above 999 999 999.</summary>
    InvalidTimestamp,
    /// <summary>Bytes follow the one value a buffer was meant to hold.</summary>
    TrailingBytes,
    /// <summary>A map repeats a key (see <see cref="MsgPackKeySet"/>).</summary>
    DuplicateKey,
    /// <summary>A bin holding packed numbers has a length that is not a multiple of the element size, or does not fit the destination.</summary>
    InvalidPackedLength,
}

/// <summary>Malformed or unexpected MessagePack input. <see cref="Offset"/> is the byte offset (from the start of the
/// reader's buffer) of the value that was rejected.</summary>
public sealed class MsgPackException : FormatException
{
    public MsgPackException(MsgPackErrorKind kind, long offset, string detail)
        : base($"MessagePack {kind} at offset {offset}: {detail}")
    {
        Kind = kind;
        Offset = offset;
    }

    public MsgPackErrorKind Kind { get; }
    public long Offset { get; }
}
