using System.Diagnostics;
using MeowRobot.Bridge.MessagePack;
using MeowRobot.Control.Modes;
using MeowRobot.Control.Telemetry;

namespace MeowRobot.Campaign.Promotion;

/// <summary>What one robot's telemetry said about a version over its watch: counted from the first telemetry message
/// that showed the version running (transitions after the tick of the message before it).</summary>
/// <param name="SafeStops">Policy → SafeStop transitions (any reason).</param>
/// <param name="StallSafeStops">Those of them that were stalls (<see cref="ModeMachine.IsStall"/>); the rest are policy stops.</param>
/// <param name="EnvelopeInterventions">Ticks on which the envelope replaced or withheld the policy's action (a non-finite
/// action or observation, a stale observation): the growth of the telemetry's counters since the start, as the gates
/// count them (docs/campaigns.md, "Gates"). A state bound crossed is a safe stop.</param>
/// <param name="Returns">Returns of the robot's episodes that finished while it ran the version (sim robots only).</param>
public sealed record CanaryObservation(
    long PolicyVersion,
    string Mode,
    double WatchedSeconds,
    int SafeStops,
    int StallSafeStops,
    int EnvelopeInterventions,
    IReadOnlyList<double> Returns,
    IReadOnlyList<string> Transitions)
{
    public double? MeanReturn => Returns.Count == 0 ? null : Returns.Average();

    public int PolicySafeStops => SafeStops - StallSafeStops;
}

/// <summary>
/// Subscribes to one controller's telemetry (<c>meow.telemetry</c> and <c>meow.transition</c>, docs/protocol.md) and keeps what a promotion judges: the newest reading and when it arrived, and, once a version is being
/// watched, the transitions and episode returns since that version started to run.
/// </summary>
public sealed class RobotTelemetry : IDisposable
{
    private const int MaxKept = 1000;
    private readonly TelemetrySubscription _subscription;
    private readonly Lock _gate = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TelemetryReading? _latest;
    private TimeSpan _heardAt;
    private long _messages;
    private bool _restarted;
    // The watch: the version, the tick before it was first seen running, when that was, and what happened since
    // (the last transitions are kept whatever is watched; those after the start tick count).
    private long _watched = -1;
    private long _startTick = -1;
    private TimeSpan _startedAt;
    private long _episodesAtStart;
    private long _interventionsAtStart;
    private readonly List<(long Tick, string From, string To, string Reason)> _transitions = [];
    private readonly List<double> _returns = [];

    public RobotTelemetry(string name, string endpoint)
    {
        Name = name;
        Endpoint = endpoint;
        _subscription = new TelemetrySubscription(endpoint, (topic, body) =>
        {
            if (topic.AsSpan().SequenceEqual(TelemetryWire.TelemetryTopic)) OnTelemetry(TelemetryReading.Read(body));
            else OnTransition(body);
        }, TelemetryWire.TelemetryTopic.ToArray(), TelemetryWire.TransitionTopic.ToArray());
    }

    public string Name { get; }
    public string Endpoint { get; }

    public TelemetryReading? Latest
    {
        get { lock (_gate) return _latest; }
    }

    /// <summary>Time since the last telemetry message (infinite before the first).</summary>
    public TimeSpan Silence
    {
        get { lock (_gate) return _messages == 0 ? TimeSpan.MaxValue : _clock.Elapsed - _heardAt; }
    }

    /// <summary>The controller restarted since the watch began (its tick went backwards).</summary>
    public bool Restarted
    {
        get { lock (_gate) return _restarted; }
    }

    /// <summary>Starts watching <paramref name="version"/>: it counts from the first message showing it running.</summary>
    public void Watch(ulong version)
    {
        lock (_gate)
        {
            _watched = (long)version;
            _startTick = -1;
            _restarted = false;
            _transitions.Clear();
            _returns.Clear();
            if (_latest is { } r && r.PolicyVersion == _watched) Begin(r, r.Tick);
        }
    }

    /// <summary>The version being watched (-1: none).</summary>
    public long Watched
    {
        get { lock (_gate) return _watched; }
    }

    /// <summary>True once the watched version was seen running.</summary>
    public bool Engaged
    {
        get { lock (_gate) return _startTick >= 0; }
    }

    /// <summary>What happened since the watched version started to run.</summary>
    public CanaryObservation Observe()
    {
        lock (_gate)
        {
            var since = _startTick < 0 ? TimeSpan.Zero : _clock.Elapsed - _startedAt;
            var counted = _startTick < 0 ? [] : _transitions.Where(t => t.Tick > _startTick).ToList();
            var stops = counted.Where(t => t.From == "Policy" && t.To == "SafeStop").ToList();
            var stalls = stops.Count(t => Enum.TryParse<TransitionReason>(t.Reason, out var why) && ModeMachine.IsStall(why));
            var interventions = _startTick < 0 || _latest is not { } now ? 0 : (int)Math.Min(int.MaxValue, Math.Max(0, now.EnvelopeInterventions - _interventionsAtStart));
            return new CanaryObservation(_latest?.PolicyVersion ?? -1, _latest?.Mode ?? "unknown", Math.Round(since.TotalSeconds, 3), stops.Count, stalls, interventions,
                [.. _returns], [.. counted.Select(t => $"{t.From}->{t.To} ({t.Reason}) at tick {t.Tick}")]);
        }
    }

    private void Begin(TelemetryReading reading, long tickBefore)
    {
        _startTick = tickBefore;
        _startedAt = _clock.Elapsed;
        _episodesAtStart = reading.RobotEpisodes;
        _interventionsAtStart = reading.EnvelopeInterventions;
    }

    private void OnTelemetry(TelemetryReading reading)
    {
        lock (_gate)
        {
            var previous = _latest;
            _latest = reading;
            _heardAt = _clock.Elapsed;
            _messages++;
            if (previous is { } p && reading.Tick < p.Tick && _watched >= 0 && _startTick >= 0) _restarted = true;
            if (_watched < 0) return;
            if (_startTick < 0)
            {
                if (reading.PolicyVersion == _watched) Begin(reading, previous?.Tick ?? 0);
                return;
            }
            if (reading.PolicyVersion == _watched && reading.RobotEpisodes > _episodesAtStart && double.IsFinite(reading.RobotLastReturn)
                && _returns.Count < MaxKept)
            {
                _returns.Add(reading.RobotLastReturn);
                _episodesAtStart = reading.RobotEpisodes;
            }
        }
    }

    private void OnTransition(byte[] body)
    {
        var r = new MsgPackReader(body);
        var seen = default(MsgPackKeySet);
        long tick = -1;
        string from = "", to = "", reason = "";
        for (var n = r.ReadMapHeader(); n > 0; n--)
        {
            var key = r.ReadUniqueKey(ref seen);
            if (key.SequenceEqual("tick"u8)) tick = r.ReadInt64();
            else if (key.SequenceEqual("from"u8)) from = r.ReadString();
            else if (key.SequenceEqual("to"u8)) to = r.ReadString();
            else if (key.SequenceEqual("reason"u8)) reason = r.ReadString();
            else r.Skip();
        }
        // Kept before the watched version shows in telemetry too: the controller publishes a tick's transitions just
        // before the telemetry message of the same interval, so the first stops of a bad policy arrive first.
        lock (_gate)
        {
            if (_transitions.Count == MaxKept) _transitions.RemoveAt(0);
            _transitions.Add((tick, from, to, reason));
        }
    }

    public void Dispose() => _subscription.Dispose();
}
