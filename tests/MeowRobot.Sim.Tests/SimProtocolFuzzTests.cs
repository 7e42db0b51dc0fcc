namespace MeowRobot.Sim.Tests;

/// <summary>The suite's short run of `sim fuzz` (docs/benchmarks.md has the 10⁶-input one): mutated requests of every op
/// reach deep into the parser and the worker, and every one gets a well-formed reply, in bounded time and memory.</summary>
public sealed class SimProtocolFuzzTests
{
    [Fact]
    public void Mutated_requests_never_crash_hang_or_grow_the_worker()
    {
        var report = new SimProtocolFuzz(numEnvs: 4).Run(inputs: 40_000, seed: 18);
        Assert.True(report.Clean, SimProtocolFuzz.Summary(report) + "\n" + string.Join('\n', report.Failures));
        Assert.Equal(40_000, report.Inputs);
        // The mutations reach every stage: accepted requests and most of the documented error codes.
        Assert.True(report.Accepted > 1000, SimProtocolFuzz.Summary(report));
        foreach (var code in new[] { "malformed", "duplicate_key", "missing_key", "bad_type", "bad_version", "unknown_op", "bad_length" })
            Assert.True(report.ErrorCodes.ContainsKey(code), $"no input reached {code}: {SimProtocolFuzz.Summary(report)}");
        Assert.True(report.ManagedHeapAfterBytes < 64L << 20, SimProtocolFuzz.Summary(report));
        Assert.True(report.PeakWorkingSetBytes - report.WorkingSetAtStartBytes < 128L << 20, SimProtocolFuzz.Summary(report));
    }
}
