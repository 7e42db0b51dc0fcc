using System.Text.Json;
using System.Text.Json.Serialization;

namespace MeowRobot.Campaign;

/// <summary>Where a run stands: <c>pending</c> (never started), <c>queued</c> (submitted to Slurm, not started yet),
/// <c>running</c> (its processes were started and have not been seen to end), <c>done</c> (the trainer reached the
/// budget and exited 0), <c>failed</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunStatus>))]
public enum RunStatus
{
    [JsonStringEnumMemberName("pending")] Pending,
    [JsonStringEnumMemberName("queued")] Queued,
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("done")] Done,
    [JsonStringEnumMemberName("failed")] Failed,
}

/// <summary>
/// A run's state file (runs/ID/run.json), replaced whole on every change (write beside, rename over), so a runner
/// killed at any instant leaves the previous or the next state, never half of one. It is what a restarted runner and
/// <c>campaign status</c> read.
/// </summary>
public sealed record RunState
{
    /// <summary>Runs that failed this many times are left failed (starting the campaign again does not retry them).</summary>
    public const int MaxAttempts = 3;

    public required string Id { get; init; }
    public RunStatus Status { get; init; }
    /// <summary>Processes started for the run (a resume after a runner crash is one more).</summary>
    public int Attempts { get; init; }
    public DateTimeOffset? Started { get; init; }
    public DateTimeOffset? Finished { get; init; }
    /// <summary>The live processes of a running run (local engine), to find orphans of a killed runner.</summary>
    public int? TrainerPid { get; init; }
    public int? SimPid { get; init; }
    /// <summary>The Slurm job (ARRAYJOB_TASK) of a run submitted by the Slurm engine.</summary>
    public string? SlurmJob { get; init; }
    public int? ExitCode { get; init; }
    /// <summary>Why it failed (the end of the trainer's log), or null.</summary>
    public string? Message { get; init; }

    /// <summary>Nothing more to do for the run: done, or failed <see cref="MaxAttempts"/> times.</summary>
    [JsonIgnore]
    public bool Settled => Status == RunStatus.Done || (Status == RunStatus.Failed && Attempts >= MaxAttempts);

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The state in <paramref name="path"/>, or a pending one when there is none yet. A damaged file (which the
    /// atomic write never leaves) is an <see cref="InvalidDataException"/> naming it.</summary>
    public static RunState Read(string path, string id) =>
        CampaignJson.Read<RunState>(path, "a run state", Json) ?? new RunState { Id = id, Status = RunStatus.Pending };

    public void Write(string path) => CampaignJson.Write(path, this, Json);
}
