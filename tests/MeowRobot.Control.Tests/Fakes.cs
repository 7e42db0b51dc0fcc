using System.Diagnostics;
using MeowRobot.Control.Handoff;
using MeowRobot.Control.Loop;
using MeowRobot.Control.RobotIo;

namespace MeowRobot.Control.Tests;

/// <summary>A robot double for loop tests: observations come from the test (or a built-in clock-stamped source), actions are
/// checked on the loop thread against bounds and rate limits (independently of the envelope) and the latest is published back.</summary>
internal sealed class FakeRobot : IRobotIo
{
    private readonly LatestValue<float> _observations;
    private readonly float[] _low, _high, _rate;
    private readonly float[] _last;
    private bool _hasLast;
    private long _writes;
    private long _violations;

    public FakeRobot(int observationSize, float[] low, float[] high, float[] ratePerTick)
    {
        ObservationSize = observationSize;
        ActionSize = low.Length;
        _observations = new LatestValue<float>(observationSize);
        _low = low; _high = high; _rate = ratePerTick;
        _last = new float[low.Length];
        Actions = new LatestValue<float>(low.Length);
    }

    public int ObservationSize { get; }
    public int ActionSize { get; }

    /// <summary>When set, every read returns this observation stamped "now" (a live sensor).</summary>
    public float[]? LiveObservation { get; set; }

    /// <summary>Actions as written (the loop is the only writer).</summary>
    public LatestValue<float> Actions { get; }
    public long Writes => Volatile.Read(ref _writes);
    public long Violations => Volatile.Read(ref _violations);

    public void Publish(ReadOnlySpan<float> observation, long timestamp) => _observations.Publish(observation, timestamp);

    public bool TryReadObservation(Span<float> observation, out long timestamp)
    {
        if (LiveObservation is { } live)
        {
            live.CopyTo(observation);
            timestamp = Stopwatch.GetTimestamp();
            return true;
        }
        return _observations.TryRead(observation, out timestamp, out _);
    }

    public void WriteAction(ReadOnlySpan<float> action)
    {
        for (var i = 0; i < action.Length; i++)
        {
            var a = action[i];
            var tolerance = 1e-6f * Math.Max(1f, Math.Abs(a));
            if (!(a >= _low[i] && a <= _high[i]) || (_hasLast && Math.Abs(a - _last[i]) > _rate[i] + tolerance))
                Interlocked.Increment(ref _violations);
            _last[i] = a;
        }
        _hasLast = true;
        Actions.Publish(action, Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _writes);
    }

    public void Dispose() { }
}

internal sealed class ConstantPolicy(int obs, float[] action) : IActionPolicy, IDisposable
{
    public int ObservationSize => obs;
    public int ActionSize => action.Length;
    public bool Disposed { get; private set; }
    public void Compute(ReadOnlySpan<float> observation, Span<float> a) => action.CopyTo(a);
    public void Dispose() => Disposed = true;
}

/// <summary>Outputs chosen by a seed: uniform in ±scale, with NaN/±Inf/huge values mixed in at the given rate.</summary>
internal sealed class ChaoticPolicy(int obs, int act, ulong seed, float scale, double badRate) : IActionPolicy
{
    private ulong _state = seed | 1;
    public int ObservationSize => obs;
    public int ActionSize => act;

    public void Compute(ReadOnlySpan<float> observation, Span<float> action)
    {
        for (var i = 0; i < action.Length; i++)
        {
            var u = Next();
            action[i] = u < badRate
                ? (Next() * 4) switch { < 1 => float.NaN, < 2 => float.PositiveInfinity, < 3 => float.NegativeInfinity, _ => 3e38f }
                : (float)((Next() * 2 - 1) * scale);
        }
    }

    private double Next()
    {
        _state ^= _state << 13; _state ^= _state >> 7; _state ^= _state << 17;
        return (_state >> 11) * (1.0 / (1UL << 53));
    }
}

internal static class Wait
{
    /// <summary>Waits for a condition (polled) up to a timeout; fails the test with <paramref name="what"/> if it never holds.</summary>
    public static void Until(Func<bool> condition, string what, double seconds = 10)
    {
        if (!SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(seconds)))
            Assert.Fail($"timed out after {seconds} s waiting for: {what}");
    }
}

/// <summary>Tests that run a real-time loop share the (2-core) machine badly with each other: they run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class RealtimeCollection
{
    public const string Name = "realtime loops";
}
