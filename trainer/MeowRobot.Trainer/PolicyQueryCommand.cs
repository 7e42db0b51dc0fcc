using System.CommandLine;
using MeowRobot.Learner;
using MeowRobot.Policy.Files;

namespace MeowRobot.Trainer;

/// <summary>
/// <c>./meow trainer policy query --weights W --input in.json --output out.json</c> (<c>--output -</c>: to standard output): evaluates a policy file on given
/// states. in.json is <c>{"obs": [[...], ...], "act": [[...], ...]}</c> (act optional, in the tanh box [−1, 1]);
/// out.json is <c>{"action": [[...]], "q1": [...], "q2": [...]}</c>, plus <c>"v1", "v2"</c> for MEow and <c>"log_prob"</c>
/// when act was given (MEow and SAC). action is the deterministic action in [−1, 1] (MEow: f(E[z] | s); SAC: tanh(μ(s));
/// S2AC: act_limit · tanh(f(s, 0)) of the amortized network, or the highest-Q SVGD particle of an SVGD-actor file); q1/q2
/// are Q_k(s, act) when act is given, else Q_k(s, action). Observations are normalised first when the file carries
/// obs_norm statistics.
/// </summary>
public static class PolicyQueryCommand
{
    /// <summary>Adds <c>query</c> under the <c>policy</c> command of <paramref name="root"/>, creating it if needed.</summary>
    public static void AddTo(RootCommand root) => Group(root).Subcommands.Add(Create());

    /// <summary>The <c>policy</c> command of <paramref name="root"/> (the policy-file tools), created on first use.</summary>
    internal static Command Group(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var policy = root.Subcommands.FirstOrDefault(c => c.Name == "policy");
        if (policy is null)
        {
            policy = new Command("policy", "Inspect and evaluate policy files");
            root.Subcommands.Add(policy);
        }
        return policy;
    }

    private static Command Create()
    {
        var weights = new Option<FileInfo>("--weights") { Description = "policy file (safetensors with meow.* metadata)", Required = true };
        var input = new Option<FileInfo>("--input") { Description = "JSON with \"obs\" rows and optional \"act\" rows", Required = true };
        var output = new Option<string>("--output") { Description = "where to write the JSON result ('-': standard output)", Required = true };
        var command = new Command("query", "Deterministic actions, soft Q values (MEow: and V) and log π of given actions (MEow, SAC) of a policy file");
        command.Options.Add(weights);
        command.Options.Add(input);
        command.Options.Add(output);
        command.SetAction(parse =>
        {
            try
            {
                var file = PolicyFile.Load(parse.GetValue(weights)!.FullName);
                var query = PolicyQuery.Parse(File.ReadAllBytes(parse.GetValue(input)!.FullName), file.Metadata.ObsDim, file.Metadata.ActDim);
                var bytes = PolicyQuery.Run(file, query);
                var path = parse.GetValue(output)!;
                if (path == "-")
                {
                    using var stdout = Console.OpenStandardOutput();
                    stdout.Write(bytes);
                    stdout.WriteByte((byte)'\n');
                }
                else
                {
                    File.WriteAllBytes(Path.GetFullPath(path), bytes);
                }
                return 0;
            }
            catch (Exception e) when (e is PolicyFileException or PolicyQueryException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"policy query: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
