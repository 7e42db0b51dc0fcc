namespace MeowRobot.Policy.Safetensors;

/// <summary>Why a safetensors file was rejected. The names mirror the reference reader's (huggingface/safetensors
/// <c>SafeTensorError</c>) where one exists; <see cref="DuplicateName"/>, <see cref="UnknownDtype"/> and
/// <see cref="FileTooLarge"/> are ours (the reference folds the first two into <see cref="InvalidHeaderDeserialization"/>).</summary>
public enum SafetensorsError
{
    /// <summary>The header is not valid UTF-8.</summary>
    InvalidHeader,
    /// <summary>The header does not start with '{'.</summary>
    InvalidHeaderStart,
    /// <summary>The header is not the expected JSON object (bad JSON, wrong field types, unknown fields, metadata not strings).</summary>
    InvalidHeaderDeserialization,
    /// <summary>The declared header length exceeds 100,000,000 bytes.</summary>
    HeaderTooLarge,
    /// <summary>The file is shorter than the 8-byte length prefix.</summary>
    HeaderTooSmall,
    /// <summary>8 + header length runs past the end of the file.</summary>
    InvalidHeaderLength,
    /// <summary>A tensor asked for by name is not in the file.</summary>
    TensorNotFound,
    /// <summary>A tensor's byte range does not equal its element count times its dtype size.</summary>
    TensorInvalidInfo,
    /// <summary>Tensor byte ranges, sorted by offset, are not contiguous from 0 (a hole, an overlap, or end before begin).</summary>
    InvalidOffset,
    /// <summary>The data buffer is longer or shorter than the tensors cover (trailing bytes or a truncated file).</summary>
    MetadataIncompleteBuffer,
    /// <summary>A shape's element count (or its byte size) overflows 64 bits.</summary>
    ValidationOverflow,
    /// <summary>A sub-byte dtype's tensor does not end on a byte boundary.</summary>
    MisalignedSlice,
    /// <summary>The same tensor name (or <c>__metadata__</c>) appears twice.</summary>
    DuplicateName,
    /// <summary>A dtype string that the format does not define.</summary>
    UnknownDtype,
    /// <summary>The file on disk is larger than the caller's size cap.</summary>
    FileTooLarge,
    /// <summary>A tensor was read as a dtype it does not have.</summary>
    WrongDtype,
}

/// <summary>A safetensors file was rejected; <see cref="Error"/> says why, the message says where.</summary>
public sealed class SafetensorsException : Exception
{
    public SafetensorsException(SafetensorsError error, string message, Exception? inner = null)
        : base($"{error}: {message}", inner) => Error = error;

    public SafetensorsException() : this(SafetensorsError.InvalidHeader, "invalid safetensors file") { }

    public SafetensorsException(string message) : this(SafetensorsError.InvalidHeader, message) { }

    public SafetensorsException(string message, Exception inner) : this(SafetensorsError.InvalidHeader, message, inner) { }

    public SafetensorsError Error { get; }
}
