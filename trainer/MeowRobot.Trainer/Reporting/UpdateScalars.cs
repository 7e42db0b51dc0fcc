using MeowRobot.Learner;

namespace MeowRobot.Trainer.Reporting;

/// <summary>
/// A learner's per-update statistics as named scalars (TensorBoard tags): the one place that knows each algorithm's
/// statistics, so <see cref="RunRecord"/> stays algorithm-agnostic. metrics.csv's loss, grad_norm, mean_q and
/// mean_target columns are the means of the tags below.
/// </summary>
public static class UpdateScalars
{
    public const string Loss = "losses/q_loss";
    public const string GradNorm = "losses/grad_norm";
    public const string MeanQ = "values/q_mean";
    public const string MeanTarget = "values/td_target_mean";
    public const string ActorLoss = "losses/actor_loss";
    public const string Alpha = "charts/alpha";

    /// <summary>Every algorithm: the critic's (MEow: the soft Bellman) loss, the gradient's norm before clipping, mean Q,
    /// the mean TD target; actor-critic ones (SAC) also the actor's loss and the (learned) temperature α.</summary>
    public static IEnumerable<KeyValuePair<string, double>> Of(UpdateStats stats)
    {
        yield return new(Loss, stats.Loss);
        yield return new(GradNorm, stats.GradNorm);
        yield return new(MeanQ, stats.MeanQ);
        yield return new(MeanTarget, stats.MeanTarget);
        if (float.IsFinite(stats.ActorLoss)) yield return new(ActorLoss, stats.ActorLoss);
        if (float.IsFinite(stats.Alpha)) yield return new(Alpha, stats.Alpha);
    }
}
