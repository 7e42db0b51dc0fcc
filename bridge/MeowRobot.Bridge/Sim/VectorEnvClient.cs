using System.Buffers;
using System.Diagnostics;
using MeowRobot.Bridge.Sim.Protocol;
using MeowRobot.Bridge.Zmq;

namespace MeowRobot.Bridge.Sim;

/// <summary>
/// The trainer's side of sim protocol v1: one <see cref="IVectorEnv"/> over K sim workers × their envs (rows in
/// endpoint order). A step is sent to every worker at once and the replies are gathered with zmq_poll, so workers
/// simulate in parallel. A worker that dies, hangs or restarts is noticed (reply timeout, heartbeat <c>ping</c> with
/// its session id, or a <c>not_reset</c> answer), reconnected with backoff and reset; only the step in flight is lost,
/// and only for that worker's envs, which the step reports as truncated and <see cref="VectorBatch.Lost"/> (docs/protocol.md).
/// <para>Single-threaded like the learner loop that drives it: the thread that constructs the client owns its sockets
/// and must make every call.</para>
/// </summary>
public sealed class VectorEnvClient : IVectorEnv
{
    private sealed class Link(int index, string endpoint)
    {
        public int Index { get; } = index;
        public string Endpoint { get; } = endpoint;
        public ZmqSocket? Socket { get; set; }
        public SimHello? Hello { get; set; }
        public int EnvOffset { get; set; }
        public long LastContact { get; set; }
        public bool Pending { get; set; }
        public bool Recovered { get; set; }
        public int PollIndex { get; set; }
    }

    private enum Gathering { Reset, Step, Ping }

    /// <summary>How often a wait on a worker looks at <see cref="VectorEnvClientOptions.Stopping"/>.</summary>
    public static readonly TimeSpan AbandonCheck = TimeSpan.FromMilliseconds(100);

    private readonly ZmqContext context = new();
    private readonly Link[] links;
    private readonly VectorEnvClientOptions options;
    private readonly ArrayBufferWriter<byte> request = new(4096);
    private readonly ZmqMessage frame = new();
    private readonly Dictionary<string, double> parameterValues = new(StringComparer.Ordinal);
    private readonly float[] lastObs;
    private ParameterDistribution[] randomisation = [];
    private byte[][] drawNames = [];
    private double[] previousDraws = [];
    private ZmqPoller? poller;
    private bool ready;
    private long recoveries;

