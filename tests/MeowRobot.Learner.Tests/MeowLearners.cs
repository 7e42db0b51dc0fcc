using MeowRobot.Bridge.Sim;

namespace MeowRobot.Learner.Tests;

/// <summary>The shared loop running MEow, for the tests that look inside MEow's state.</summary>
internal static class MeowLearners
{
    public static OffPolicyLearner Create(FlowShape shape, MeowOptions meow, LearnerOptions loop, IVectorEnv env, IVectorEnv? evalEnv = null) =>
        new(MeowAlgorithm.Factory(shape, meow, loop), loop, env, evalEnv);

    public static MeowAlgorithm Meow(this OffPolicyLearner learner) => (MeowAlgorithm)learner.Algorithm;
}
