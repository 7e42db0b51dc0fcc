namespace MeowRobot.Hosting.Configuration;

/// <summary>
/// Options that are valid but probably not what the operator meant (a robot with no state bounds): <c>serve</c> and
/// <c>serve --check</c> print each warning, named by key, and go on.
/// </summary>
public interface IConfigurationWarnings
{
    /// <summary>"Key: why" lines, keys relative to the options' section.</summary>
    IEnumerable<string> Warnings();
}

/// <summary>
/// A configuration problem only the start itself can find (an endpoint's port already in use, a robot whose sizes do
/// not fit the envelope): the service exits with EX_CONFIG (78), not as a crash systemd would restart.
/// </summary>
public class ConfigurationProblemException : Exception
{
    public ConfigurationProblemException(string message) : base(message) { }

    public ConfigurationProblemException(string message, Exception? inner) : base(message, inner) { }
}
