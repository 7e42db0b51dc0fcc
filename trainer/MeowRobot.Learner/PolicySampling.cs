using MeowRobot.Learner.S2ac;
using MeowRobot.Learner.Sac;
using MeowRobot.Policy.Files;
using MeowRobot.Tensors;

namespace MeowRobot.Learner;

/// <summary>Writes actions sampled from π(· | s) for <paramref name="rows"/> row-major observations (as the networks take
/// them: normalised when the file says so) into <paramref name="actions"/>, in the tanh box [−1, 1]; all noise from
/// <paramref name="rng"/>.</summary>
public delegate void SampleActions(ReadOnlySpan<float> obs, int rows, Span<float> actions, Rng rng);

/// <summary>
/// Sampling from the policy a file holds (<c>policy eval --stochastic</c>), for every algorithm: MEow's flow from
/// z ~ N(0, I); SAC's tanh(μ + σ ε); amortized S2AC's act_limit · tanh(f(s, ξ)), ξ ~ N(0, I) (the network a robot runs, at
/// random ξ instead of E[ξ]); an SVGD-actor S2AC file's particles after the SVGD steps, one at random (as S2AC explores).
/// </summary>
public static class PolicySampling
{
    public static SampleActions FromFile(PolicyFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var m = file.Metadata;
        switch (m.Algorithm)
        {
            case PolicyAlgorithm.Meow:
            {
                var policy = FlowPolicy.FromFile(file);
                policy.Eval();
                var tape = new Tape();
                return (obs, rows, actions, rng) =>
                {
                    tape.Reset();
                    using (tape.NoGrad())
                    {
                        var (sample, _) = policy.Sample(tape, tape.Input(obs[..(rows * m.ObsDim)], rows, m.ObsDim), rng);
                        Clamp(sample.Values, actions);
                    }
                };
            }
            case PolicyAlgorithm.Sac:
            {
                var actor = SacNetworks.FromFile(file).Actor;
                var tape = new Tape();
                return (obs, rows, actions, rng) =>
                {
                    tape.Reset();
                    using (tape.NoGrad())
                    {
                        var noise = tape.Zeros(rows, m.ActDim);
                        rng.FillNormal(noise.Values);
                        Clamp(actor.Sample(tape, tape.Input(obs[..(rows * m.ObsDim)], rows, m.ObsDim), noise).Action.Values, actions);
                    }
                };
            }
            case PolicyAlgorithm.S2ac:
            {
                var algorithm = S2acAlgorithm.FromFile(file, new Rng(0));
                return algorithm.Policy.Pi.Sampler is not null ? algorithm.SampleAmortizedActions : algorithm.SampleActions;
            }
            default:
                throw new ArgumentException($"no sampler for algorithm {m.Algorithm.Name()}", nameof(file));
        }
    }

    // Actions in the tanh box (float32 tanh can round to ±1; the box's edges are valid actions).
    private static void Clamp(ReadOnlySpan<float> sample, Span<float> actions)
    {
        for (var i = 0; i < sample.Length; i++) actions[i] = Math.Clamp(sample[i], -1f, 1f);
    }
}
