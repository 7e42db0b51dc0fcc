using System.Globalization;

namespace MeowRobot.Campaign.Gates;

/// <summary>
/// The gates' state across a campaign, for the progress line and <c>campaign status</c>: candidates gated, passed and
/// failed, and the best gate result so far: the passed candidate with the highest held-out mean return, or, while none
/// has passed, the failed one with the highest.
/// </summary>
public sealed class GateTally
{
    private readonly (PlannedRun Run, GateVerdict? Verdict, string? Damage)[] _candidates;

    public GateTally(IEnumerable<PlannedRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        _candidates = runs.Select(Read).ToArray();
    }

    public int Gated => _candidates.Count(c => c.Verdict is not null);
    public int Passed => _candidates.Count(c => c.Verdict is { Passed: true });
    public int Failed => _candidates.Count(c => c.Verdict is { Passed: false });

    /// <summary>The best gate result so far (null before the first verdict with an evaluation).</summary>
    public GateVerdict? Best => _candidates.Select(c => c.Verdict).OfType<GateVerdict>().Where(v => v.Eval is not null)
        .OrderByDescending(v => v.Passed).ThenByDescending(v => v.Eval!.MeanReturn).FirstOrDefault();

    /// <summary><c>gates: 3 gated, 1 passed, 2 failed; best gate result alpha-0.1-s2 (passed: mean_return -180.2, p10_return -260.4, rehearsal -190.0)</c>.</summary>
    public string Line()
    {
        var inv = CultureInfo.InvariantCulture;
        var line = string.Create(inv, $"gates: {Gated} gated, {Passed} passed, {Failed} failed");
        if (Best is not { } best) return line + "; no gate result yet";
        return line + string.Create(inv, $"; best gate result {best.Candidate} ({(best.Passed ? "passed" : "failed")}: mean_return {best.Eval!.MeanReturn:F1}, p10_return {best.Eval.P10Return:F1}") +
            (best.Rehearsal is { } r ? string.Create(inv, $", rehearsal {r.MeanReturn:F1}") : "") + ")";
    }

    /// <summary>The run's gate column in <c>campaign status</c>: passed, failed and why, or - (not gated yet).</summary>
    public string Cell(PlannedRun run)
    {
        var c = _candidates.First(x => x.Run == run);
        return c.Damage is { } damage ? $"damaged verdict ({damage})"
            : c.Verdict is not { } v ? "-"
            : v.Passed ? "passed"
            : "failed: " + v.Why();
    }

    private static (PlannedRun, GateVerdict?, string?) Read(PlannedRun run)
    {
        try
        {
            return (run, CandidateGate.Verdict(run), null);
        }
        catch (InvalidDataException e)
        {
            return (run, null, e.Message);   // the next runner moves it aside and gates again; status only says so
        }
    }
}
