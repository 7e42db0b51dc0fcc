namespace MeowRobot.Hosting;

/// <summary>What the shared host plumbing needs to know about one service executable.</summary>
/// <param name="Name">Short name: "trainer", "controller", "sim" (site configuration /etc/meowrobot/NAME.json, log lines).</param>
/// <param name="Description">One line for <c>serve --help</c>.</param>
public sealed record ServiceDefinition(string Name, string Description)
{
    /// <summary>How long a stop (SIGTERM) may take before the host abandons the services' StopAsync. Keep it below the unit's TimeoutStopSec=.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where appsettings.json (the shipped defaults) is read from: beside the executable.</summary>
    public string BaseDirectory { get; init; } = AppContext.BaseDirectory;

    /// <summary>The site configuration read when no --config is given (optional there).</summary>
    public string DefaultSiteConfig { get; init; } = "";

    /// <summary>Short options of <c>serve</c> (e.g. <c>--task hopper</c>) and the configuration keys they set; an explicit
    /// --Section:Key=value still wins over them.</summary>
    public IReadOnlyList<ServeShorthand> Shorthands { get; init; } = [];

    /// <summary>/etc/meowrobot/NAME.json unless <see cref="DefaultSiteConfig"/> says otherwise.</summary>
    public string SiteConfig => DefaultSiteConfig.Length > 0 ? DefaultSiteConfig : Path.Combine("/etc/meowrobot", Name + ".json");
}

/// <summary>How a <see cref="ServeShorthand"/> maps its values onto configuration keys.</summary>
public enum ShorthandKind
{
    /// <summary>One value: <c>--envs 8</c> is <c>--Sim:Envs=8</c>.</summary>
    Single,
    /// <summary>Repeatable NAME=VALUE: <c>--param mass=1.5</c> is <c>--Sim:Params:mass=1.5</c>.</summary>
    Named,
    /// <summary>Repeatable, one array element each: <c>--sim A --sim B</c> is <c>--Trainer:SimEndpoints:0=A --Trainer:SimEndpoints:1=B</c>.</summary>
    Indexed,
}

/// <summary>A short <c>serve</c> option standing for a configuration key. The options every service shares (--task, --envs,
/// --bind, --seed) are made by the factories below, so they read the same everywhere; --config is every serve's own.</summary>
public sealed record ServeShorthand(string Option, string Key, string Description, ShorthandKind Kind = ShorthandKind.Single)
{
    public static ServeShorthand Task(string key, string what) => new("--task", key, what);
    public static ServeShorthand Envs(string key, string what) => new("--envs", key, what);
    public static ServeShorthand Bind(string key, string what) => new("--bind", key, what + ": tcp://HOST:PORT or ipc://PATH");
    public static ServeShorthand Seed(string key, string what) => new("--seed", key, what);
}