    /// <summary>Connects to every worker and reads its hello (retrying with backoff for up to
    /// <see cref="VectorEnvClientOptions.GiveUpAfter"/>); all must serve the same task.</summary>
    public VectorEnvClient(IReadOnlyList<string> endpoints, VectorEnvClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.Count == 0) throw new ArgumentException("at least one sim worker endpoint is needed", nameof(endpoints));
        this.options = options ?? new VectorEnvClientOptions();
        this.options.Validate();
        links = endpoints.Select((e, i) => new Link(i, e)).ToArray();
        try
        {
            var offset = 0;
            foreach (var link in links)
            {
                link.Hello = Contact(link, "first contact", resetInto: null, out _);
                link.EnvOffset = offset;
                offset += link.Hello.NumEnvs;
            }
            var first = links[0].Hello!;
            foreach (var link in links.Skip(1)) CheckSameTask(link, link.Hello!, first);
            Spec = first.Spec;
            NumEnvs = offset;
            Parameters = first.Params.Select(p => first.ParamRanges.TryGetValue(p.Key, out var r)
                ? new TaskParameter(p.Key, p.Value, r.Min, r.Max)
                : new TaskParameter(p.Key, p.Value, double.NegativeInfinity, double.PositiveInfinity)).ToArray();
            lastObs = new float[NumEnvs * Spec.ObsDim];
            // The first worker's randomisation is the client's until SetRandomisation: every reset sends it to all workers.
            if (first.Randomisation is { Count: > 0 } initial)
            {
                if (links.FirstOrDefault(l => l.Hello!.Randomisation is null) is { } old)
                    throw new NotSupportedException($"sim worker {old.Endpoint} does not support per-episode randomisation, which {links[0].Endpoint} does");
                UseRandomisation(initial);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public TaskSpec Spec { get; }
    public int NumEnvs { get; }

    /// <summary>The task's randomisable parameters; <see cref="TaskParameter.Default"/> is the value at connection.</summary>
    public IReadOnlyList<TaskParameter> Parameters { get; }

    /// <summary>Each worker's latest hello (endpoint order).</summary>
    public IReadOnlyList<SimHello> Workers => links.Select(l => l.Hello!).ToArray();

    /// <summary>Worker losses recovered from so far.</summary>
    public long Recoveries => recoveries;

    /// <summary>Raised (on the calling thread) when a worker is declared lost, before reconnecting to it.</summary>
    public event EventHandler<SimWorkerLostEventArgs>? WorkerLost;

    /// <summary>Raised (on the calling thread) each time a lost worker is back and reset.</summary>
    public event EventHandler<SimWorkerRecoveredEventArgs>? WorkerRecovered;

    public IReadOnlyList<ParameterDistribution> Randomisation => randomisation;

    /// <summary>Checked at once; sent to every worker with the next <see cref="Reset"/> (and to a recovered worker with its
    /// reset). <see cref="NotSupportedException"/> when a worker does not speak the extension (hello without <c>randomise</c>).</summary>
    public void SetRandomisation(IReadOnlyList<ParameterDistribution> distributions)
    {
        ArgumentNullException.ThrowIfNull(distributions);
        if (ParameterDistribution.CheckAll(distributions, Parameters, Spec.Name) is { } why) throw new ArgumentException(why);
        if (distributions.Count > 0 && links.FirstOrDefault(l => l.Hello!.Randomisation is null) is { } old)
            throw new NotSupportedException($"sim worker {old.Endpoint} does not support per-episode randomisation (sim protocol v1's 'randomise' extension)");
        UseRandomisation(distributions);
        ready = false; // the next call must be a reset, which carries it
    }

    private void UseRandomisation(IReadOnlyList<ParameterDistribution> distributions)
    {
        randomisation = [.. distributions];
        drawNames = randomisation.Select(d => System.Text.Encoding.UTF8.GetBytes(d.Name)).ToArray();
        previousDraws = new double[NumEnvs * randomisation.Length];
    }

    /// <summary>What each worker's reset request says about randomisation: the client's, to workers that speak the extension.</summary>
    private IReadOnlyList<ParameterDistribution>? RandomiseFor(Link link) => link.Hello!.Randomisation is null ? null : randomisation;

    private EpisodeParamsTarget DrawsOf(VectorBatch into, Link link) => new(drawNames, Rows(into.EpisodeParams, link, randomisation.Length));

    public void Reset(VectorBatch into, IReadOnlyList<int>? seeds = null, IReadOnlyDictionary<string, double>? parameters = null)
    {
        VectorEnvArguments.CheckBatch(this, into);
        if (seeds is not null && seeds.Count != NumEnvs)
            throw new ArgumentException($"{seeds.Count} seeds for {NumEnvs} envs", nameof(seeds));
        if (parameters is not null)
        {
            foreach (var (name, value) in parameters)
            {
                var p = Parameters.FirstOrDefault(q => q.Name == name)
                    ?? throw new ArgumentException($"{Spec.Name} has no parameter '{name}' (it has: {string.Join(", ", Parameters.Select(q => q.Name))})", nameof(parameters));
                if (p.Validate(value) is { } why) throw new ArgumentOutOfRangeException(nameof(parameters), value, why);
            }
            // Remembered before sending: a worker recovered during this reset (or any later one) gets them too.
            foreach (var (name, value) in parameters) parameterValues[name] = value;
        }
        into.Lost.AsSpan().Clear();
        into.ShapeEpisodeParams(randomisation.Select(d => d.Name).ToArray());
        foreach (var link in links)
        {
            var n = link.Hello!.NumEnvs;
            var slice = seeds is null ? [] : seeds.Skip(link.EnvOffset).Take(n).ToArray();
            request.ResetWrittenCount();
            SimMessages.WriteReset(request, slice, seeds is not null, parameters, RandomiseFor(link));
            Send(link);
        }
        var error = Gather(Gathering.Reset, into);
        into.EpisodeParams.CopyTo(previousDraws, 0);
        into.Reward.AsSpan().Clear();
        into.Terminated.AsSpan().Clear();
        into.Truncated.AsSpan().Clear();
        into.Obs.CopyTo(lastObs, 0);
        ready = error is null;
        if (error is not null) throw error;
    }

    public void Step(ReadOnlySpan<float> actions, VectorBatch into)
    {
        VectorEnvArguments.CheckBatch(this, into);
        if (!ready) throw new InvalidOperationException("Step before Reset (or after a failed Reset)");
        VectorEnvArguments.CheckActions(this, actions);
        var actDim = Spec.ActDim;
        into.Lost.AsSpan().Clear();
        foreach (var link in links) link.Recovered = false;
        Heartbeat(into);
        foreach (var link in links)
        {
            if (link.Recovered) continue;
            request.ResetWrittenCount();
            SimMessages.WriteStep(request, actions.Slice(link.EnvOffset * actDim, link.Hello!.NumEnvs * actDim));
            Send(link);
        }
        var error = Gather(Gathering.Step, into);
        into.Obs.CopyTo(lastObs, 0);
        if (randomisation.Length > 0)
        {
            // An ended (or lost) episode was played with the draws its env had before this step.
            for (var i = 0; i < NumEnvs; i++)
            {
                if (into.Terminated[i] != 0 || into.Truncated[i] != 0)
                    previousDraws.AsSpan(i * randomisation.Length, randomisation.Length).CopyTo(into.FinalEpisodeParamsRow(i));
            }
            into.EpisodeParams.CopyTo(previousDraws, 0);
        }
        if (error is not null)
        {
            ready = false;
            throw error;
        }
    }

    /// <summary>Tells every worker the episodes are over (best effort, one <see cref="VectorEnvClientOptions.ReplyTimeout"/>
    /// at most); a <see cref="Reset"/> starts again.</summary>
    public void Close()
    {
        ready = false;
        foreach (var link in links)
        {
            request.ResetWrittenCount();
            SimMessages.WriteRequest(request, SimOp.Close);
            try
            {
                if (Exchange(link, options.ReplyTimeout)) SimMessages.ReadOkReply(frame.Span);
                else Connect(link); // a late reply must not be read as the next request's
            }
            catch (Exception e) when (e is SimProtocolException or SimWorkerErrorException or ZmqException or TimeoutException)
            {
                // closing is a courtesy; the worker also accepts a reset without it
            }
        }
    }

    public void Dispose()
    {
        poller?.Dispose();
        frame.Dispose();
        context.Dispose();
    }

    // ---- requests and replies -----------------------------------------------------------------------------------------

    /// <summary>Sends the request in <see cref="request"/> (after an empty delimiter, as REQ would) and marks it pending.</summary>
    private void Send(Link link)
    {
        try
        {
            link.Socket!.Send([], more: true);
            link.Socket.Send(request.WrittenSpan);
            link.Pending = true;
        }
        catch (TimeoutException)
        {
            link.Pending = true; // never arrives: the gather's timeout declares the worker lost
        }
    }

    /// <summary>Reads one reply into <see cref="frame"/>; a framing that no worker sends is a protocol error.</summary>
    private void ReceiveReply(Link link)
    {
        var socket = link.Socket!;
        socket.Receive(frame);
        var delimited = frame.More && frame.Size == 0;
        if (delimited) socket.Receive(frame);
        if (!delimited || frame.More)
        {
            while (frame.More) socket.Receive(frame);
            throw new SimProtocolException(SimErrorCode.Malformed, "a reply is one frame after an empty delimiter");
        }
        link.LastContact = Stopwatch.GetTimestamp();
    }

    /// <summary>One request/reply with a single worker (hello, reset on recovery, close): false on timeout.</summary>
    private bool Exchange(Link link, TimeSpan timeout)
    {
        Send(link);
        link.Pending = false;
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (link.Socket!.Poll(ZmqPollEvents.In, Slice(Remaining(deadline))) == ZmqPollEvents.None)
        {
            options.Stopping.ThrowIfCancellationRequested();
            if (Stopwatch.GetTimestamp() >= deadline) return false;
        }
        ReceiveReply(link);
        return true;
    }

    private static TimeSpan Remaining(long deadline) =>
        TimeSpan.FromSeconds(Math.Max(0, deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);

    /// <summary>A wait cut to <see cref="AbandonCheck"/> when the client can be abandoned, so the token is looked at.</summary>
    private TimeSpan Slice(TimeSpan wait) => options.Stopping.CanBeCanceled && wait > AbandonCheck ? AbandonCheck : wait;

    /// <summary>
    /// Collects the replies of every pending worker into <paramref name="into"/>. A worker that times out, restarted,
    /// failed in its simulator or answers garbage is recovered (its rows get the lost-step treatment for a step). An error
    /// the client caused (a bad parameter, say) is returned, after every reply has been read so no socket is left out of step.
    /// </summary>
    private Exception? Gather(Gathering what, VectorBatch into)
    {
        Exception? error = null;
        var deadline = Stopwatch.GetTimestamp() + (long)(options.ReplyTimeout.TotalSeconds * Stopwatch.Frequency);
        while (AnyPending())
        {
            var poll = RebuiltPoller();
            var ready = poll.Poll(Slice(Remaining(deadline)));
            if (ready == 0) options.Stopping.ThrowIfCancellationRequested();
            if (ready == 0 && Stopwatch.GetTimestamp() >= deadline)
            {
                foreach (var link in links)
                {
                    if (!link.Pending) continue;
                    link.Pending = false;
                    Lose(link, what, into, $"no reply within {options.ReplyTimeout.TotalMilliseconds:F0} ms");
                }
                break;
            }
            foreach (var link in links)
            {
                if ((poll.Ready(link.PollIndex) & ZmqPollEvents.In) == 0) continue;
                if (!link.Pending)
                {
                    Drain(link);
                    continue;
                }
                link.Pending = false;
                try
                {
                    ReceiveReply(link);
                    Accept(link, what, into);
                }
                catch (SimWorkerErrorException) when (what == Gathering.Ping)
                {
                    // any answer shows the worker alive (a peer without the optional ping says unknown_op)
                }
                catch (SimWorkerErrorException e) when (e.Code is SimErrorCode.NotReset or SimErrorCode.Internal)
                {
                    Lose(link, what, into, e.Code == SimErrorCode.NotReset ? "worker restarted (not_reset)" : "simulator failed: " + e.WorkerMessage);
                }
                catch (SimWorkerErrorException e)
                {
                    error ??= new SimWorkerErrorException(e.Code, e.WorkerMessage, link.Endpoint);
                }
                catch (SimProtocolException e)
                {
                    Lose(link, what, into, $"malformed reply ({e.Code}: {e.Message})");
                }
            }
        }
        return error;
    }

    private void Accept(Link link, Gathering what, VectorBatch into)
    {
        var span = frame.Span;
        switch (what)
        {
            case Gathering.Reset:
                SimMessages.ReadResetReply(span, Rows(into.Obs, link, Spec.ObsDim), DrawsOf(into, link));
                break;
            case Gathering.Step:
                SimMessages.ReadStepReply(span, Rows(into.Obs, link, Spec.ObsDim), Rows(into.Reward, link, 1),
                    Rows(into.Terminated, link, 1), Rows(into.Truncated, link, 1), Rows(into.FinalObs, link, Spec.ObsDim), DrawsOf(into, link));
                break;
            default:
                var session = SimMessages.ReadOkReply(span);
                if (session is not null && link.Hello!.Session is not null && session != link.Hello.Session)
                    Lose(link, Gathering.Ping, into, "worker restarted (new session)");
                break;
        }
    }

    /// <summary>Before a step: pings the workers that have been silent for a heartbeat interval.</summary>
    private void Heartbeat(VectorBatch into)
    {
        var stale = Stopwatch.GetTimestamp() - (long)(options.HeartbeatInterval.TotalSeconds * Stopwatch.Frequency);
        var any = false;
        foreach (var link in links)
        {
            if (link.LastContact >= stale) continue;
            request.ResetWrittenCount();
            SimMessages.WriteRequest(request, SimOp.Ping);
            Send(link);
            any = true;
        }
        if (any && Gather(Gathering.Ping, into) is { } error) throw error;
    }

    // ---- loss and recovery --------------------------------------------------------------------------------------------

    /// <summary>Declares <paramref name="link"/> lost: for a step (or a heartbeat before one) its envs' step is lost and
    /// reported truncated; then it is reconnected and reset, its first observations going to <paramref name="into"/>.</summary>
    private void Lose(Link link, Gathering what, VectorBatch into, string reason)
    {
        var stepLost = what != Gathering.Reset;
        if (stepLost)
        {
            lastObs.AsSpan(link.EnvOffset * Spec.ObsDim, link.Hello!.NumEnvs * Spec.ObsDim).CopyTo(Rows(into.FinalObs, link, Spec.ObsDim));
            Rows(into.Reward, link, 1).Clear();
            Rows(into.Terminated, link, 1).Clear();
            Rows(into.Truncated, link, 1).Fill(1);
            Rows(into.Lost, link, 1).Fill(1);
        }
        var started = Stopwatch.GetTimestamp();
        WorkerLost?.Invoke(this, new SimWorkerLostEventArgs(link.Index, link.Endpoint, reason));
        link.Hello = Contact(link, reason, into, out var attempts);
        link.Recovered = true;
        recoveries++;
        WorkerRecovered?.Invoke(this, new SimWorkerRecoveredEventArgs(link.Index, link.Endpoint, reason, attempts,
            Stopwatch.GetElapsedTime(started), stepLost));
    }

    /// <summary>
    /// Opens a fresh socket (so a late reply to the old one can never be taken for a new one) and asks hello (and, for a
    /// recovery, reset with the parameters set so far, first observations into <paramref name="resetInto"/>) until
    /// answered, waiting <see cref="VectorEnvClientOptions.ReconnectBackoff"/> doubling between attempts;
    /// <see cref="SimWorkerLostException"/> after <see cref="VectorEnvClientOptions.GiveUpAfter"/>.
    /// </summary>
    private SimHello Contact(Link link, string reason, VectorBatch? resetInto, out int attempts)
    {
        var started = Stopwatch.GetTimestamp();
        var backoff = options.ReconnectBackoff;
        string? last = null;
        for (attempts = 1; ; attempts++)
        {
            Connect(link);
            try
            {
                request.ResetWrittenCount();
                SimMessages.WriteRequest(request, SimOp.Hello);
                if (Exchange(link, options.ReplyTimeout))
                {
                    var hello = SimMessages.ReadHelloReply(frame.Span);
                    if (resetInto is null) return hello;
                    CheckSameTask(link, hello, links[0].Hello!);
                    if (hello.NumEnvs != link.Hello!.NumEnvs)
                        throw new SimWorkerLostException(link.Endpoint, $"came back with {hello.NumEnvs} envs instead of {link.Hello.NumEnvs}");
                    request.ResetWrittenCount();
                    link.Hello = hello; // what it supports now decides what its reset carries
                    SimMessages.WriteReset(request, [], false, parameterValues.Count > 0 ? parameterValues : null, RandomiseFor(link));
                    if (Exchange(link, options.ReplyTimeout))
                    {
                        SimMessages.ReadResetReply(frame.Span, Rows(resetInto.Obs, link, Spec.ObsDim), DrawsOf(resetInto, link));
                        Rows(resetInto.Obs, link, Spec.ObsDim).CopyTo(lastObs.AsSpan(link.EnvOffset * Spec.ObsDim));
                        return hello;
                    }
                }
                last = options.Curve is null ? "no reply" : "no reply (with CURVE: is this client's public key on the worker's allow-list, and the worker's key the one configured?)";
            }
            catch (Exception e) when (e is SimProtocolException or SimWorkerErrorException or ZmqException or TimeoutException)
            {
                last = e.Message;
            }
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed >= options.GiveUpAfter)
                throw new SimWorkerLostException(link.Endpoint, link.Hello is null
                    ? $"never answered: no reply to hello in {elapsed.TotalSeconds:F1} s (last: {last}); is a sim worker serving there?"
                    : $"unreachable for {elapsed.TotalSeconds:F1} s after {reason} (last: {last})");
            if (options.Stopping.WaitHandle.WaitOne(backoff < options.GiveUpAfter - elapsed ? backoff : options.GiveUpAfter - elapsed))
                options.Stopping.ThrowIfCancellationRequested();
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.MaxReconnectBackoff.Ticks));
        }
    }

