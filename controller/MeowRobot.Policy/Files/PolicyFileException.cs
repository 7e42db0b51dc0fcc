namespace MeowRobot.Policy.Files;

/// <summary>Why a policy file was rejected.</summary>
public enum PolicyFileError
{
    /// <summary>Not a valid safetensors file (the inner <see cref="Safetensors.SafetensorsException"/> says which rule).</summary>
    Malformed,
    /// <summary>The algorithm's format key (<c>meow.format</c>, …) holds a format this build does not read.</summary>
    UnsupportedFormat,
    /// <summary>The metadata names an algorithm (<c>NAME.format</c>) this build does not know.</summary>
    UnknownAlgorithm,
    /// <summary>A required <c>meow.*</c> metadata key is absent.</summary>
    MissingMetadata,
    /// <summary>A <c>meow.*</c> value does not parse or is out of range, or optional parts disagree with the dimensions.</summary>
    InvalidMetadata,
    /// <summary>A tensor the architecture needs is absent.</summary>
    MissingTensor,
    /// <summary>A tensor the architecture does not have is present (the official strict load_state_dict would fail).</summary>
    UnexpectedTensor,
    /// <summary>A tensor's shape is not the one the metadata implies.</summary>
    WrongShape,
    /// <summary>A tensor is not F32.</summary>
    WrongDtype,
    /// <summary>A weight is NaN or infinite.</summary>
    NonFinite,
    /// <summary>A coupling mask is not the alternating 0/1 pattern of the official flow.</summary>
    InvalidMask,
    /// <summary>SAC's <c>actor.action_scale</c>/<c>actor.action_bias</c> disagree with the metadata's action box, or a
    /// scale is not positive.</summary>
    InvalidActionBuffers,
}

/// <summary>A policy file was rejected; <see cref="Error"/> says why and <see cref="Tensor"/> names the tensor when one is at fault.</summary>
public sealed class PolicyFileException : Exception
{
    public PolicyFileException(PolicyFileError error, string message, string? tensor = null, Exception? inner = null)
        : base($"{error}: {message}", inner)
    {
        Error = error;
        Tensor = tensor;
    }

    public PolicyFileException() : this(PolicyFileError.Malformed, "invalid policy file") { }

    public PolicyFileException(string message) : this(PolicyFileError.Malformed, message) { }

    public PolicyFileException(string message, Exception inner) : this(PolicyFileError.Malformed, message, null, inner) { }

    public PolicyFileError Error { get; }

    public string? Tensor { get; }
}
