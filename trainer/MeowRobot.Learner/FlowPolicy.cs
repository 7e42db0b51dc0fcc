using MeowRobot.Learner.Flow;
using MeowRobot.Policy.Files;
using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner;

/// <summary>
/// MEow's flow policy, which is at once the soft Q-function and the policy: a state-conditioned
/// <see cref="Flow.Prior"/> pushed through additive <see cref="Coupling"/> layers and a tanh <see cref="Squash"/>, with the
/// <see cref="RewardShift"/> networks b1, b2. Module names reproduce the official PyTorch state dict
/// (<c>prior.log_scale.net.*</c>, <c>flows.k.b</c>, <c>flows.k.t.net.*</c>, <c>flows.C.scale1/2.net.*</c>).
/// Operations (SoftQ, SoftValue, log π, sampling, the deterministic action) are in SoftQ.cs and SoftValue.cs.
/// Dropout is active in <see cref="Module.Training"/> mode only.
/// </summary>
public sealed partial class FlowPolicy : Module
{
    private readonly float _halfLog2PiA;

    public FlowPolicy(FlowShape shape, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(rng);
        shape.Validate();
        Shape = shape;
        var couplings = new Coupling[2 * shape.FlowLayers];
        for (var k = 0; k < couplings.Length; k++) couplings[k] = new Coupling(shape, k, rng);
        Couplings = couplings;
        Shift = new RewardShift(shape, rng);
        RegisterModule("flows", new FlowSequence(couplings, Shift));
        Prior = RegisterModule("prior", new Prior(shape, rng));
        _halfLog2PiA = 0.5f * shape.ActDim * MathF.Log(2f * MathF.PI);
    }

    public FlowShape Shape { get; }
    public Prior Prior { get; }
    /// <summary>flows.0 … flows.C−1, applied in this order from latent to action.</summary>
    public IReadOnlyList<Coupling> Couplings { get; }
    /// <summary>flows.C: identity on z, adds b_k(s) to Q and V.</summary>
    public RewardShift Shift { get; }

    /// <summary>A policy with the weights and shape of a policy file (the golden files load as they are).</summary>
    public static FlowPolicy FromFile(PolicyFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (file.Metadata.Algorithm != PolicyAlgorithm.Meow)
            throw new ArgumentException($"policy file is of algorithm {file.Metadata.Algorithm.Name()}, not a MEow flow", nameof(file));
        var policy = new FlowPolicy(ShapeOf(file.Metadata), new Rng(0));
        policy.Load(file);
        return policy;
    }

    /// <summary>The network shape a policy file's metadata describes (dropout as the official default; it only acts while training).</summary>
    public static FlowShape ShapeOf(PolicyMetadata m) => new()
    {
        ObsDim = m.ObsDim,
        ActDim = m.ActDim,
        Hidden = m.Hidden,
        HiddenLayers = m.HiddenLayers,
        FlowLayers = m.FlowLayers,
        ShiftHidden = m.ShiftHidden,
        LayerNorm = m.LayerNorm,
        SigmaMin = (float)m.SigmaMin,
        SigmaMax = (float)m.SigmaMax,
        Alpha = (float)m.Alpha,
    };

    /// <summary>Loads every tensor of a policy file; its metadata must describe this network's shape.</summary>
    /// <exception cref="ArgumentException">The file's architecture differs from this policy's.</exception>
    public void Load(PolicyFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var theirs = ShapeOf(file.Metadata) with { Dropout = Shape.Dropout };
        if (theirs != Shape) throw new ArgumentException($"policy file describes {theirs}, this policy is {Shape}", nameof(file));
        LoadStateDict(file.Tensors.ToDictionary(t => t.Name, t => t.Values, StringComparer.Ordinal));
    }

    /// <summary>This policy as a policy file: official names and shapes, metadata from the shape plus what
    /// <paramref name="extra"/> adds (observation normalisation, action scaling, task, version…).</summary>
    public PolicyFile ToFile(Func<PolicyMetadata, PolicyMetadata>? extra = null)
    {
        var m = new PolicyMetadata
        {
            ObsDim = Shape.ObsDim,
            ActDim = Shape.ActDim,
            Alpha = PolicyMetadata.FromSingle(Shape.Alpha),
            SigmaMin = PolicyMetadata.FromSingle(Shape.SigmaMin),
            SigmaMax = PolicyMetadata.FromSingle(Shape.SigmaMax),
            Hidden = Shape.Hidden,
            HiddenLayers = Shape.HiddenLayers,
            FlowLayers = Shape.FlowLayers,
            ShiftHidden = Shape.ShiftHidden,
            LayerNorm = Shape.LayerNorm,
        };
        if (extra is not null) m = extra(m);
        var layout = PolicyLayout.Tensors(m).ToDictionary(s => s.Name, s => s.Shape, StringComparer.Ordinal);
        return new PolicyFile(m, StateEntries().Select(e =>
            new PolicyTensor(e.Name, layout.TryGetValue(e.Name, out var shape) ? shape : [e.Tensor.Length], e.Tensor.ToArray())));
    }

    /// <summary>Latent z → pre-squash u through the couplings in order.</summary>
    public Tensor PushForward(Tape tape, Tensor z, Tensor obs)
    {
        foreach (var c in Couplings) z = c.Forward(tape, z, obs);
        return z;
    }

    /// <summary>Pre-squash u → latent z through the couplings in reverse.</summary>
    public Tensor PullBack(Tape tape, Tensor u, Tensor obs)
    {
        for (var k = Couplings.Count - 1; k >= 0; k--) u = Couplings[k].Inverse(tape, u, obs);
        return u;
    }

    /// <summary>
    /// The action's log-density without the prior's normaliser, [N, 1]: −½ Σ (z / σ(s))² − Σ log(1 − a² + ε), z the flow's
    /// inverse of a. Q_k/α is this plus b_k(s); log π is this minus <see cref="LogNormalizer"/>. With
    /// <paramref name="copies"/> &gt; 1 the couplings run on that many stacked copies of the batch (independent dropout
    /// masks), [copies·N, 1]; the squash and σ, which have no dropout, run once and are repeated.
    /// </summary>
    internal Tensor UnnormalizedLogDensity(Tape tape, Tensor obs, Tensor act, Tensor logSigma, int copies = 1)
    {
        var (u, logDet) = Squash.Inverse(tape, act);
        var sigma = tape.Exp(logSigma);
        if (copies > 1)
        {
            u = tape.RepeatRows(u, copies);
            logDet = tape.RepeatRows(logDet, copies);
            sigma = tape.RepeatRows(sigma, copies);
        }
        var z = PullBack(tape, u, obs);
        var quadratic = tape.Mul(tape.Sum(tape.Square(tape.Div(z, sigma)), 1), -0.5f);
        return tape.Add(quadratic, logDet);
    }

    /// <summary>log of the prior's normaliser, Σ log σ(s) + ½ A log 2π, [N, 1]: V_k/α minus b_k(s).</summary>
    internal Tensor LogNormalizer(Tape tape, Tensor logSigma) => tape.Add(tape.Sum(logSigma, 1), _halfLog2PiA);

    /// <summary>The official <c>nn.ModuleList</c> <c>flows</c>: couplings 0..C−1, then the reward shift as flows.C.</summary>
    private sealed class FlowSequence : Module
    {
        public FlowSequence(IReadOnlyList<Coupling> couplings, RewardShift shift)
        {
            for (var k = 0; k < couplings.Count; k++) RegisterModule(Name(k), couplings[k]);
            RegisterModule(Name(couplings.Count), shift);
        }

        private static string Name(int k) => k.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
