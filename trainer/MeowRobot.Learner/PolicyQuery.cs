using System.Text.Json;
using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>The input of <c>policy query</c> is not what it must be.</summary>
public sealed class PolicyQueryException(string message) : Exception(message);

/// <summary>
/// A query of a policy (<c>./meow trainer policy query</c>): <c>{"obs": [[...], ...], "act": [[...], ...]}</c>, act optional; rows row-major.
/// Its output (<see cref="Run"/>) is <c>{"action": [[...]], "q1", "q2"}</c>, plus <c>"v1", "v2"</c> for MEow (its exact
/// soft values) and <c>"log_prob"</c> when act is given (MEow and SAC: S2AC's density is defined at its own SVGD particles
/// only, so an S2AC query has no log_prob).
/// Read with <see cref="Utf8JsonReader"/> straight into float arrays; every malformed shape is a
/// <see cref="PolicyQueryException"/> naming what is wrong.
/// </summary>
public sealed record PolicyQuery(int Rows, float[] Obs, float[]? Act)
{
    /// <summary>At most this many rows per query (bounds the memory a hostile file can make us allocate).</summary>
    public const int MaxRows = 1 << 20;

    public static PolicyQuery Parse(ReadOnlySpan<byte> json, int obsDim, int actDim)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new PolicyQueryException("input must be a JSON object");
            List<float>? obs = null, act = null;
            int obsRows = 0, actRows = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("obs"))
                {
                    if (obs is not null) throw new PolicyQueryException("\"obs\" given twice");
                    obs = ReadMatrix(ref reader, "obs", obsDim, out obsRows);
                }
                else if (reader.ValueTextEquals("act"))
                {
                    if (act is not null) throw new PolicyQueryException("\"act\" given twice");
                    act = ReadMatrix(ref reader, "act", actDim, out actRows);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            reader.Read(); // trailing content after the object throws (the reader allows one top-level value)
            if (obs is null) throw new PolicyQueryException("input has no \"obs\"");
            if (obsRows == 0) throw new PolicyQueryException("\"obs\" has no rows");
            if (act is not null && actRows != obsRows) throw new PolicyQueryException($"\"act\" has {actRows} rows, \"obs\" {obsRows}");
            return new PolicyQuery(obsRows, obs.ToArray(), act?.ToArray());
        }
        catch (JsonException e)
        {
            throw new PolicyQueryException("input is not valid JSON: " + e.Message);
        }
    }

    private static List<float> ReadMatrix(ref Utf8JsonReader reader, string name, int cols, out int rows)
    {
        rows = 0;
        var values = new List<float>();
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) throw new PolicyQueryException($"\"{name}\" must be an array of rows");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartArray) throw new PolicyQueryException($"\"{name}\" row {rows} is not an array");
            if (++rows > MaxRows) throw new PolicyQueryException($"\"{name}\" has more than {MaxRows} rows");
            var n = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetSingle(out var v) || !float.IsFinite(v))
                    throw new PolicyQueryException($"\"{name}\" row {rows - 1} holds a value that is not a finite float32 number");
                if (++n > cols) throw new PolicyQueryException($"\"{name}\" row {rows - 1} has more than {cols} values");
                values.Add(v);
            }
            if (n != cols) throw new PolicyQueryException($"\"{name}\" row {rows - 1} has {n} values, the policy expects {cols}");
        }
        return values;
    }

    /// <summary>Evaluates <paramref name="file"/> on the query and returns the output JSON: what each algorithm's networks
    /// define (MEow: action, q1, q2, v1, v2 and log_prob; SAC: action, q1, q2 and log_prob; S2AC: the deterministic action
    /// as the trainer acts (the amortized network at ξ = 0, or the highest-Q SVGD particle for an SVGD-actor file), q1 and
    /// q2). Actions are in the policy's tanh box (before any action scaling).</summary>
    public static byte[] Run(PolicyFile file, PolicyQuery query)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(query);
        var m = file.Metadata;
        var obsValues = query.Obs;
        if (m.ObsNorm is { } norm)
        {
            obsValues = new float[query.Obs.Length];
            ObservationNormalizer.Apply(norm.Mean, ObservationNormalizer.InverseStd(norm), norm.Clip, query.Obs, obsValues);
        }
        var tape = new Tape();
        using var _ = tape.NoGrad();
        var obs = tape.Input(obsValues, query.Rows, m.ObsDim);
        var given = query.Act is { } a ? tape.Input(a, query.Rows, m.ActDim) : null;
        var outputs = m.Algorithm switch
        {
            PolicyAlgorithm.Meow => Meow(FlowPolicy.FromFile(file), tape, obs, given),
            PolicyAlgorithm.Sac => Sac.SacNetworks.FromFile(file).Query(tape, obs, given),
            PolicyAlgorithm.S2ac => SteinQuery(S2ac.S2acAlgorithm.FromFile(file, new Rng(0)), tape, obs, given),
            _ => throw new PolicyQueryException($"policy query does not evaluate {m.Algorithm.Name()} files"),
        };

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (name, values) in outputs)
            {
                w.WritePropertyName(name);
                if (name != "action") // one number per row; actions are rows
                {
                    WriteArray(w, values.Values);
                    continue;
                }
                w.WriteStartArray();
                for (var r = 0; r < query.Rows; r++) WriteArray(w, values.Row(r));
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static List<(string, Tensor)> Meow(FlowPolicy policy, Tape tape, Tensor obs, Tensor? given)
    {
        policy.Eval();
        var action = policy.DeterministicAction(tape, obs);
        var (q1, q2) = policy.SoftQ(tape, obs, given ?? action);
        var (v1, v2) = policy.SoftValue(tape, obs);
        var outputs = new List<(string, Tensor)> { ("action", action), ("q1", q1), ("q2", q2), ("v1", v1), ("v2", v2) };
        if (given is not null) outputs.Add(("log_prob", policy.LogProb(tape, obs, given)));
        return outputs;
    }

    private static List<(string, Tensor)> SteinQuery(S2ac.S2acAlgorithm algorithm, Tape tape, Tensor obs, Tensor? given)
    {
        var actions = new float[obs.Rows * algorithm.ActDim];
        algorithm.DeterministicActions(obs.Values, obs.Rows, actions);
        var action = tape.Input(actions, obs.Rows, algorithm.ActDim);
        var policy = algorithm.Policy;
        return [("action", action), ("q1", policy.Q1.Forward(tape, obs, given ?? action)), ("q2", policy.Q2.Forward(tape, obs, given ?? action))];
    }

    private static void WriteArray(Utf8JsonWriter w, ReadOnlySpan<float> values)
    {
        w.WriteStartArray();
        foreach (var v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }
}
