using System.ComponentModel.DataAnnotations;
using MeowRobot.Hosting.Configuration;

namespace MeowRobot.Trainer;

/// <summary>Configuration section "Trainer" of <c>trainer serve</c> (keys: docs/operations.md).</summary>
public sealed class TrainerOptions : IValidatableObject
{
    public const string Section = "Trainer";

    /// <summary>The sim workers to step (tcp:// or ipc://), all serving the same task.</summary>
    [Required, MinLength(1)]
    public string[] SimEndpoints { get; set; } = [];

    /// <summary>Checkpoints and metrics CSV go here; a restart resumes from the last checkpoint in it.</summary>
    [Required]
    public string RunDir { get; set; } = "";

    /// <summary>Time between checkpoints (one is also written on SIGTERM).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00")]
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Where policy bundles are published (ZeroMQ bind, CURVE server); null: no robots are fed.</summary>
    [Endpoint]
    public string? PublishEndpoint { get; set; }

    /// <summary>A bundle is published every this many learner updates.</summary>
    [Range(1, int.MaxValue)]
    public int PublishEveryUpdates { get; set; } = 1000;

    /// <summary>The trainer's CURVE secret key (from `trainer keys generate`); required with PublishEndpoint.</summary>
    [CurveKeyFile(Secret = true)]
    public string? SecretKeyFile { get; set; }

    /// <summary>Directory of robot public keys allowed to subscribe (ZAP allow-list); null: any robot holding the trainer's public key.</summary>
    public string? AllowedRobotKeysDir { get; set; }

    /// <summary>Environment steps to train for.</summary>
    [Range(1L, long.MaxValue)]
    public long TotalEnvSteps { get; set; } = 1_000_000;

    /// <summary>Seed of the learner and of the sim resets.</summary>
    public int Seed { get; set; } = 1;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var endpoints = SimEndpoints ?? [];
        for (var i = 0; i < endpoints.Length; i++)
        {
            if (EndpointAttribute.Problem(endpoints[i] ?? "") is { } problem)
                yield return new ValidationResult($"'{endpoints[i]}' is not a valid endpoint: {problem}", [$"{nameof(SimEndpoints)}:{i}"]);
        }
        if (PublishEndpoint is not null && SecretKeyFile is null)
            yield return new ValidationResult("a CURVE secret key file is required with PublishEndpoint (robots pin the trainer's public key)",
                [nameof(SecretKeyFile)]);
        if (AllowedRobotKeysDir is not null && !Directory.Exists(AllowedRobotKeysDir))
            yield return new ValidationResult($"directory '{AllowedRobotKeysDir}' does not exist", [nameof(AllowedRobotKeysDir)]);
    }
}
