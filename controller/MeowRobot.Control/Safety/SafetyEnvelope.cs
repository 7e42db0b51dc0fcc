namespace MeowRobot.Control.Safety;

/// <summary>Why the envelope or the loop judged an observation unusable.</summary>
public enum ObservationFault : byte
{
    None,
    /// <summary>No observation has arrived yet.</summary>
    Missing,
    /// <summary>Older than the staleness timeout.</summary>
    Stale,
    /// <summary>NaN or infinity in an element.</summary>
    NonFinite,
    /// <summary>An element outside its state bound.</summary>
    OutOfBounds,
}

/// <summary>
/// Shapes every action the loop emits so that it stays inside the actuator bounds AND moves at most the rate limit per tick,
/// whatever it is asked for (policy output, operator axes, or the safe action), including NaN or huge values.
/// One state: the last emitted action e. Per tick, with target x clamped into the bounds:
/// <c>e' = clamp(e + clamp(α (x − e), −r, r), low, high)</c>, where α = 1 without the low-pass filter, else
/// <c>dt / (RC + dt)</c>, and r is the per-tick rate limit. Since e and x lie in the bounds, so does e' (a convex step).
/// A non-finite target is replaced by the safe action before shaping. The safe action is shaped the same way, so a
/// transition to it is rate-limited too: from an extreme action, reaching zero takes (range / rate) seconds; a hardware
/// e-stop that cuts power is expected to act independently of this software path.
/// Loop thread only after construction; never allocates.
/// </summary>
public sealed class SafetyEnvelope
{
    private readonly float[] _low;
    private readonly float[] _high;
    private readonly float[] _ratePerTick;
    private readonly float[] _last;
    private readonly float[] _scratch;
    private readonly float[] _snap;
    private readonly StateBound[] _stateBounds;
    private readonly float _alpha;
    private readonly float _dampingFactor;
    private readonly SafeActionKind _safeAction;

    public SafetyEnvelope(SafetyEnvelopeOptions options, int observationSize, double periodSeconds)
    {
        ArgumentNullException.ThrowIfNull(options);
        var n = options.ActionLow.Length;
        options.Validate(n, observationSize);
        if (!(periodSeconds > 0 && double.IsFinite(periodSeconds)))
            throw new ArgumentOutOfRangeException(nameof(periodSeconds));
        ActionSize = n;
        ObservationSize = observationSize;
        PeriodSeconds = periodSeconds;
        _low = (float[])options.ActionLow.Clone();
        _high = (float[])options.ActionHigh.Clone();
        _ratePerTick = new float[n];
        _snap = new float[n];
        for (var i = 0; i < n; i++)
        {
            var perSecond = options.MaxRatePerSecond?[i] ?? (float)((_high[i] - _low[i]) / SafetyEnvelopeOptions.DefaultFullSwingSeconds);
            _ratePerTick[i] = (float)(perSecond * periodSeconds);
            _snap[i] = 1e-6f * (_high[i] - _low[i]);
        }
        _alpha = options.LowPassCutoffHz is { } fc
            ? (float)(periodSeconds / (1.0 / (2 * Math.PI * fc) + periodSeconds))
            : 1f;
        _dampingFactor = (float)Math.Exp(-periodSeconds / options.DampingTimeConstantSeconds);
        _safeAction = options.SafeAction;
        _stateBounds = (StateBound[])options.StateBounds.Clone();
        ObservationTimeoutSeconds = options.ObservationTimeoutSeconds;
        DeadlineMissBudget = options.DeadlineMissBudget;
        _last = new float[n];
        _scratch = new float[n];
        for (var i = 0; i < n; i++)
            _last[i] = Math.Clamp(0f, _low[i], _high[i]);
    }

