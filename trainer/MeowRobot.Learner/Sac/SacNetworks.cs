using MeowRobot.Policy.Files;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.Sac;

/// <summary>CleanRL's <c>SoftQNetwork</c>: Q(s, a) = fc3(relu(fc2(relu(fc1([s, a]))))).</summary>
public sealed class SoftQNetwork : Module
{
    public SoftQNetwork(int obsDim, int actDim, int hidden, Rng rng)
    {
        Fc1 = RegisterModule("fc1", new Linear(obsDim + actDim, hidden, rng));
        Fc2 = RegisterModule("fc2", new Linear(hidden, hidden, rng));
        Fc3 = RegisterModule("fc3", new Linear(hidden, 1, rng));
    }

    public Linear Fc1 { get; }
    public Linear Fc2 { get; }
    public Linear Fc3 { get; }

    /// <summary>[N, 1]. The first layer runs on s and a as column blocks of fc1, so [s, a] is never built.</summary>
    public Tensor Forward(Tape tape, Tensor obs, Tensor act)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var h = tape.LinearColumns(act, Fc1.Weight, obs.Cols, null, tape.LinearColumns(obs, Fc1.Weight, 0, Fc1.Bias));
        h = tape.Relu(Fc2.Forward(tape, tape.Relu(h)));
        return Fc3.Forward(tape, h);
    }
}

/// <summary>
/// CleanRL's <c>Actor</c>: a Gaussian over pre-squash actions, μ = fc_mean(h), log σ = tanh(fc_logstd(h)) mapped into
/// [log_std_min, log_std_max], h = relu(fc2(relu(fc1(s)))); a = tanh(u) · action_scale + action_bias. The learner trains in
/// the tanh box (scale 1, bias 0: the loop rescales to the task's range), so its log π has the plain −log(1 − a² + 1e-6)
/// correction; a policy file carries the task's scale and bias in these buffers, as the official actor does.
/// </summary>
public sealed class SacActor : Module
{
    private readonly float _logStdMin, _logStdHalfRange;

    public SacActor(int obsDim, int actDim, SacOptions options, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(options);
        Fc1 = RegisterModule("fc1", new Linear(obsDim, options.Hidden, rng));
        Fc2 = RegisterModule("fc2", new Linear(options.Hidden, options.Hidden, rng));
        FcMean = RegisterModule("fc_mean", new Linear(options.Hidden, actDim, rng));
        FcLogStd = RegisterModule("fc_logstd", new Linear(options.Hidden, actDim, rng));
        ActionScale = RegisterBuffer("action_scale", new Tensor(actDim));
        ActionScale.Fill(1f);
        ActionBias = RegisterBuffer("action_bias", new Tensor(actDim));
        _logStdMin = options.LogStdMin;
        _logStdHalfRange = 0.5f * (options.LogStdMax - options.LogStdMin);
    }

    public Linear Fc1 { get; }
    public Linear Fc2 { get; }
    public Linear FcMean { get; }
    public Linear FcLogStd { get; }
    public Tensor ActionScale { get; }
    public Tensor ActionBias { get; }

