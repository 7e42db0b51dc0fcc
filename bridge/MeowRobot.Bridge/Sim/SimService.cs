using System.Buffers;
using System.Security.Cryptography;
using MeowRobot.Bridge.Sim.Protocol;

namespace MeowRobot.Bridge.Sim;

/// <summary>
/// The worker's side of sim protocol v1 without the transport: one request in, exactly one reply out, for a
/// <see cref="LocalVectorEnv"/>. Bad input of any kind gets an error reply and changes nothing; the service keeps
/// serving. A failing simulator gets an <c>internal</c> error and the envs need a reset before the next step.
/// Not thread-safe: one transport thread drives it.
/// </summary>
public sealed class SimService : IDisposable
{
    private readonly LocalVectorEnv env;
    private readonly VectorBatch batch;
    private readonly float[] actions;
    private readonly List<int> seeds = [];
    private readonly Dictionary<string, double> parameters = new(StringComparer.Ordinal);
    private readonly List<ParameterDistribution> randomise = [];
    private bool ready;

    /// <param name="env">Served and owned (disposed with the service).</param>
    /// <param name="session">Identifies this worker start in hello/ping replies; random when omitted.</param>
    public SimService(LocalVectorEnv env, ulong? session = null)
    {
        this.env = env;
        batch = new VectorBatch(env.NumEnvs, env.Spec.ObsDim);
        actions = new float[env.NumEnvs * env.Spec.ActDim];
        Session = session ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    }

    public LocalVectorEnv Env => env;

    /// <summary>Random per worker start; clients compare it to notice a restart.</summary>
    public ulong Session { get; }

    /// <summary>Requests answered, and how many of them with an error.</summary>
    public long Requests { get; private set; }

    public long Errors { get; private set; }

    /// <summary>Answers <paramref name="request"/> into <paramref name="reply"/>; returns the op served, or null when the
    /// reply is an error. Never throws for anything the peer sent.</summary>
    public SimOp? Handle(ReadOnlySpan<byte> request, IBufferWriter<byte> reply)
    {
        Requests++;
        SimRequest req;
        try
        {
            req = SimMessages.ReadRequest(request, env.NumEnvs, env.Spec.ActDim, actions, seeds, parameters, randomise);
        }
        catch (SimProtocolException e)
        {
            return Fail(reply, e.Code, e.Message);
        }
        switch (req.Op)
        {
            case SimOp.Hello:
                SimMessages.WriteHelloReply(reply, Describe());
                return req.Op;
            case SimOp.Ping:
                SimMessages.WriteOkReply(reply, Session);
                return req.Op;
            case SimOp.Close:
                ready = false;
                SimMessages.WriteOkReply(reply);
                return req.Op;
            case SimOp.Reset:
                if (req.HasParams && CheckParameters() is { } bad) return Fail(reply, bad.Code, bad.Message);
                if (req.HasRandomise && CheckRandomisation() is { } badDraw) return Fail(reply, badDraw.Code, badDraw.Message);
                try
                {
                    if (req.HasRandomise) env.SetRandomisation(randomise);
                    env.Reset(batch, req.HasSeeds ? seeds : null, req.HasParams ? parameters : null);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    ready = false;
                    return Fail(reply, SimErrorCode.Internal, $"reset failed: {e.Message}");
                }
                ready = true;
                SimMessages.WriteResetReply(reply, batch);
                return req.Op;
            case SimOp.Step:
                if (!ready) return Fail(reply, SimErrorCode.NotReset, "step before reset: send {\"op\": \"reset\"} first");
                try
                {
                    env.Step(actions, batch);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    ready = false;
                    return Fail(reply, SimErrorCode.Internal, $"step failed, reset needed: {e.Message}");
                }
                SimMessages.WriteStepReply(reply, batch);
                return req.Op;
            default:
                return Fail(reply, SimErrorCode.UnknownOp, $"op {req.Op} is not served");
        }
    }

    /// <summary>The hello reply's content.</summary>
    public SimHello Describe() => new(
        env.Spec,
        env.NumEnvs,
        env.Parameters.ToDictionary(p => p.Name, p => env.GetParameter(p.Name)),
        env.Parameters.ToDictionary(p => p.Name, p => (p.Min, p.Max)),
        Session,
        env.Randomisation);

    public void Dispose() => env.Dispose();

    private (string Code, string Message)? CheckParameters()
    {
        foreach (var (name, value) in parameters)
        {
            var p = env.Parameters.FirstOrDefault(q => q.Name == name);
            if (p is null)
                return (SimErrorCode.UnknownParam, $"{env.Spec.Name} has no parameter '{name}' (it has: {string.Join(", ", env.Parameters.Select(q => q.Name))})");
            if (p.Validate(value) is { } why) return (SimErrorCode.OutOfRange, why);
        }
        return null;
    }

    /// <summary>The randomisation of a reset, checked before anything changes: an unknown name is <c>unknown_param</c>, a
    /// malformed distribution or bounds the parameter does not accept <c>out_of_range</c>.</summary>
    private (string Code, string Message)? CheckRandomisation()
    {
        foreach (var d in randomise)
        {
            if (env.Parameters.All(q => q.Name != d.Name))
                return (SimErrorCode.UnknownParam, $"{env.Spec.Name} has no parameter '{d.Name}' (it has: {string.Join(", ", env.Parameters.Select(q => q.Name))})");
        }
        return ParameterDistribution.CheckAll(randomise, env.Parameters, env.Spec.Name) is { } why ? (SimErrorCode.OutOfRange, why) : null;
    }

    private SimOp? Fail(IBufferWriter<byte> reply, string code, string message)
    {
        Errors++;
        SimMessages.WriteError(reply, code, message);
        return null;
    }
}
