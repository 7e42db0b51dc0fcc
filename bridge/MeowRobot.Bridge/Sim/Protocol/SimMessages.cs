using System.Buffers;
using System.Globalization;
using System.Text;
using MeowRobot.Bridge.MessagePack;

namespace MeowRobot.Bridge.Sim.Protocol;

/// <summary>The operations of sim protocol v1 (<c>ping</c> is an additive heartbeat; see docs/protocol.md).</summary>
public enum SimOp
{
    Hello,
    Reset,
    Step,
    Close,
    Ping,
}

/// <summary>A decoded request. Its bulk (actions, seeds, parameters, randomisation) went into the caller's buffers.</summary>
public readonly record struct SimRequest(SimOp Op, bool HasSeeds, bool HasParams, bool HasRandomise = false);

/// <summary>Where a client wants a reply's <c>episode_params</c>: the randomised names it expects, in order (UTF-8), and
/// the rows (envs × names) they go to. With no names the key is not required (and ignored).</summary>
public readonly ref struct EpisodeParamsTarget(ReadOnlySpan<byte[]> names, Span<double> rows)
{
    public ReadOnlySpan<byte[]> Names { get; } = names;
    public Span<double> Rows { get; } = rows;
}

/// <summary>What a worker says about itself in the <c>hello</c> reply.</summary>
/// <param name="Params">Each randomisable parameter's current value.</param>
/// <param name="ParamRanges">Each parameter's [min, max] (optional key <c>param_ranges</c>; empty from peers that omit it).</param>
/// <param name="Session">Random per worker start (optional key <c>session</c>): a changed value means the worker restarted.</param>
/// <param name="Randomisation">The per-episode randomisation in force (optional key <c>randomise</c>); null from a worker
/// that does not support the extension.</param>
public sealed record SimHello(
    TaskSpec Spec,
    int NumEnvs,
    IReadOnlyDictionary<string, double> Params,
    IReadOnlyDictionary<string, (double Min, double Max)> ParamRanges,
    ulong? Session,
    IReadOnlyList<ParameterDistribution>? Randomisation = null);

/// <summary>
/// Encoding and decoding of sim protocol v1 (docs/protocol.md): one MessagePack map per message, float arrays as bin of
/// little-endian float32, flags as bin of uint8. Decoders are strict: anything that is not exactly one well-formed map
/// with the required keys of the required types throws <see cref="SimProtocolException"/> with a <see cref="SimErrorCode"/>.
/// Unknown keys are skipped (new optional keys are how the protocol grows). Writers and the step decoders do not allocate.
/// </summary>
public static class SimMessages
{
    public const int Version = 1;

    /// <summary>Requests and replies nest at most three deep (map → params map → [min, max]); a little slack for extensions.</summary>
    private static readonly MsgPackReaderOptions Limits = new() { MaxDepth = 8 };

    // ---- requests (client → worker) -------------------------------------------------------------------------------

