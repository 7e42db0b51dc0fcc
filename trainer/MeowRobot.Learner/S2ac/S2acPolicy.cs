using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.S2ac;

/// <summary>What the actor gives for a batch of states: per particle [B·P, ·] (state-major), per state [B, 1].</summary>
public readonly record struct ActorSample(
    Tensor Action, Tensor PreTanh, Tensor? LogProbInitial, Tensor? LogProbSvgd, Tensor? LogProbTanh, Tensor? LogProb, Tensor? LastQ);

/// <summary>
/// S2AC's actor (<c>pi</c>): where the particles start — the learned initial distribution <c>p0</c>, or a fixed
/// N(0, σ₀²) without parameters (<see cref="S2acInitial"/>) — the SVGD steps that move them, and optionally the
/// amortized sampling network <c>f</c> (Algorithm 2 of the paper): a = f(s, ξ), ξ ~ N(0, I), trained to follow the Stein
/// direction, so that acting is one forward pass. Its input is concat(s, ξ), ELU after every hidden Linear, output A
/// (pre-tanh).
/// </summary>
public sealed class SteinActor : Module
{
    public SteinActor(S2acOptions o, Rng rng)
    {
        Options = o;
        if (o.InitialDistribution == S2acInitial.Learned)
            P0 = RegisterModule("p0", new InitialDistribution(o, rng));
        if (o.Amortized)
            Sampler = RegisterModule("f", new SamplingNetwork(o, rng));
        Stein = new SteinSampler(o.Particles, o.SvgdSteps, o.SvgdLearningRate, o.ActDim);
    }

    public S2acOptions Options { get; }
    /// <summary>The learned initial distribution; null with the fixed one.</summary>
    public InitialDistribution? P0 { get; }
    /// <summary>The amortized sampling network f(s, ξ); null when <see cref="S2acOptions.Amortized"/> is off.</summary>
    public SamplingNetwork? Sampler { get; }
    public SteinSampler Stein { get; }

