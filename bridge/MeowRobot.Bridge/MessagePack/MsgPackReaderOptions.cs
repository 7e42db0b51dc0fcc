namespace MeowRobot.Bridge.MessagePack;

/// <summary>Limits a <see cref="MsgPackReader"/> enforces. The default suits protocol messages.</summary>
public readonly record struct MsgPackReaderOptions
{
    public const int DefaultMaxDepth = 64;
    /// <summary>The hard ceiling (MessagePack-CSharp's); deeper nesting is never needed and risks stack overflow in
    /// recursive consumers.</summary>
    public const int MaxAllowedDepth = 500;

    private readonly int _maxDepth;

    /// <summary>Deepest container nesting accepted (a top-level array is depth 1). 0 means the default (64).</summary>
    public int MaxDepth
    {
        get => _maxDepth == 0 ? DefaultMaxDepth : _maxDepth;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxAllowedDepth);
            _maxDepth = value;
        }
    }

    /// <summary>Defaults: depth 64.</summary>
    public static MsgPackReaderOptions Default => default;
}