    public int ActionSize { get; }
    public int ObservationSize { get; }
    public double PeriodSeconds { get; }
    public double ObservationTimeoutSeconds { get; }
    public int DeadlineMissBudget { get; }
    public ReadOnlySpan<float> Low => _low;
    public ReadOnlySpan<float> High => _high;
    /// <summary>The per-tick rate limit per actuator.</summary>
    public ReadOnlySpan<float> RatePerTick => _ratePerTick;
    /// <summary>The last emitted action (the envelope's one state).</summary>
    public ReadOnlySpan<float> LastEmitted => _last;

    /// <summary>Checks an observation for NaN/Inf and against the state bounds.</summary>
    public ObservationFault CheckObservation(ReadOnlySpan<float> observation)
    {
        foreach (var v in observation)
        {
            if (!float.IsFinite(v))
                return ObservationFault.NonFinite;
        }
        foreach (var b in _stateBounds)
        {
            var v = observation[b.Index];
            if (v < b.Min || v > b.Max)
                return ObservationFault.OutOfBounds;
        }
        return ObservationFault.None;
    }

    /// <summary>Maps operator axes in [-1, 1] linearly onto the bounds (−1 → low, +1 → high); missing or non-finite axes map to 0.</summary>
    public void MapAxes(ReadOnlySpan<float> axes, Span<float> target)
    {
        for (var i = 0; i < target.Length; i++)
        {
            var a = i < axes.Length && float.IsFinite(axes[i]) ? Math.Clamp(axes[i], -1f, 1f) : 0f;
            target[i] = 0.5f * (_low[i] + _high[i]) + a * 0.5f * (_high[i] - _low[i]);
        }
    }

    /// <summary>Shapes <paramref name="target"/> (any values) into the next emitted action, written to <paramref name="emitted"/>.
    /// Returns false when the target was not finite and the safe action was used instead.</summary>
    public bool Emit(ReadOnlySpan<float> target, Span<float> emitted)
    {
        var finite = true;
        foreach (var v in target)
        {
            if (!float.IsFinite(v))
            {
                finite = false;
                break;
            }
        }
        if (!finite)
        {
            SafeTarget(_scratch);
            Shape(_scratch, emitted);
        }
        else
        {
            Shape(target, emitted);
        }
        return finite;
    }

    /// <summary>Emits the next step toward the safe action.</summary>
    public void EmitSafe(Span<float> emitted)
    {
        SafeTarget(_scratch);
        Shape(_scratch, emitted);
    }

    /// <summary>True when the last emitted action equals the safe action's fixed point (zero clamped into the bounds; or,
    /// for <see cref="SafeActionKind.Hold"/>, always).</summary>
    public bool AtRest
    {
        get
        {
            if (_safeAction == SafeActionKind.Hold)
                return true;
            for (var i = 0; i < _last.Length; i++)
            {
                if (_last[i] != Math.Clamp(0f, _low[i], _high[i]))
                    return false;
            }
            return true;
        }
    }

    private void SafeTarget(Span<float> target)
    {
        for (var i = 0; i < target.Length; i++)
        {
            target[i] = _safeAction switch
            {
                SafeActionKind.Hold => _last[i],
                SafeActionKind.Damped => Math.Abs(_last[i]) <= _snap[i] ? 0f : _last[i] * _dampingFactor,   // lands on zero
                _ => 0f,
            };
        }
    }

    private void Shape(ReadOnlySpan<float> target, Span<float> emitted)
    {
        for (var i = 0; i < _last.Length; i++)
        {
            var lo = _low[i];
            var hi = _high[i];
            var x = Math.Clamp(target[i], lo, hi);
            var e = _last[i];
            var r = _ratePerTick[i];
            var step = Math.Clamp(_alpha * (x - e), -r, r);
            var next = Math.Clamp(e + step, lo, hi);
            // The low-pass (and float rounding) only approaches its target: land on it once within a millionth of the range.
            if (Math.Abs(x - next) <= _snap[i] && Math.Abs(x - e) <= r)
                next = x;
            _last[i] = next;
            emitted[i] = next;
        }
    }
}