    /// <summary>The noise ε of <see cref="Sample"/>: for p0, standard normal within ±3 (the official rejection); for the
    /// fixed start, standard normal.</summary>
    public void DrawNoise(Rng rng, Span<float> eps)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (P0 is null) rng.FillNormal(eps);
        else InitialDistribution.DrawNoise(rng, eps, Options.ActDim);
    }

    /// <summary>
    /// P particles per state of <paramref name="obs"/> [B, S] from a0 = μ + σ ε (<paramref name="eps"/> [B·P·A], from
    /// <see cref="DrawNoise"/>; μ = 0, σ = σ₀ with the fixed start), moved by the SVGD steps on the critics; actions
    /// act_limit · tanh(a_L). With
    /// <paramref name="withLogProb"/> also each log-density term and log π per state (mean over its particles of initial
    /// + SVGD + tanh). <paramref name="differentiable"/>: the whole computation keeps its history (the actor loss).
    /// </summary>
    public ActorSample Sample(Tape tape, Critic q1, Critic q2, Tensor obs, ReadOnlySpan<float> eps, bool differentiable, bool withLogProb)
    {
        int p = Options.Particles, a = Options.ActDim, b = obs.Rows;
        Tensor particleObs, a0;
        Tensor? mu = null, sigma = null;
        using (Untracked(tape, differentiable))
        {
            particleObs = tape.RepeatEachRow(obs, p);
            if (P0 is null) a0 = tape.Mul(tape.Input(eps, b * p, a), Options.InitialSigma);
            else
            {
                var (m, s) = P0.Forward(tape, obs);
                mu = tape.RepeatEachRow(m, p);
                sigma = tape.RepeatEachRow(s, p);
                a0 = tape.Add(mu, tape.Mul(tape.Input(eps, b * p, a), sigma));
            }
        }
        var stein = Stein.Run(tape, q1, q2, particleObs, a0, differentiable, withLogProb);
        using (Untracked(tape, differentiable))
        {
            var aL = stein.Particles;
            var action = tape.Mul(tape.Tanh(aL), Options.ActLimit);
            if (!withLogProb) return new ActorSample(action, aL, null, null, null, null, stein.LastQ);
            var initial = mu is null || sigma is null ? FixedLogDensity(tape, a0) : LogNormal(tape, a0, mu, sigma);
            // log |det d tanh(a)/da|⁻¹ = −Σ 2 (ln 2 − a − softplus(−2a))
            var squash = tape.Neg(tape.Sum(tape.Mul(tape.Sub(tape.Sub(Ln2, aL), tape.Softplus(tape.Mul(aL, -2f))), 2f), 1));
            var total = stein.LogDensityChange is { } svgd ? tape.Add(tape.Add(initial, svgd), squash) : tape.Add(initial, squash);
            var logProb = tape.Mean(tape.Reshape(total, b, p), 1);
            return new ActorSample(action, aL, initial, stein.LogDensityChange, squash, logProb, stein.LastQ);
        }
    }

    /// <summary>log N(a0; μ, σ) summed over A, as torch.distributions.Normal.log_prob.</summary>
    private static Tensor LogNormal(Tape tape, Tensor a0, Tensor mu, Tensor sigma) =>
        tape.Sum(tape.Sub(tape.Sub(tape.Neg(tape.Div(tape.Square(tape.Sub(a0, mu)), tape.Mul(tape.Square(sigma), 2f))), tape.Log(sigma)), LogSqrtTwoPi), 1);

    /// <summary>The fixed start's log-density as the official svgd_nonparam writes it: −A/2 · ln(2π σ₀) − ‖a0‖² / (2σ₀),
    /// i.e. with σ₀ in the variance's place although a0 is drawn with standard deviation σ₀ (kept: it is what the official
    /// soft target sees; it shifts log π by a constant and scales the ‖a0‖² term).</summary>
    private Tensor FixedLogDensity(Tape tape, Tensor a0)
    {
        var s0 = Options.InitialSigma;
        return tape.Sub(tape.Mul(tape.Sum(tape.Square(a0), 1), -0.5f / s0), Options.ActDim * 0.5f * MathF.Log(2f * MathF.PI * s0));
    }

    /// <summary>The amortized network's pre-tanh particles f(s, ξ) for states repeated per particle.</summary>
    public Tensor Amortized(Tape tape, Tensor particleObs, Tensor xi) =>
        (Sampler ?? throw new InvalidOperationException("this S2AC actor has no amortized sampling network")).Forward(tape, particleObs, xi);

    private static readonly float LogSqrtTwoPi = (float)Math.Log(Math.Sqrt(2 * Math.PI));
    private static readonly float Ln2 = (float)Math.Log(2);

    /// <summary>NoGrad when the caller wants no history (the TD target), else a scope that does nothing.</summary>
    private static Untracking Untracked(Tape tape, bool differentiable) => new(differentiable ? null : tape);

    private readonly struct Untracking : IDisposable
    {
        private readonly Tape.NoGradScope _scope;
        private readonly bool _active;

        public Untracking(Tape? tape)
        {
            _active = tape is not null;
            if (tape is not null) _scope = tape.NoGrad();
        }

        public void Dispose()
        {
            if (_active) _scope.Dispose();
        }
    }
}

/// <summary>The S2AC model as the official ActorCritic holds it: critics <c>q1</c>, <c>q2</c> and the actor <c>pi</c>,
/// so its state names are the official ones (<c>q1.net.0.weight</c>, <c>pi.p0.mu_layer.bias</c>, …).</summary>
public sealed class S2acPolicy : Module
{
    public S2acPolicy(S2acOptions options, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(rng);
        options.Validate();
        Options = options;
        Q1 = RegisterModule("q1", new Critic(options, rng));
        Q2 = RegisterModule("q2", new Critic(options, rng));
        Pi = RegisterModule("pi", new SteinActor(options, rng));
    }

    public S2acOptions Options { get; }
    public Critic Q1 { get; }
    public Critic Q2 { get; }
    public SteinActor Pi { get; }

    /// <summary>min(Q1, Q2)(s, a) [rows, 1].</summary>
    public Tensor MinQ(Tape tape, Tensor obs, Tensor act) => tape.Minimum(Q1.Forward(tape, obs, act), Q2.Forward(tape, obs, act));
}