    public static void WriteRequest(IBufferWriter<byte> output, SimOp op)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(2);
        WriteHeaderV(ref w);
        w.WriteStringUtf8("op"u8);
        w.WriteStringUtf8(OpName(op));
    }

    /// <param name="seeds">One per env of this worker, or null to continue each env's RNG stream.</param>
    /// <param name="parameters">Values to set in every env before the reset, or null.</param>
    /// <param name="randomise">The per-episode randomisation from this reset on (empty: none), or null to keep the worker's.</param>
    public static void WriteReset(IBufferWriter<byte> output, ReadOnlySpan<int> seeds, bool withSeeds, IReadOnlyDictionary<string, double>? parameters,
        IReadOnlyList<ParameterDistribution>? randomise = null)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(2 + (withSeeds ? 1 : 0) + (parameters is null ? 0 : 1) + (randomise is null ? 0 : 1));
        WriteHeaderV(ref w);
        w.WriteStringUtf8("op"u8);
        w.WriteStringUtf8("reset"u8);
        if (withSeeds)
        {
            w.WriteStringUtf8("seeds"u8);
            w.WriteArrayHeader(seeds.Length);
            foreach (var s in seeds) w.Write(s);
        }
        if (parameters is not null)
        {
            w.WriteStringUtf8("params"u8);
            w.WriteMapHeader(parameters.Count);
            foreach (var (name, value) in parameters)
            {
                w.Write(name);
                w.Write(value);
            }
        }
        if (randomise is not null)
        {
            w.WriteStringUtf8("randomise"u8);
            WriteRandomisation(ref w, randomise);
        }
    }

    public static void WriteStep(IBufferWriter<byte> output, ReadOnlySpan<float> actions)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(3);
        WriteHeaderV(ref w);
        w.WriteStringUtf8("op"u8);
        w.WriteStringUtf8("step"u8);
        w.WriteStringUtf8("act"u8);
        w.WriteBinary(actions);
    }

    /// <summary>
    /// Decodes a request for a worker of <paramref name="numEnvs"/> × <paramref name="actDim"/>. A step's actions go to
    /// <paramref name="actions"/> (all finite, else <see cref="SimErrorCode.BadValue"/>); a reset's seeds and parameters
    /// to the given collections (cleared first). Parameter names and ranges are the worker's to check.
    /// </summary>
    public static SimRequest ReadRequest(ReadOnlySpan<byte> message, int numEnvs, int actDim, Span<float> actions,
        List<int> seeds, Dictionary<string, double> parameters, List<ParameterDistribution>? randomise = null)
    {
        try
        {
            return ReadRequestCore(message, numEnvs, actDim, actions, seeds, parameters, randomise);
        }
        catch (MsgPackException e)
        {
            throw Translate(e);
        }
    }

    private static SimRequest ReadRequestCore(ReadOnlySpan<byte> message, int numEnvs, int actDim, Span<float> actions,
        List<int> seeds, Dictionary<string, double> parameters, List<ParameterDistribution>? randomise)
    {
        var r = OpenMap(message, out var count);
        var seen = new MsgPackKeySet();
        int vAt = -1, opAt = -1, actAt = -1, seedsAt = -1, paramsAt = -1, randomiseAt = -1;
        for (; count > 0; count--)
        {
            var key = ReadKey(ref r, ref seen);
            var at = r.Position;
            if (key.SequenceEqual("v"u8)) vAt = at;
            else if (key.SequenceEqual("op"u8)) opAt = at;
            else if (key.SequenceEqual("act"u8)) actAt = at;
            else if (key.SequenceEqual("seeds"u8)) seedsAt = at;
            else if (key.SequenceEqual("params"u8)) paramsAt = at;
            else if (key.SequenceEqual("randomise"u8)) randomiseAt = at;
            r.Skip();
        }
        CheckVersion(message, vAt);
        if (opAt < 0) throw Missing("op");
        var opReader = new MsgPackReader(message[opAt..], Limits);
        if (!opReader.TryReadStringSpan(out var opName)) throw BadType("op", "str");
        var op = ParseOp(opName);
        switch (op)
        {
            case SimOp.Step:
                ReadActions(message, actAt, numEnvs * actDim, actions);
                return new SimRequest(op, false, false);
            case SimOp.Reset:
                var hasSeeds = ReadSeeds(message, seedsAt, numEnvs, seeds);
                var hasParams = ReadParams(message, paramsAt, parameters);
                var hasRandomise = false;
                randomise?.Clear();
                if (randomise is not null && randomiseAt >= 0)
                {
                    var rr = new MsgPackReader(message[randomiseAt..], Limits);
                    hasRandomise = !rr.TryReadNil();
                    if (hasRandomise) ReadRandomisation(ref rr, randomise);
                }
                return new SimRequest(op, hasSeeds, hasParams, hasRandomise);
            default:
                return new SimRequest(op, false, false);
        }
    }

    private static void ReadActions(ReadOnlySpan<byte> message, int at, int expected, Span<float> actions)
    {
        if (at < 0) throw Missing("act");
        var r = new MsgPackReader(message[at..], Limits);
        if (!r.TryReadBinary(out var bytes)) throw BadType("act", "bin of float32");
        if (bytes.Length != expected * sizeof(float))
            throw new SimProtocolException(SimErrorCode.BadLength, $"act has {bytes.Length} bytes, expected {expected} float32 ({expected * sizeof(float)} bytes)");
        r = new MsgPackReader(message[at..], Limits);
        r.ReadBinary(actions[..expected]);
        for (var i = 0; i < expected; i++)
        {
            if (!float.IsFinite(actions[i]))
                throw new SimProtocolException(SimErrorCode.BadValue, $"act[{i}] is {actions[i]}: actions must be finite");
        }
    }

    private static bool ReadSeeds(ReadOnlySpan<byte> message, int at, int numEnvs, List<int> seeds)
    {
        seeds.Clear();
        if (at < 0) return false;
        var r = new MsgPackReader(message[at..], Limits);
        if (r.TryReadNil()) return false;
        if (!r.TryReadArrayHeader(out var n)) throw BadType("seeds", "array of int");
        if (n != numEnvs) throw new SimProtocolException(SimErrorCode.BadLength, $"{n} seeds for {numEnvs} envs");
        for (var i = 0; i < n; i++)
        {
            if (!r.TryReadInt64(out var s)) throw BadType($"seeds[{i}]", "int");
            if (s is < int.MinValue or > int.MaxValue)
                throw new SimProtocolException(SimErrorCode.BadValue, $"seeds[{i}] = {s} is outside int32");
            seeds.Add((int)s);
        }
        return true;
    }

    private static bool ReadParams(ReadOnlySpan<byte> message, int at, Dictionary<string, double> parameters)
    {
        parameters.Clear();
        if (at < 0) return false;
        var r = new MsgPackReader(message[at..], Limits);
        if (r.TryReadNil()) return false;
        if (!r.TryReadMapHeader(out var n)) throw BadType("params", "map of str to number");
        var seen = new MsgPackKeySet();
        for (var i = 0; i < n; i++)
        {
            var name = Encoding.UTF8.GetString(ReadKey(ref r, ref seen));
            if (!r.TryReadDouble(out var value)) throw BadType($"params.{name}", "number");
            parameters[name] = value;
        }
        return true;
    }

    // ---- replies (worker → client) --------------------------------------------------------------------------------

    public static void WriteHelloReply(IBufferWriter<byte> output, SimHello hello)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(11 + (hello.Session is null ? 0 : 1) + (hello.Randomisation is null ? 0 : 1));
        WriteOkHeader(ref w);
        w.WriteStringUtf8("task"u8);
        w.Write(hello.Spec.Name);
        w.WriteStringUtf8("num_envs"u8);
        w.Write(hello.NumEnvs);
        w.WriteStringUtf8("obs_dim"u8);
        w.Write(hello.Spec.ObsDim);
        w.WriteStringUtf8("act_dim"u8);
        w.Write(hello.Spec.ActDim);
        w.WriteStringUtf8("act_low"u8);
        WriteFloats(ref w, hello.Spec.ActLow);
        w.WriteStringUtf8("act_high"u8);
        WriteFloats(ref w, hello.Spec.ActHigh);
        w.WriteStringUtf8("max_episode_steps"u8);
        w.Write(hello.Spec.MaxEpisodeSteps);
        w.WriteStringUtf8("params"u8);
        w.WriteMapHeader(hello.Params.Count);
        foreach (var (name, value) in hello.Params)
        {
            w.Write(name);
            w.Write(value);
        }
        w.WriteStringUtf8("param_ranges"u8);
        w.WriteMapHeader(hello.ParamRanges.Count);
        foreach (var (name, (min, max)) in hello.ParamRanges)
        {
            w.Write(name);
            w.WriteArrayHeader(2);
            w.Write(min);
            w.Write(max);
        }
        if (hello.Session is { } session)
        {
            w.WriteStringUtf8("session"u8);
            w.Write(session);
        }
        if (hello.Randomisation is { } randomisation)
        {
            w.WriteStringUtf8("randomise"u8);
            WriteRandomisation(ref w, randomisation);
        }
    }

    /// <summary>The reset reply: first observations, num_envs × obs_dim (and each episode's drawn parameters when the
    /// batch has randomised ones).</summary>
    public static void WriteResetReply(IBufferWriter<byte> output, VectorBatch batch)
    {
        var w = new MsgPackWriter(output);
        var withParams = batch.EpisodeParamNames.Count > 0;
        w.WriteMapHeader(withParams ? 4 : 3);
        WriteOkHeader(ref w);
        w.WriteStringUtf8("obs"u8);
        w.WriteBinary(batch.Obs);
        if (withParams) WriteEpisodeParams(ref w, batch);
    }

    public static void WriteStepReply(IBufferWriter<byte> output, VectorBatch batch)
    {
        var w = new MsgPackWriter(output);
        var withParams = batch.EpisodeParamNames.Count > 0;
        w.WriteMapHeader(withParams ? 8 : 7);
        WriteOkHeader(ref w);
        w.WriteStringUtf8("obs"u8);
        w.WriteBinary(batch.Obs);
        w.WriteStringUtf8("reward"u8);
        w.WriteBinary(batch.Reward);
        w.WriteStringUtf8("terminated"u8);
        w.WriteBinary(batch.Terminated);
        w.WriteStringUtf8("truncated"u8);
        w.WriteBinary(batch.Truncated);
        w.WriteStringUtf8("final_obs"u8);
        w.WriteBinary(batch.FinalObs);
        if (withParams) WriteEpisodeParams(ref w, batch);
    }

    /// <summary><c>episode_params</c>: <c>{"names": [str], "values": bin}</c>, values little-endian float64, num_envs × names
    /// row-major: each env's current episode (after an automatic reset, the new one's).</summary>
    private static void WriteEpisodeParams(ref MsgPackWriter w, VectorBatch batch)
    {
        w.WriteStringUtf8("episode_params"u8);
        w.WriteMapHeader(2);
        w.WriteStringUtf8("names"u8);
        w.WriteArrayHeader(batch.EpisodeParamNames.Count);
        foreach (var name in batch.EpisodeParamNames) w.Write(name);
        w.WriteStringUtf8("values"u8);
        w.WriteBinary(System.Runtime.InteropServices.MemoryMarshal.AsBytes(batch.EpisodeParams.AsSpan()));
    }

    /// <summary>A randomisation as a map: name → {"dist": str, "low": f64, "high": f64, and for normal "mean", "std"}.</summary>
    private static void WriteRandomisation(ref MsgPackWriter w, IReadOnlyList<ParameterDistribution> randomisation)
    {
        w.WriteMapHeader(randomisation.Count);
        foreach (var d in randomisation)
        {
            w.Write(d.Name);
            var normal = d.Kind == DistributionKind.Normal;
            w.WriteMapHeader(normal ? 5 : 3);
            w.WriteStringUtf8("dist"u8);
            w.Write(ParameterDistribution.KindName(d.Kind));
            w.WriteStringUtf8("low"u8);
            w.Write(d.Low);
            w.WriteStringUtf8("high"u8);
            w.Write(d.High);
            if (normal)
            {
                w.WriteStringUtf8("mean"u8);
                w.Write(d.Mean);
                w.WriteStringUtf8("std"u8);
                w.Write(d.Std);
            }
        }
    }

    /// <summary>Reads a randomisation map (see <see cref="WriteRandomisation"/>); a malformed entry is <c>bad_type</c> or
    /// <c>bad_value</c>, naming the parameter. Whether the task has the parameters is the worker's to check.</summary>
    private static void ReadRandomisation(ref MsgPackReader r, List<ParameterDistribution> into)
    {
        into.Clear();
        if (!r.TryReadMapHeader(out var n)) throw BadType("randomise", "map of str to distribution");
        var seen = new MsgPackKeySet();
        for (var i = 0; i < n; i++)
        {
            var name = Encoding.UTF8.GetString(ReadKey(ref r, ref seen));
            if (!r.TryReadMapHeader(out var fields)) throw BadType($"randomise.{name}", "map {dist, low, high[, mean, std]}");
            var inner = new MsgPackKeySet();
            string? dist = null;
            double low = double.NaN, high = double.NaN, mean = 0, std = 0;
            for (; fields > 0; fields--)
            {
                var key = ReadKey(ref r, ref inner);
                if (key.SequenceEqual("dist"u8)) dist = r.TryReadString(out var d) ? d : throw BadType($"randomise.{name}.dist", "str");
                else if (key.SequenceEqual("low"u8)) low = r.TryReadDouble(out var v) ? v : throw BadType($"randomise.{name}.low", "number");
                else if (key.SequenceEqual("high"u8)) high = r.TryReadDouble(out var v) ? v : throw BadType($"randomise.{name}.high", "number");
                else if (key.SequenceEqual("mean"u8)) mean = r.TryReadDouble(out var v) ? v : throw BadType($"randomise.{name}.mean", "number");
                else if (key.SequenceEqual("std"u8)) std = r.TryReadDouble(out var v) ? v : throw BadType($"randomise.{name}.std", "number");
                else r.Skip();
            }
            if (dist is null) throw Missing($"randomise.{name}.dist");
            var kind = ParameterDistribution.KindOf(dist)
                ?? throw new SimProtocolException(SimErrorCode.BadValue, $"randomise.{name}.dist = \"{dist}\" is none of uniform, log_uniform, normal");
            var distribution = new ParameterDistribution(name, kind, low, high, mean, std);
            if (distribution.Problem() is { } problem) throw new SimProtocolException(SimErrorCode.BadValue, problem);
            into.Add(distribution);
        }
    }

    /// <summary>The close reply, or a ping's (with the worker's session).</summary>
    public static void WriteOkReply(IBufferWriter<byte> output, ulong? session = null)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(session is null ? 2 : 3);
        WriteOkHeader(ref w);
        if (session is { } s)
        {
            w.WriteStringUtf8("session"u8);
            w.Write(s);
        }
    }

    public static void WriteError(IBufferWriter<byte> output, string code, string message)
    {
        var w = new MsgPackWriter(output);
        w.WriteMapHeader(3);
        WriteHeaderV(ref w);
        w.WriteStringUtf8("ok"u8);
        w.Write(false);
        w.WriteStringUtf8("error"u8);
        w.WriteMapHeader(2);
        w.WriteStringUtf8("code"u8);
        w.Write(code);
        w.WriteStringUtf8("message"u8);
        w.Write(message);
    }

    // ---- reply decoding (client side) -------------------------------------------------------------------------------

    public static SimHello ReadHelloReply(ReadOnlySpan<byte> message)
    {
        try
        {
            var r = OpenReply(message, out var count);
            var seen = new MsgPackKeySet();
            string? task = null;
            int numEnvs = -1, obsDim = -1, actDim = -1, maxSteps = -1;
            float[]? low = null, high = null;
            var parameters = new Dictionary<string, double>();
            var ranges = new Dictionary<string, (double, double)>();
            ulong? session = null;
            List<ParameterDistribution>? randomisation = null;
            for (; count > 0; count--)
            {
                var key = ReadKey(ref r, ref seen);
                if (key.SequenceEqual("randomise"u8)) ReadRandomisation(ref r, randomisation = []);
                else if (key.SequenceEqual("task"u8)) task = r.TryReadString(out var t) ? t : throw BadType("task", "str");
                else if (key.SequenceEqual("num_envs"u8)) numEnvs = ReadCount(ref r, "num_envs");
                else if (key.SequenceEqual("obs_dim"u8)) obsDim = ReadCount(ref r, "obs_dim");
                else if (key.SequenceEqual("act_dim"u8)) actDim = ReadCount(ref r, "act_dim");
                else if (key.SequenceEqual("max_episode_steps"u8)) maxSteps = ReadCount(ref r, "max_episode_steps");
                else if (key.SequenceEqual("act_low"u8)) low = ReadFloatArray(ref r, "act_low");
                else if (key.SequenceEqual("act_high"u8)) high = ReadFloatArray(ref r, "act_high");
                else if (key.SequenceEqual("params"u8)) ReadNumberMap(ref r, "params", parameters);
                else if (key.SequenceEqual("param_ranges"u8)) ReadRanges(ref r, ranges);
                else if (key.SequenceEqual("session"u8)) session = r.TryReadUInt64(out var s) ? s : throw BadType("session", "uint");
                else r.Skip();
            }
            if (task is null) throw Missing("task");
            if (numEnvs < 1) throw Missing("num_envs");
            if (obsDim < 1) throw Missing("obs_dim");
            if (actDim < 1) throw Missing("act_dim");
            if (maxSteps < 1) throw Missing("max_episode_steps");
            if (low is null) throw Missing("act_low");
            if (high is null) throw Missing("act_high");
            if (low.Length != actDim || high.Length != actDim)
                throw new SimProtocolException(SimErrorCode.BadLength, $"act_low/act_high have {low.Length}/{high.Length} values for act_dim {actDim}");
            return new SimHello(new TaskSpec(task, obsDim, actDim, low, high, maxSteps), numEnvs, parameters, ranges, session, randomisation);
        }
        catch (MsgPackException e)
        {
            throw Translate(e);
        }
    }

    /// <summary>Decodes a reset reply into <paramref name="obs"/> (exactly its length), and the episodes' drawn
    /// parameters into <paramref name="episodeParams"/> when it names any.</summary>
    public static void ReadResetReply(ReadOnlySpan<byte> message, Span<float> obs, EpisodeParamsTarget episodeParams = default)
    {
        try
        {
            var r = OpenReply(message, out var count);
            var seen = new MsgPackKeySet();
            var got = false;
            var gotParams = episodeParams.Names.Length == 0;
            for (; count > 0; count--)
            {
                var key = ReadKey(ref r, ref seen);
                if (key.SequenceEqual("obs"u8)) { ReadFloats(ref r, "obs", obs); got = true; }
                else if (key.SequenceEqual("episode_params"u8) && !gotParams) { ReadEpisodeParams(ref r, episodeParams); gotParams = true; }
                else r.Skip();
            }
            if (!got) throw Missing("obs");
            if (!gotParams) throw Missing("episode_params (the worker does not randomise as asked)");
        }
        catch (MsgPackException e)
        {
            throw Translate(e);
        }
    }

    /// <summary>Decodes a step reply into the given rows (each exactly its length; flags must be 0 or 1).</summary>
    public static void ReadStepReply(ReadOnlySpan<byte> message, Span<float> obs, Span<float> reward, Span<byte> terminated,
        Span<byte> truncated, Span<float> finalObs, EpisodeParamsTarget episodeParams = default)
    {
        try
        {
            var r = OpenReply(message, out var count);
            var seen = new MsgPackKeySet();
            var got = episodeParams.Names.Length == 0 ? 32 : 0;
            for (; count > 0; count--)
            {
                var key = ReadKey(ref r, ref seen);
                if (key.SequenceEqual("obs"u8)) { ReadFloats(ref r, "obs", obs); got |= 1; }
                else if (key.SequenceEqual("reward"u8)) { ReadFloats(ref r, "reward", reward); got |= 2; }
                else if (key.SequenceEqual("terminated"u8)) { ReadFlags(ref r, "terminated", terminated); got |= 4; }
                else if (key.SequenceEqual("truncated"u8)) { ReadFlags(ref r, "truncated", truncated); got |= 8; }
                else if (key.SequenceEqual("final_obs"u8)) { ReadFloats(ref r, "final_obs", finalObs); got |= 16; }
                else if (key.SequenceEqual("episode_params"u8) && (got & 32) == 0) { ReadEpisodeParams(ref r, episodeParams); got |= 32; }
                else r.Skip();
            }
            if (got != 63) throw MissingStepKeys(got);
        }
        catch (MsgPackException e)
        {
            throw Translate(e);
        }
    }

    /// <summary>Decodes a close or ping reply; returns the session where the worker sent one.</summary>
    public static ulong? ReadOkReply(ReadOnlySpan<byte> message)
    {
        try
        {
            var r = OpenReply(message, out var count);
            var seen = new MsgPackKeySet();
            ulong? session = null;
            for (; count > 0; count--)
            {
                var key = ReadKey(ref r, ref seen);
                if (key.SequenceEqual("session"u8)) session = r.TryReadUInt64(out var s) ? s : throw BadType("session", "uint");
                else r.Skip();
            }
            return session;
        }
        catch (MsgPackException e)
        {
            throw Translate(e);
        }
    }

    // ---- shared pieces ----------------------------------------------------------------------------------------------

    public static ReadOnlySpan<byte> OpName(SimOp op) => op switch
    {
        SimOp.Hello => "hello"u8,
        SimOp.Reset => "reset"u8,
        SimOp.Step => "step"u8,
        SimOp.Close => "close"u8,
        SimOp.Ping => "ping"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static SimOp ParseOp(ReadOnlySpan<byte> name)
    {
        foreach (var op in (ReadOnlySpan<SimOp>)[SimOp.Hello, SimOp.Reset, SimOp.Step, SimOp.Close, SimOp.Ping])
        {
            if (name.SequenceEqual(OpName(op))) return op;
        }
        throw new SimProtocolException(SimErrorCode.UnknownOp, $"unknown op \"{Shown(name)}\" (known: hello, reset, step, close, ping)");
    }

    private static void WriteHeaderV(ref MsgPackWriter w)
    {
        w.WriteStringUtf8("v"u8);
        w.Write(Version);
    }

    private static void WriteOkHeader(ref MsgPackWriter w)
    {
        WriteHeaderV(ref w);
        w.WriteStringUtf8("ok"u8);
        w.Write(true);
    }

    private static void WriteFloats(ref MsgPackWriter w, float[] values)
    {
        w.WriteArrayHeader(values.Length);
        foreach (var v in values) w.Write(v);
    }

    /// <summary>Validates the whole message (one value, no trailing bytes, depth, UTF-8) and opens its top-level map.</summary>
    private static MsgPackReader OpenMap(ReadOnlySpan<byte> message, out int count)
    {
        MsgPackReader.ValidateSingleValue(message, Limits);
        var r = new MsgPackReader(message, Limits);
        if (!r.TryReadMapHeader(out count))
            throw new SimProtocolException(SimErrorCode.Malformed, $"a message is a map, got {r.PeekType()}");
        return r;
    }

    private static void CheckVersion(ReadOnlySpan<byte> message, int vAt)
    {
        if (vAt < 0) throw Missing("v");
        var r = new MsgPackReader(message[vAt..], Limits);
        if (r.PeekType() != MsgPackType.Integer) throw BadType("v", "int");
        // Any integer but 1 names another version, a uint 64 above Int64.MaxValue too (it is not an out-of-range value).
        var v = message[vAt] == MsgPackCode.UInt64 ? r.ReadUInt64().ToString(CultureInfo.InvariantCulture) : r.ReadInt64().ToString(CultureInfo.InvariantCulture);
        if (v != "1") throw new SimProtocolException(SimErrorCode.BadVersion, $"protocol version {v} is not supported (this side speaks {Version})");
    }

    /// <summary>Opens a reply: checks v and ok; an error reply becomes <see cref="SimWorkerErrorException"/>. Returns a
    /// reader positioned on the first key and the number of pairs.</summary>
    private static MsgPackReader OpenReply(ReadOnlySpan<byte> message, out int count)
    {
        var r = OpenMap(message, out count);
        var seen = new MsgPackKeySet();
        var probe = r;
        int vAt = -1, okAt = -1, errorAt = -1;
        for (var n = count; n > 0; n--)
        {
            var key = ReadKey(ref probe, ref seen);
            if (key.SequenceEqual("v"u8)) vAt = probe.Position;
            else if (key.SequenceEqual("ok"u8)) okAt = probe.Position;
            else if (key.SequenceEqual("error"u8)) errorAt = probe.Position;
            probe.Skip();
        }
        CheckVersion(message, vAt);
        if (okAt < 0) throw Missing("ok");
        var okReader = new MsgPackReader(message[okAt..], Limits);
        if (!okReader.TryReadBoolean(out var ok)) throw BadType("ok", "bool");
        if (!ok) throw ReadError(message, errorAt);
        return r;
    }

    private static SimWorkerErrorException ReadError(ReadOnlySpan<byte> message, int at)
    {
        if (at < 0) throw Missing("error");
        var r = new MsgPackReader(message[at..], Limits);
        if (!r.TryReadMapHeader(out var n)) throw BadType("error", "map");
        var seen = new MsgPackKeySet();
        string? code = null, text = null;
        for (; n > 0; n--)
        {
            var key = ReadKey(ref r, ref seen);
            if (key.SequenceEqual("code"u8)) code = r.TryReadString(out var c) ? c : throw BadType("error.code", "str");
            else if (key.SequenceEqual("message"u8)) text = r.TryReadString(out var m) ? m : throw BadType("error.message", "str");
            else r.Skip();
        }
        return new SimWorkerErrorException(code ?? throw Missing("error.code"), text ?? throw Missing("error.message"));
    }

    private static ReadOnlySpan<byte> ReadKey(ref MsgPackReader r, ref MsgPackKeySet seen)
    {
        if (r.PeekType() != MsgPackType.String) throw BadType("map key", "str");
        return r.ReadUniqueKey(ref seen);
    }

    private static int ReadCount(ref MsgPackReader r, string key)
    {
        if (!r.TryReadInt64(out var v)) throw BadType(key, "int");
        if (v is < 1 or > int.MaxValue) throw new SimProtocolException(SimErrorCode.BadValue, $"{key} = {v} must be a positive int32");
        return (int)v;
    }

    private static float[] ReadFloatArray(ref MsgPackReader r, string key)
    {
        if (!r.TryReadArrayHeader(out var n)) throw BadType(key, "array of float");
        var values = new float[n];
        for (var i = 0; i < n; i++)
            values[i] = r.TryReadSingle(out var v) ? v : throw BadType($"{key}[{i}]", "float");
        return values;
    }

    private static void ReadNumberMap(ref MsgPackReader r, string key, Dictionary<string, double> into)
    {
        if (!r.TryReadMapHeader(out var n)) throw BadType(key, "map of str to number");
        var seen = new MsgPackKeySet();
        for (var i = 0; i < n; i++)
        {
            var name = Encoding.UTF8.GetString(ReadKey(ref r, ref seen));
            into[name] = r.TryReadDouble(out var v) ? v : throw BadType($"{key}.{name}", "number");
        }
    }

    private static void ReadRanges(ref MsgPackReader r, Dictionary<string, (double, double)> into)
    {
        if (!r.TryReadMapHeader(out var n)) throw BadType("param_ranges", "map of str to [min, max]");
        var seen = new MsgPackKeySet();
        for (var i = 0; i < n; i++)
        {
            var name = Encoding.UTF8.GetString(ReadKey(ref r, ref seen));
            if (!r.TryReadArrayHeader(out var len) || len != 2) throw BadType($"param_ranges.{name}", "[min, max]");
            var min = r.TryReadDouble(out var a) ? a : throw BadType($"param_ranges.{name}", "[min, max]");
            var max = r.TryReadDouble(out var b) ? b : throw BadType($"param_ranges.{name}", "[min, max]");
            into[name] = (min, max);
        }
    }

    private static void ReadFloats(ref MsgPackReader r, string key, Span<float> into)
    {
        if (!r.TryReadBinary(out var bytes)) throw BadType(key, "bin of float32");
        if (bytes.Length != into.Length * sizeof(float))
            throw new SimProtocolException(SimErrorCode.BadLength, $"{key} has {bytes.Length} bytes, expected {into.Length} float32");
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("sim protocol v1 decoding assumes a little-endian host");
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).CopyTo(into);
    }

    /// <summary>Reads <c>episode_params</c> into the target's rows; its names must be exactly the expected ones.</summary>
    private static void ReadEpisodeParams(ref MsgPackReader r, EpisodeParamsTarget target)
    {
        if (!r.TryReadMapHeader(out var n)) throw BadType("episode_params", "map {names, values}");
        var seen = new MsgPackKeySet();
        var got = 0;
        for (; n > 0; n--)
        {
            var key = ReadKey(ref r, ref seen);
            if (key.SequenceEqual("names"u8))
            {
                if (!r.TryReadArrayHeader(out var k)) throw BadType("episode_params.names", "array of str");
                if (k != target.Names.Length)
                    throw new SimProtocolException(SimErrorCode.BadLength, $"episode_params names {k} parameters, the client randomises {target.Names.Length}");
                for (var i = 0; i < k; i++)
                {
                    if (!r.TryReadStringSpan(out var name)) throw BadType($"episode_params.names[{i}]", "str");
                    if (!name.SequenceEqual(target.Names[i]))
                        throw new SimProtocolException(SimErrorCode.BadValue, $"episode_params.names[{i}] is \"{Shown(name)}\", expected \"{Encoding.UTF8.GetString(target.Names[i])}\"");
                }
                got |= 1;
            }
            else if (key.SequenceEqual("values"u8))
            {
                if (!r.TryReadBinary(out var bytes)) throw BadType("episode_params.values", "bin of float64");
                if (bytes.Length != target.Rows.Length * sizeof(double))
                    throw new SimProtocolException(SimErrorCode.BadLength, $"episode_params.values has {bytes.Length} bytes, expected {target.Rows.Length} float64");
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(bytes).CopyTo(target.Rows);
                got |= 2;
            }
            else r.Skip();
        }
        if (got != 3) throw Missing((got & 1) == 0 ? "episode_params.names" : "episode_params.values");
    }

    private static void ReadFlags(ref MsgPackReader r, string key, Span<byte> into)
    {
        if (!r.TryReadBinary(out var bytes)) throw BadType(key, "bin of uint8");
        if (bytes.Length != into.Length)
            throw new SimProtocolException(SimErrorCode.BadLength, $"{key} has {bytes.Length} bytes, expected {into.Length}");
        if (bytes.IndexOfAnyExcept((byte)0, (byte)1) is var bad and >= 0)
            throw new SimProtocolException(SimErrorCode.BadValue, $"{key}[{bad}] = {bytes[bad]}: flags are 0 or 1");
        bytes.CopyTo(into);
    }

    private static SimProtocolException Translate(MsgPackException e) => e.Kind switch
    {
        MsgPackErrorKind.DuplicateKey => new SimProtocolException(SimErrorCode.DuplicateKey, e.Message),
        MsgPackErrorKind.TypeMismatch => new SimProtocolException(SimErrorCode.BadType, e.Message),
        MsgPackErrorKind.IntegerOverflow => new SimProtocolException(SimErrorCode.BadValue, e.Message),
        _ => new SimProtocolException(SimErrorCode.Malformed, e.Message),
    };

    private static SimProtocolException Missing(string key) => new(SimErrorCode.MissingKey, $"missing key: {key}");

    // Its own method: a lambda capturing the caller's bit set would allocate a closure on every (successful) step.
    private static SimProtocolException MissingStepKeys(int got) =>
        Missing(string.Join(", ", new[] { "obs", "reward", "terminated", "truncated", "final_obs", "episode_params" }.Where((_, i) => (got & (1 << i)) == 0)));

    private static SimProtocolException BadType(string key, string expected) => new(SimErrorCode.BadType, $"{key} must be {expected}");

    /// <summary>A peer's string, shortened and made printable for an error message.</summary>
    private static string Shown(ReadOnlySpan<byte> utf8)
    {
        var s = Encoding.UTF8.GetString(utf8[..Math.Min(utf8.Length, 64)]);
        return new string(s.Select(c => char.IsControl(c) ? '?' : c).ToArray()) + (utf8.Length > 64 ? "…" : "");
    }
}
