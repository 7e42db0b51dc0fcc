namespace MeowRobot.Bridge.Sim;

/// <summary>Timeouts and recovery policy of <see cref="VectorEnvClient"/> (docs/protocol.md, "Liveness").</summary>
public sealed record VectorEnvClientOptions
{
    /// <summary>A worker that does not answer a request within this is declared lost (the step in flight is lost for its envs).</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Before a step, a worker silent for longer than this gets a <c>ping</c> (a changed session means it restarted).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>First wait between reconnection attempts; doubles after each failed attempt.</summary>
    public TimeSpan ReconnectBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxReconnectBackoff { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>How long a lost worker may stay unreachable before <see cref="SimWorkerLostException"/>; also bounds the
    /// first contact in the constructor.</summary>
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Abandons the client when cancelled: every wait on a worker (a reply, a reconnection, the first contact) ends
    /// within <see cref="VectorEnvClient.AbandonCheck"/> with <see cref="OperationCanceledException"/>, and the client is
    /// then fit only to be disposed. A trainer that is stopping never waits minutes for workers that are gone.</summary>
    public CancellationToken Stopping { get; init; }

    /// <summary>CURVE keys for workers that require them (every worker of the client holds the same server key); null:
    /// plain connections, which such a worker never answers.</summary>
    public SimClientCurve? Curve { get; init; }

    public void Validate()
    {
        foreach (var (name, value) in new[] { (nameof(ReplyTimeout), ReplyTimeout), (nameof(HeartbeatInterval), HeartbeatInterval),
                     (nameof(ReconnectBackoff), ReconnectBackoff), (nameof(MaxReconnectBackoff), MaxReconnectBackoff), (nameof(GiveUpAfter), GiveUpAfter) })
        {
            if (value <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive");
        }
    }
}

/// <summary>What <see cref="VectorEnvClient.WorkerRecovered"/> reports.</summary>
/// <param name="Worker">Index of the worker in the client's endpoint list.</param>
/// <param name="Reason">Why it was declared lost: timeout, restart (new session), not_reset, malformed reply.</param>
/// <param name="Attempts">Reconnection attempts until it answered.</param>
/// <param name="Downtime">From noticing the loss to the worker's envs being reset again.</param>
/// <param name="StepLost">True when a step's result was lost for its envs (they are flagged truncated in that step).</param>
public sealed class SimWorkerRecoveredEventArgs(int worker, string endpoint, string reason, int attempts, TimeSpan downtime, bool stepLost) : EventArgs
{
    public int Worker { get; } = worker;
    public string Endpoint { get; } = endpoint;
    public string Reason { get; } = reason;
    public int Attempts { get; } = attempts;
    public TimeSpan Downtime { get; } = downtime;
    public bool StepLost { get; } = stepLost;

    public override string ToString() =>
        $"sim worker {Worker} ({Endpoint}) recovered after {Attempts} attempt(s), {Downtime.TotalMilliseconds:F0} ms: {Reason}" +
        (StepLost ? "; its envs' step was lost and is reported truncated" : "");
}

/// <summary>What <see cref="VectorEnvClient.WorkerLost"/> reports: a worker declared lost, about to be reconnected.</summary>
public sealed class SimWorkerLostEventArgs(int worker, string endpoint, string reason) : EventArgs
{
    public int Worker { get; } = worker;
    public string Endpoint { get; } = endpoint;
    public string Reason { get; } = reason;

    public override string ToString() => $"sim worker {Worker} ({Endpoint}) lost: {Reason}; reconnecting";
}

/// <summary>A sim worker stayed unreachable for longer than <see cref="VectorEnvClientOptions.GiveUpAfter"/>, or answers
/// with a different task than before.</summary>
public sealed class SimWorkerLostException(string endpoint, string message) : Exception($"sim worker {endpoint}: {message}")
{
    public string Endpoint { get; } = endpoint;
}
