namespace MeowRobot.Policy.Bundles;

/// <summary>What a policy is for: a task, its observation and action sizes, and a robot id (or <see cref="AnyRobot"/>
/// for every robot running the task). A robot describes itself with its concrete id.</summary>
public sealed record PolicyIdentity(string Task, int ObsDim, int ActDim, string Robot = PolicyIdentity.AnyRobot)
{
    public const string AnyRobot = "*";

    /// <summary>Whether a bundle addressed to <paramref name="target"/> is meant for this robot (task and robot only;
    /// dimensions are checked separately so that the rejection reason says which).</summary>
    public bool Addresses(PolicyIdentity target) =>
        string.Equals(Task, target.Task, StringComparison.Ordinal) && (Robot == AnyRobot || string.Equals(Robot, target.Robot, StringComparison.Ordinal));
}
