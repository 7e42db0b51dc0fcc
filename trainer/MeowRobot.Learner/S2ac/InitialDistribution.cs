using MeowRobot.Tensors;
using MeowRobot.Tensors.Modules;

namespace MeowRobot.Learner.S2ac;

/// <summary>
/// The parameterised initial distribution p0(a | s) = N(μ(s), σ(s)²) of the SVGD particles (official
/// <c>MLPSquashedGaussian</c>, variant <c>svgd_p0_pram</c>): trunk <c>net</c> = ActorLayers × (Linear + ELU), then
/// <c>mu_layer</c> and <c>log_std_layer</c>; log σ clamped to [−20, 2], then σ clamped to [0.1, 1].
/// </summary>
public sealed class InitialDistribution : Module
{
    public const float LogStdMin = -20f, LogStdMax = 2f, SigmaMin = 0.1f, SigmaMax = 1f;

    /// <summary>Particles are drawn within this many σ of μ (the official code rejects the others).</summary>
    public const float Truncation = 3f;

    public InitialDistribution(S2acOptions o, Rng rng)
    {
        Net = RegisterModule("net", new EluNetwork([o.ObsDim, .. Enumerable.Repeat(o.Hidden, o.ActorLayers)], rng, activateOutput: true));
        Mu = RegisterModule("mu_layer", new Linear(o.Hidden, o.ActDim, rng));
        LogStd = RegisterModule("log_std_layer", new Linear(o.Hidden, o.ActDim, rng));
    }

    public EluNetwork Net { get; }
    public Linear Mu { get; }
    public Linear LogStd { get; }

    /// <summary>μ(s) and σ(s), each [rows, A].</summary>
    public (Tensor Mu, Tensor Sigma) Forward(Tape tape, Tensor obs)
    {
        var h = Net.Forward(tape, obs);
        var sigma = tape.Exp(tape.Clamp(LogStd.Forward(tape, h), LogStdMin, LogStdMax));
        return (Mu.Forward(tape, h), tape.Clamp(sigma, SigmaMin, SigmaMax));
    }

    /// <summary>Standard normal noise for a0 = μ + σ·ε, each particle drawn again until all its coordinates lie strictly
    /// within ±3 (the official rejection: a particle outside μ ± 3σ in any coordinate is discarded).</summary>
    public static void DrawNoise(Rng rng, Span<float> eps, int actDim)
    {
        for (var at = 0; at < eps.Length; at += actDim)
        {
            var particle = eps.Slice(at, actDim);
            do rng.FillNormal(particle);
            while (!Within(particle));
        }

        static bool Within(ReadOnlySpan<float> p)
        {
            foreach (var e in p)
                if (!(MathF.Abs(e) < Truncation)) return false;
            return true;
        }
    }
}
