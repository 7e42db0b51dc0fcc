namespace MeowRobot.Bridge.Sim.Protocol;

/// <summary>The <c>error.code</c> strings of sim protocol v1 (docs/protocol.md lists when each is sent).</summary>
public static class SimErrorCode
{
    /// <summary>Not exactly one well-formed MessagePack value (truncated, 0xc1, bad UTF-8, too deep, trailing bytes), or not a map.</summary>
    public const string Malformed = "malformed";
    /// <summary>A map repeats a key.</summary>
    public const string DuplicateKey = "duplicate_key";
    /// <summary>A required key is absent.</summary>
    public const string MissingKey = "missing_key";
    /// <summary>A known key holds a value of the wrong MessagePack type.</summary>
    public const string BadType = "bad_type";
    /// <summary><c>v</c> is not 1.</summary>
    public const string BadVersion = "bad_version";
    /// <summary><c>op</c> names no operation this worker knows.</summary>
    public const string UnknownOp = "unknown_op";
    /// <summary>An array or bin has the wrong number of elements (act: num_envs × act_dim float32; seeds: num_envs).</summary>
    public const string BadLength = "bad_length";
    /// <summary>A value of the right type that cannot be used: a non-finite action, a seed outside int32.</summary>
    public const string BadValue = "bad_value";
    /// <summary>A <c>params</c> name the task does not have.</summary>
    public const string UnknownParam = "unknown_param";
    /// <summary>A <c>params</c> value outside the parameter's range (or not whole where it must be).</summary>
    public const string OutOfRange = "out_of_range";
    /// <summary><c>step</c> before the first <c>reset</c> (or after <c>close</c>).</summary>
    public const string NotReset = "not_reset";
    /// <summary>The simulator failed; the message says how. The worker keeps serving, but the envs need a reset.</summary>
    public const string Internal = "internal";
}

/// <summary>A request (worker side) or reply (client side) that breaks sim protocol v1; <see cref="Code"/> is a
/// <see cref="SimErrorCode"/> value.</summary>
public sealed class SimProtocolException(string code, string message) : FormatException(message)
{
    public string Code { get; } = code;
}

/// <summary>A worker answered with <c>ok: false</c>: <see cref="Code"/> and the message are the worker's.</summary>
public sealed class SimWorkerErrorException(string code, string message, string? endpoint = null)
    : Exception($"sim worker {endpoint ?? ""} refused the request: {code}: {message}")
{
    /// <summary>The worker's endpoint, where known.</summary>
    public string? Endpoint { get; } = endpoint;
    public string Code { get; } = code;
    public string WorkerMessage { get; } = message;
}
