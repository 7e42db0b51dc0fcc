using System.Collections.Concurrent;
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
/// <para>The plant starts on the controller's first command: it resets, publishes the first observation, and waits for
/// the first action; it then publishes that first observation again, freshly stamped, and steps one period later, so
/// the first step's action is computed from the first observation as every later one is (the hand-off the trainer's env
/// loop has: step k's action from step k's observation). With a seed, episode i is reset with seed + i.</para>
/// </summary>
public sealed class SimBridgeRobot : IRobotIo, IEpisodeReturns
{
    private readonly Func<IVectorEnv> _connect;
    private readonly double _stepRateHz;
    private readonly int? _seed;
    private readonly IReadOnlyDictionary<string, double>? _parameters;
    private readonly IReadOnlyList<ParameterDistribution>? _randomisation;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private readonly ManualResetEventSlim _commanded = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<EpisodeResult> _finished = new();
    private LatestValue<float> _observations = null!;
    private LatestValue<float> _actions = null!;
    private Exception? _fault;
    private long _steps;
    private long _episodes;
    private long _staleActionSteps;
    private long _startedAt;   // Stopwatch timestamp of the first command (0: none yet; the plant is held)
    private double _lastEpisodeReturn = double.NaN;

    /// <summary>Starts the simulation thread, which calls <paramref name="connect"/> (so that ZeroMQ sockets belong to it),
    /// resets the environment and publishes the first observation; returns once that is done.</summary>
    /// <param name="stepRateHz">Simulation steps per second of wall time (the task's own rate for real-time rehearsal).</param>
    /// <param name="seed">Episode i is reset with seed + i; null: the env's own seeds.</param>
    /// <param name="parameters">Task parameters set at the first reset (they stay set).</param>
    /// <param name="randomisation">Per-episode domain randomisation (drawn from each episode's seed; every finished
    /// episode reports its draws in <see cref="EpisodeResult.Params"/>); null or empty: none.</param>
    /// <exception cref="TimeoutException">No first observation within <paramref name="startTimeout"/>.</exception>
    public SimBridgeRobot(Func<IVectorEnv> connect, double stepRateHz, int? seed = null, TimeSpan? startTimeout = null,
        IReadOnlyDictionary<string, double>? parameters = null, IReadOnlyList<ParameterDistribution>? randomisation = null)
    {
        ArgumentNullException.ThrowIfNull(connect);
        if (!(stepRateHz > 0 && stepRateHz <= 100_000))
            throw new ArgumentOutOfRangeException(nameof(stepRateHz), stepRateHz, "must be in (0, 100000]");
        _connect = connect;
        _stepRateHz = stepRateHz;
        _seed = seed;
        _parameters = parameters;
        _randomisation = randomisation;
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

    /// <summary>Simulation steps per second of wall time.</summary>
    public double StepRateHz => _stepRateHz;

    /// <summary>Simulation steps taken.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Episodes finished (terminated or truncated).</summary>
    public long Episodes => Interlocked.Read(ref _episodes);

    /// <summary>Steps whose action was written before that step's observation was published: the action was computed
    /// from an older observation (the loop was late or stopped). 0 in a faithful rehearsal.</summary>
    public long StaleActionSteps => Interlocked.Read(ref _staleActionSteps);

    /// <summary>Undiscounted return of the last finished episode (NaN before the first).</summary>
    public double LastEpisodeReturn => Volatile.Read(ref _lastEpisodeReturn);

    /// <summary>Why the simulation thread ended, if it failed (the loop sees stale observations from then on).</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>Takes the next finished episode, in order (any one thread).</summary>
    public bool TryTakeEpisode(out EpisodeResult episode) => _finished.TryDequeue(out episode!);

    /// <remarks>Until the first command the plant is held at its reset state, so that observation is current however long
    /// the controller took to start (its set-up, the first tick's compilation); from the first command it ages from that
    /// command, until this robot's thread republishes it: the loop judges staleness from the plant's start, not from a
    /// stamp taken before the loop existed (which stopped rehearsals at tick 1 on a loaded machine).</remarks>
    public bool TryReadObservation(Span<float> observation, out long timestamp)
    {
        if (!_observations.TryRead(observation, out timestamp, out _)) return false;
        var started = Volatile.Read(ref _startedAt);
        timestamp = Math.Max(timestamp, started == 0 ? Stopwatch.GetTimestamp() : started);
        return true;
    }

    public void WriteAction(ReadOnlySpan<float> action)
    {
        var now = Stopwatch.GetTimestamp();
        _actions.Publish(action, now);
        if (Volatile.Read(ref _startedAt) == 0) Volatile.Write(ref _startedAt, now);
        if (!_commanded.IsSet) _commanded.Set();
    }

    private void Simulate()
    {
        IVectorEnv? env = null;
        try
        {
            env = _connect();
            if (env.NumEnvs != 1)
                throw new ArgumentException($"a simulated robot is one environment; this one has {env.NumEnvs}");
            Spec = env.Spec;
            if (_randomisation is { Count: > 0 } randomisation) env.SetRandomisation(randomisation);
            _observations = new LatestValue<float>(Spec.ObsDim);
            _actions = new LatestValue<float>(Spec.ActDim);
            var batch = new VectorBatch(1, Spec.ObsDim);
            var episode = 0;
            int? EpisodeSeed() => _seed is { } s ? unchecked(s + episode) : null;
            var seed = EpisodeSeed();
            env.Reset(batch, seed is { } first ? [first] : null, _parameters);
            _observations.Publish(batch.ObsRow(0), Stopwatch.GetTimestamp());
            _ready.Set();

            // The plant starts with the controller: the first action, then a fresh first observation.
            if (WaitHandle.WaitAny([_commanded.WaitHandle, _stop.Token.WaitHandle]) != 0) return;
            var published = Stopwatch.GetTimestamp();
            _observations.Publish(batch.ObsRow(0), published);

            var action = new float[Spec.ActDim];
            var period = (long)(Stopwatch.Frequency / _stepRateHz);
            var next = published + period;
            double episodeReturn = 0;
            var length = 0;
            while (!_stop.IsCancellationRequested)
            {
                var wait = next - Stopwatch.GetTimestamp();
                if (wait > 0 && _stop.Token.WaitHandle.WaitOne(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency)))
                    break;
                next += period;
                if (Stopwatch.GetTimestamp() - next > 10 * period)
                    next = Stopwatch.GetTimestamp() + period;   // far behind (a stall): restart the grid instead of bursting
                _actions.TryRead(action, out var writtenAt, out _);
                if (writtenAt < published) Interlocked.Increment(ref _staleActionSteps);
                env.Step(action, batch);
                Interlocked.Increment(ref _steps);
                episodeReturn += batch.Reward[0];
                length++;
                if (batch.Terminated[0] != 0 || batch.Truncated[0] != 0)
                {
                    _finished.Enqueue(new EpisodeResult(seed, episodeReturn, length, batch.Terminated[0] != 0, batch.FinalObsRow(0).ToArray(),
                        EpisodeResult.ParamsOf(batch, 0)));
                    Volatile.Write(ref _lastEpisodeReturn, episodeReturn);
                    Interlocked.Increment(ref _episodes);
                    episodeReturn = 0;
                    length = 0;
                    episode++;
                    seed = EpisodeSeed();
                    if (seed is { } s) env.Reset(batch, [s]);   // else the env's own auto-reset stands
                }
                published = Stopwatch.GetTimestamp();
                _observations.Publish(batch.ObsRow(0), published);
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
        _commanded.Dispose();
    }
}
