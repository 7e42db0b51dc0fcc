using System.Text.Json;
using MeowRobot.Control.Loop;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Safety;
using MeowRobot.Testing;

namespace MeowRobot.Control.Tests;

/// <summary>The control cycle runs a golden-format policy file and emits the official implementation's deterministic action.</summary>
public class GoldenPolicyLoopTests
{
    public static TheoryData<string> Cases() => SharedMaterial.GoldenCaseNames();

    [RequiresTheory(Requirement.GoldenVectors)]
    [MemberData(nameof(Cases))]
    public void The_cycle_emits_the_official_deterministic_action_for_every_golden_observation(string caseName)
    {
        var dir = Path.Combine(SharedMaterial.GoldenDir, caseName);
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "cases.json")));
        var obs = json.RootElement.GetProperty("obs").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var expected = json.RootElement.GetProperty("expected").GetProperty("deterministic_action").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var act = expected[0].Length;

        // bounds at the tanh range and a rate limit that never binds: the emitted action is the policy's own
        var h = new CycleHarness(new SafetyEnvelopeOptions
        {
            ActionLow = Enumerable.Repeat(-1f, act).ToArray(), ActionHigh = Enumerable.Repeat(1f, act).ToArray(),
            MaxRatePerSecond = Enumerable.Repeat(1e7f, act).ToArray(),
        }, new ModeOptions { ArmOnStart = true }, obs[0].Length);
        using var policy = RuntimeActionPolicy.Load(Path.Combine(dir, "weights.safetensors"));
        h.Cycle.Policies.Offer(policy);
        for (var row = 0; row < obs.Length; row++)
        {
            h.Observe(obs[row]);
            Assert.Equal(ControlMode.Policy, h.Step());
            var emitted = h.LastAction();
            for (var j = 0; j < act; j++)
                Assert.True(Math.Abs(emitted[j] - expected[row][j]) <= 1e-4 * Math.Max(1, Math.Abs(expected[row][j])),
                    $"row {row} action {j}: {emitted[j]} vs official {expected[row][j]}");
        }
        Assert.Equal(0, h.Robot.Violations);
    }
}
