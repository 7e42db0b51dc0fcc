namespace MeowRobot.Control.RobotIo;

/// <summary>
/// A robot that knows its episodes (a simulated one: its steps carry reward and episode ends), read lock-free from any
/// thread. The return is written before the count is incremented, so a reader that sees a new count sees that
/// episode's return (or a later one's).
/// </summary>
public interface IEpisodeReturns
{
    /// <summary>Episodes finished (terminated or truncated).</summary>
    long Episodes { get; }

    /// <summary>Undiscounted return of the last finished episode (NaN before the first).</summary>
    double LastEpisodeReturn { get; }
}
