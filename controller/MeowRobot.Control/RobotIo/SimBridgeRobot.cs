using System.Diagnostics;
using MeowRobot.Bridge.Sim;
using MeowRobot.Control.Handoff;

namespace MeowRobot.Control.RobotIo;

/// <summary>
/// A simulated robot for sim-to-real rehearsal: one environment of an <see cref="IVectorEnv"/> (a sim worker through the
/// bridge, <see cref="VectorEnvClient"/>, or a task in-process, <see cref="LocalVectorEnv"/>: the same code either way),
/// stepped by its own thread at the simulation's rate with the newest action the loop wrote; each new observation is
/// stamped and handed to the loop through a <see cref="LatestValue{T}"/>. The loop never waits on the simulation: if it
/// stalls or the worker is lost, observations go stale and the loop's staleness check stops the robot.
/// </summary>
public sealed class SimBridgeRobot : IRobotIo, IEpisodeReturns
{
    private readonly Func<IVectorEnv> _connect;
    private readonly double _stepRateHz;
    private readonly int? _seed;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private readonly CancellationTokenSource _stop = new();
    private LatestValue<float> _observations = null!;
    private LatestValue<float> _actions = null!;
    private Exception? _fault;
    private long _steps;
    private long _episodes;
    private double _episodeReturn;
    private double _lastEpisodeReturn = double.NaN;

    /// <summary>Starts the simulation thread, which calls <paramref name="connect"/> (so that ZeroMQ sockets belong to it),
    /// resets the environment and publishes the first observation; returns once that is done.</summary>
    /// <param name="stepRateHz">Simulation steps per second of wall time (the task's own rate for real-time rehearsal).</param>
    /// <exception cref="TimeoutException">No first observation within <paramref name="startTimeout"/>.</exception>
    public SimBridgeRobot(Func<IVectorEnv> connect, double stepRateHz, int? seed = null, TimeSpan? startTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(connect);
        if (!(stepRateHz > 0 && stepRateHz <= 100_000))
            throw new ArgumentOutOfRangeException(nameof(stepRateHz), stepRateHz, "must be in (0, 100000]");
        _connect = connect;
        _stepRateHz = stepRateHz;
        _seed = seed;
        _thread = new Thread(Simulate) { IsBackground = true, Name = "meow-sim-robot" };
        _thread.Start();
        if (!_ready.Wait(startTimeout ?? TimeSpan.FromSeconds(30)))
        {
            _stop.Cancel();
            throw new TimeoutException("the simulation did not produce a first observation in time");
        }
        if (_fault is not null)
        {
            _thread.Join();
            throw new InvalidOperationException("the simulation could not start: " + _fault.Message, _fault);
        }
    }

    public TaskSpec Spec { get; private set; } = null!;
    public int ObservationSize => Spec.ObsDim;
    public int ActionSize => Spec.ActDim;

    /// <summary>Simulation steps taken.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Episodes finished (terminated or truncated).</summary>
    public long Episodes => Interlocked.Read(ref _episodes);

    /// <summary>Undiscounted return of the last finished episode (NaN before the first).</summary>
    public double LastEpisodeReturn => Volatile.Read(ref _lastEpisodeReturn);

    /// <summary>Why the simulation thread ended, if it failed (the loop sees stale observations from then on).</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    public bool TryReadObservation(Span<float> observation, out long timestamp) =>
        _observations.TryRead(observation, out timestamp, out _);

    public void WriteAction(ReadOnlySpan<float> action) => _actions.Publish(action, Stopwatch.GetTimestamp());

    private void Simulate()
    {
        IVectorEnv? env = null;
        try
        {
            env = _connect();
            if (env.NumEnvs != 1)
                throw new ArgumentException($"a simulated robot is one environment; this one has {env.NumEnvs}");
            Spec = env.Spec;
            _observations = new LatestValue<float>(Spec.ObsDim);
            _actions = new LatestValue<float>(Spec.ActDim);
            var batch = new VectorBatch(1, Spec.ObsDim);
            env.Reset(batch, _seed is { } s ? [s] : null);
            _observations.Publish(batch.ObsRow(0), Stopwatch.GetTimestamp());
            _ready.Set();

            var action = new float[Spec.ActDim];
            var period = (long)(Stopwatch.Frequency / _stepRateHz);
            var next = Stopwatch.GetTimestamp() + period;
            while (!_stop.IsCancellationRequested)
            {
                var wait = next - Stopwatch.GetTimestamp();
                if (wait > 0 && _stop.Token.WaitHandle.WaitOne(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency)))
                    break;
                next += period;
                if (Stopwatch.GetTimestamp() - next > 10 * period)
                    next = Stopwatch.GetTimestamp() + period;   // far behind (a stall): restart the grid instead of bursting
                _actions.TryRead(action, out _, out _);          // zero until the loop's first write
                env.Step(action, batch);
                _observations.Publish(batch.ObsRow(0), Stopwatch.GetTimestamp());
                Interlocked.Increment(ref _steps);
                _episodeReturn += batch.Reward[0];
                if (batch.Terminated[0] != 0 || batch.Truncated[0] != 0)
                {
                    Volatile.Write(ref _lastEpisodeReturn, _episodeReturn);
                    _episodeReturn = 0;
                    Interlocked.Increment(ref _episodes);
                }
            }
        }
#pragma warning disable CA1031 // reported through Fault; the loop reacts to the stale observations
        catch (Exception e)
#pragma warning restore CA1031
        {
            Volatile.Write(ref _fault, e);
        }
        finally
        {
            env?.Dispose();
            _ready.Set();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
        _ready.Dispose();
    }
}