    private void Connect(Link link)
    {
        link.Socket?.Dispose();
        link.Socket = null;
        poller?.Dispose();
        poller = null;
        var socket = context.CreateSocket(ZmqSocketType.Dealer);
        socket.SendTimeout = options.ReplyTimeout;
        // No ZMTP heartbeats (a libzmq 4.3.4 abort, see ZmqSocket.HeartbeatInterval): the ping and the reply timeout find
        // a dead or hung worker, kernel keepalive drops a vanished one's connection; a worker sending more than its
        // replies waits in TCP, not in this process.
        socket.ReceiveHighWatermark = SimWorker.QueuedPerPeer;
        socket.KeepTcpAlive(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), probes: 3);
        if (options.Curve is { } curve) socket.MakeCurveClient(curve.ClientKeys, curve.ServerPublicKey);
        socket.Connect(link.Endpoint);
        link.Socket = socket;
        link.Pending = false;
    }

    private ZmqPoller RebuiltPoller()
    {
        if (poller is not null) return poller;
        poller = new ZmqPoller(links.Length);
        foreach (var link in links) link.PollIndex = poller.Add(link.Socket!, ZmqPollEvents.In);
        return poller;
    }

    private bool AnyPending()
    {
        foreach (var link in links)
        {
            if (link.Pending) return true;
        }
        return false;
    }

    private void Drain(Link link)
    {
        while (link.Socket!.TryReceive(frame))
        {
            // a reply nobody waits for (cannot happen with fresh sockets per recovery; kept harmless)
        }
    }

    private Span<T> Rows<T>(Span<T> all, Link link, int width) => all.Slice(link.EnvOffset * width, link.Hello!.NumEnvs * width);

    private Span<T> Rows<T>(T[] all, Link link, int width) => Rows(all.AsSpan(), link, width);

    private static void CheckSameTask(Link link, SimHello hello, SimHello first)
    {
        var (a, b) = (hello.Spec, first.Spec);
        if (a.Name != b.Name || a.ObsDim != b.ObsDim || a.ActDim != b.ActDim || a.MaxEpisodeSteps != b.MaxEpisodeSteps ||
            !a.ActLow.SequenceEqual(b.ActLow) || !a.ActHigh.SequenceEqual(b.ActHigh))
            throw new SimWorkerLostException(link.Endpoint, $"serves {a.Name} ({a.ObsDim} obs, {a.ActDim} act), not {b.Name} ({b.ObsDim} obs, {b.ActDim} act) like the first worker");
    }
}
