using MeowRobot.Testing;

namespace MeowRobot.Learner.Tests;

/// <summary>The golden README's rule for parameters after training, on crafted tensors (20,000 parameters in two tensors, so
/// the rule allows 2 of them beyond 2e-5).</summary>
public sealed class GoldenToleranceTests
{
    private static (string Name, float[] Values)[] Expected()
    {
        var rng = new Random(7);
        return [("flows.0.t.net.0.weight", Draw(12_000)), ("prior.log_scale.net.4.bias", Draw(8_000))];
        float[] Draw(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    private static Dictionary<string, float[]> Copy((string Name, float[] Values)[] expected) =>
        expected.ToDictionary(e => e.Name, e => (float[])e.Values.Clone(), StringComparer.Ordinal);

    [Fact]
    public void Identical_parameters_pass_both_rules()
    {
        var expected = Expected();
        var r = ParameterTolerance.AfterTraining.Compare(expected, Copy(expected));
        Assert.True(r.Passes, r.ToString());
        Assert.Equal(20_000, r.Count);
        Assert.Equal(2, ParameterTolerance.AfterTraining.AllowedOutliers(r.Count));
        Assert.True(ParameterTolerance.Target.Compare(expected, Copy(expected)).Passes);
    }

    [Fact]
    public void One_parameter_off_by_5e_5_alone_passes_after_training_but_fails_the_target_rule()
    {
        var expected = Expected();
        var actual = Copy(expected);
        actual["prior.log_scale.net.4.bias"][123] += 5e-5f;
        var r = ParameterTolerance.AfterTraining.Compare(expected, actual);
        Assert.True(r.Passes, r.ToString());
        Assert.Equal(1, r.OverAbs);
        Assert.Equal(0, r.OverOutlierAbs);

        var target = ParameterTolerance.Target.Compare(expected, actual);
        Assert.False(target.Passes);
        Assert.Contains("prior.log_scale.net.4.bias[123]", target.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void One_parameter_off_by_1_5e_3_fails_and_the_message_gives_the_counts_and_the_worst_by_name_and_index()
    {
        var expected = Expected();
        var actual = Copy(expected);
        actual["flows.0.t.net.0.weight"][4321] -= 1.5e-3f;
        actual["prior.log_scale.net.4.bias"][7] += 4e-5f;
        var r = ParameterTolerance.AfterTraining.Compare(expected, actual);
        Assert.False(r.Passes);
        Assert.Equal(2, r.OverAbs);
        Assert.Equal(1, r.OverOutlierAbs);
        Assert.Equal(("flows.0.t.net.0.weight", 4321), (r.Worst!.Name, r.Worst.Index));
        var message = r.ToString();
        Assert.StartsWith("2 of 20000 parameters differ by more than 2E-05 (at most 2 may), 1 by more than 0.001", message, StringComparison.Ordinal);
        Assert.Contains("worst flows.0.t.net.0.weight[4321]", message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_outliers_than_one_in_ten_thousand_fail_even_when_each_is_within_1e_3()
    {
        var expected = Expected();
        var actual = Copy(expected);
        foreach (var i in new[] { 1, 500, 9000 }) actual["flows.0.t.net.0.weight"][i] += 5e-4f;
        var r = ParameterTolerance.AfterTraining.Compare(expected, actual);
        Assert.False(r.Passes, "3 outliers among 20,000 parameters");
        Assert.Equal(3, r.OverAbs);
        actual["flows.0.t.net.0.weight"][9000] = expected[0].Values[9000];
        Assert.True(ParameterTolerance.AfterTraining.Compare(expected, actual).Passes, "2 outliers among 20,000 parameters");
    }

    [Fact]
    public void A_NaN_a_missing_tensor_or_a_wrong_length_fails()
    {
        var expected = Expected();
        var nan = Copy(expected);
        nan["flows.0.t.net.0.weight"][0] = float.NaN;
        var r = ParameterTolerance.AfterTraining.Compare(expected, nan);
        Assert.False(r.Passes);
        Assert.Equal(1, r.OverOutlierAbs);
        Assert.Equal(0, r.Worst!.Index);

        var missing = Copy(expected);
        missing.Remove("prior.log_scale.net.4.bias");
        Assert.Contains("prior.log_scale.net.4.bias is missing", ParameterTolerance.AfterTraining.Compare(expected, missing).ToString(), StringComparison.Ordinal);
        Assert.False(ParameterTolerance.AfterTraining.Compare(expected, missing).Passes);

        var shorter = Copy(expected);
        shorter["prior.log_scale.net.4.bias"] = new float[10];
        Assert.False(ParameterTolerance.AfterTraining.Compare(expected, shorter).Passes);
    }
}
