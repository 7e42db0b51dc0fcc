using System.Diagnostics;
using MeowRobot.Control.Serial;

namespace MeowRobot.Control.Tests;

/// <summary>
/// How the host maps an MCU's clock whose rate is off (issue 18: a 1 % slow clock tripped staleness after 9.7 s and
/// stayed stale after it recovered). Sensor frames are fed with synthetic host time, 200 per second, so a minute of
/// drift runs in milliseconds; the age of the newest observation is what the loop's staleness check (0.1 s) sees.
/// </summary>
public sealed class SerialClockDriftTests
{
    private const double Staleness = 0.1;   // SafetyEnvelopeOptions.ObservationTimeoutSeconds' default
    private const double FramePeriod = 0.005;

    private sealed class Link(double allowance) : IDisposable
    {
        private readonly SerialRobot _robot = new(new SerialPortOptions { Path = "/dev/null-never-opened" }, 3, 1, allowance);
        private readonly float[] _observation = new float[3];
        private long _host = 1L << 40;
        private double _mcuMicros = 5_000_000;
        private byte _sequence;

        /// <summary>Runs the MCU's clock at <paramref name="rate"/> × ours for <paramref name="seconds"/>; returns the newest observation's age in seconds.</summary>
        public double Run(double rate, double seconds)
        {
            Span<byte> frame = stackalloc byte[SerialFrame.MaxFrameSize];
            for (var t = 0.0; t < seconds; t += FramePeriod)
            {
                _host += (long)(FramePeriod * Stopwatch.Frequency);
                _mcuMicros += FramePeriod * 1e6 * rate;
                var n = SerialMessages.WriteSensor(frame, _sequence++, (uint)(long)_mcuMicros, [0.1f, 0.2f, 0.3f]);
                _robot.Receive(frame[..n], _host);
            }
            Assert.True(_robot.TryReadObservation(_observation, out var stamp));
            return (_host - stamp) / (double)Stopwatch.Frequency;
        }

        public void Dispose() => _robot.Dispose();
    }

    [Fact]
    public void A_clock_within_a_ceramic_resonators_tolerance_never_goes_stale()
    {
        using var link = new Link(SerialRobot.DefaultClockDriftAllowance);
        link.Run(1.0, 1);
        Assert.InRange(link.Run(0.996, 120), 0, 0.01);   // 0.4 % slow for two minutes
        Assert.InRange(link.Run(1.004, 60), 0, 0.01);    // and fast
    }

    [Fact]
    public void A_clock_out_of_tolerance_goes_stale_and_recovers_once_it_is_back_in_tolerance()
    {
        using var link = new Link(SerialRobot.DefaultClockDriftAllowance);
        link.Run(1.0, 1);
        Assert.InRange(link.Run(0.99, 10), 0, Staleness);                   // 1 % slow: the lag grows by 0.5 % of the time
        Assert.True(link.Run(0.99, 30) > Staleness, "40 s at 1 % slow is stale");
        var lag = link.Run(1.0, 0.1);
        Assert.InRange(lag, 0.15, 0.25);
        Assert.InRange(link.Run(1.0, lag / SerialRobot.DefaultClockDriftAllowance + 1), 0, 0.01);   // caught up at 0.5 % per second
    }

    [Fact]
    public void The_allowance_is_the_operators_choice()
    {
        using var crystal = new Link(1e-4);                                  // a crystal-clocked MCU: 100 ppm
        crystal.Run(1.0, 1);
        Assert.True(crystal.Run(0.996, 60) > Staleness, "0.4 % slow is far out of a crystal's tolerance");
        Assert.Throws<ArgumentOutOfRangeException>(() => new SerialRobot(new SerialPortOptions { Path = "/dev/null" }, 3, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SerialRobot(new SerialPortOptions { Path = "/dev/null" }, 3, 1, double.NaN));
    }
}
