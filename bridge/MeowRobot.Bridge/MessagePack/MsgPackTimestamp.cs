namespace MeowRobot.Bridge.MessagePack;

/// <summary>The MessagePack timestamp (ext type -1): seconds since the Unix epoch and nanoseconds (0..999 999 999).
/// Covers a wider range than <see cref="DateTimeOffset"/>, so conversion is explicit.</summary>
public readonly record struct MsgPackTimestamp
{
    public const sbyte ExtensionType = -1;
    public const uint MaxNanoseconds = 999_999_999;

    public MsgPackTimestamp(long seconds, uint nanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nanoseconds, MaxNanoseconds);
        Seconds = seconds;
        Nanoseconds = nanoseconds;
    }

    public long Seconds { get; }
    public uint Nanoseconds { get; }

    /// <summary>The instant at 100 ns resolution (sub-tick nanoseconds are truncated).</summary>
    /// <exception cref="ArgumentOutOfRangeException">outside DateTimeOffset's range</exception>
    public DateTimeOffset ToDateTimeOffset() =>
        DateTimeOffset.FromUnixTimeSeconds(Seconds).AddTicks(Nanoseconds / 100);

    public static MsgPackTimestamp FromDateTimeOffset(DateTimeOffset value)
    {
        var ticks = value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rem);
        if (rem < 0) { seconds--; rem += TimeSpan.TicksPerSecond; } // floor: nanoseconds are never negative
        return new MsgPackTimestamp(seconds, (uint)rem * 100);
    }
}