    /// <summary>μ(s) and log σ(s), each [N, A].</summary>
    public (Tensor Mean, Tensor LogStd) Forward(Tape tape, Tensor obs)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var h = tape.Relu(Fc2.Forward(tape, tape.Relu(Fc1.Forward(tape, obs))));
        var logStd = tape.Tanh(FcLogStd.Forward(tape, h));
        // log_std_min + ½(max − min)(tanh + 1)
        logStd = tape.Add(tape.Mul(logStd, _logStdHalfRange), _logStdMin + _logStdHalfRange);
        return (FcMean.Forward(tape, h), logStd);
    }

    /// <summary>The reparameterised sample a = tanh(μ + σ ε) in the tanh box and its log π(a | s), [N, 1];
    /// <paramref name="noise"/> (ε, [N, A]) is a tape input the caller filled with standard normals.</summary>
    /// <remarks>log N(u; μ, σ) at u = μ + σ ε is −½ ε² − log σ − ½ log 2π exactly, so it is written that way: the same
    /// value and gradient as PyTorch's Normal.log_prob(rsample()), in which the ε-terms cancel.</remarks>
    public (Tensor Action, Tensor LogProb) Sample(Tape tape, Tensor obs, Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(noise);
        var (mean, logStd) = Forward(tape, obs);
        var action = tape.Tanh(tape.Add(mean, tape.Mul(tape.Exp(logStd), noise)));
        // Σ_j [log σ_j + log(1 − a_j² + 1e-6)] + Σ_j [½ ε_j² + ½ log 2π], negated.
        var perDim = tape.Add(logStd, tape.Log(tape.Add(tape.Sub(1f, tape.Square(action)), 1e-6f)));
        var constant = tape.Zeros(noise.Rows, 1);
        var eps = noise.Values;
        var c = constant.Values;
        for (var i = 0; i < noise.Rows; i++)
        {
            var sum = 0f;
            for (var j = 0; j < noise.Cols; j++) sum += 0.5f * eps[i * noise.Cols + j] * eps[i * noise.Cols + j];
            c[i] = sum + noise.Cols * HalfLog2Pi;
        }
        return (action, tape.Neg(tape.Add(tape.Sum(perDim, 1), constant)));
    }

    /// <summary>log π(a | s) of actions in the tanh box, [N, 1]: u = atanh(a) (a clamped to ±(1 − 1e-6)), then as
    /// <see cref="Sample"/> with ε = (u − μ)/σ.</summary>
    public Tensor LogProb(Tape tape, Tensor obs, Tensor action)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var (mean, logStd) = Forward(tape, obs);
        var a = tape.Clamp(action, -1f + 1e-6f, 1f - 1e-6f);
        var z = tape.Div(tape.Sub(tape.Atanh(a), mean), tape.Exp(logStd));
        var perDim = tape.Add(tape.Add(tape.Mul(tape.Square(z), 0.5f), logStd), tape.Log(tape.Add(tape.Sub(1f, tape.Square(a)), 1e-6f)));
        return tape.Neg(tape.Add(tape.Sum(perDim, 1), action.Cols * HalfLog2Pi));
    }

    /// <summary>tanh(μ(s)) in the tanh box: the deterministic action.</summary>
    public Tensor DeterministicAction(Tape tape, Tensor obs)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return tape.Tanh(Forward(tape, obs).Mean);
    }

    private static readonly float HalfLog2Pi = 0.5f * MathF.Log(2f * MathF.PI);
}

/// <summary>The networks a SAC policy file holds, named as CleanRL's script names its variables: <c>actor</c>,
/// <c>qf1</c>, <c>qf2</c> (so <c>actor.fc1.weight</c>, <c>qf1.fc3.bias</c>, …). The target critics are not part of it.</summary>
public sealed class SacNetworks : Module
{
    /// <summary>Initialises in CleanRL's order: actor, then qf1, then qf2 (PyTorch's default Linear initialisation).</summary>
    public SacNetworks(int obsDim, int actDim, SacOptions options, Rng rng)
    {
        Actor = RegisterModule("actor", new SacActor(obsDim, actDim, options, rng));
        Qf1 = RegisterModule("qf1", new SoftQNetwork(obsDim, actDim, options.Hidden, rng));
        Qf2 = RegisterModule("qf2", new SoftQNetwork(obsDim, actDim, options.Hidden, rng));
    }

    public SacActor Actor { get; }
    public SoftQNetwork Qf1 { get; }
    public SoftQNetwork Qf2 { get; }

    /// <summary>The networks of a SAC policy file (its architecture from the metadata).</summary>
    public static SacNetworks FromFile(PolicyFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var m = file.Metadata;
        if (m.Algorithm != PolicyAlgorithm.Sac) throw new ArgumentException($"policy file is of algorithm {m.Algorithm.Name()}, not SAC", nameof(file));
        var options = new SacOptions { Hidden = m.Sac.Hidden, LogStdMin = (float)m.Sac.LogStdMin, LogStdMax = (float)m.Sac.LogStdMax };
        var networks = new SacNetworks(m.ObsDim, m.ActDim, options, new Rng(0));
        networks.LoadStateDict(file.Tensors.ToDictionary(t => t.Name, t => t.Values, StringComparer.Ordinal));
        return networks;
    }

    /// <summary><c>policy query</c>: the deterministic action tanh(μ(s)) in the tanh box, Q1 and Q2 at the given actions
    /// (else at that action), and log π of the given actions.</summary>
    internal List<(string, Tensor)> Query(Tape tape, Tensor obs, Tensor? given)
    {
        var action = Actor.DeterministicAction(tape, obs);
        var outputs = new List<(string, Tensor)>
        {
            ("action", action), ("q1", Qf1.Forward(tape, obs, given ?? action)), ("q2", Qf2.Forward(tape, obs, given ?? action)),
        };
        if (given is not null) outputs.Add(("log_prob", Actor.LogProb(tape, obs, given)));
        return outputs;
    }
}
