using MeowRobot.Policy.Files;

namespace MeowRobot.Learner;

/// <summary>
/// Running observation statistics (Welford, in double) and the normalisation the policy file carries to the robot:
/// clamp((s − mean) / sqrt(var + ε), ±clip), the same formula <c>meow.obs_norm</c> tells the runtime to apply.
/// Until the first observation the statistics are the identity (mean 0, var 1).
/// </summary>
public sealed class ObservationNormalizer
{
    private readonly double[] _mean, _m2;
    private readonly float[] _shift, _scale;
    private bool _stale = true;

    public ObservationNormalizer(int obsDim, float epsilon = 1e-8f, float clip = 10f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(obsDim, 1);
        if (!(epsilon > 0f) || !(clip > 0f)) throw new ArgumentOutOfRangeException(nameof(epsilon), "epsilon and clip must be positive");
        _mean = new double[obsDim];
        _m2 = new double[obsDim];
        _shift = new float[obsDim];
        _scale = new float[obsDim];
        Epsilon = epsilon;
        Clip = clip;
    }

    public int ObsDim => _mean.Length;
    public float Epsilon { get; }
    public float Clip { get; }
    /// <summary>Observations seen.</summary>
    public long Count { get; private set; }

    /// <summary>Folds one observation row into the statistics.</summary>
    public void Observe(ReadOnlySpan<float> obs)
    {
        if (obs.Length != ObsDim) throw new ArgumentException($"observation rows have {ObsDim} values", nameof(obs));
        Count++;
        for (var j = 0; j < obs.Length; j++)
        {
            var d = obs[j] - _mean[j];
            _mean[j] += d / Count;
            _m2[j] += d * (obs[j] - _mean[j]);
        }
        _stale = true;
    }

    /// <summary>Normalises rows of observations (any number, row-major) from <paramref name="raw"/> into <paramref name="into"/> (may be the same span).</summary>
    public void Normalize(ReadOnlySpan<float> raw, Span<float> into)
    {
        if (raw.Length % ObsDim != 0 || into.Length < raw.Length) throw new ArgumentException("whole observation rows expected", nameof(raw));
        if (_stale) Refresh();
        Apply(_shift, _scale, Clip, raw, into);
    }

    /// <summary>clamp((s − mean) · invStd, ±clip) over whole rows: the one normalisation formula, for running statistics
    /// and for those a policy file carries.</summary>
    public static void Apply(ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, float clip, ReadOnlySpan<float> raw, Span<float> into)
    {
        var dim = mean.Length;
        for (var i = 0; i < raw.Length; i++)
        {
            var j = i % dim;
            into[i] = Math.Clamp((raw[i] - mean[j]) * invStd[j], -clip, clip);
        }
    }

    /// <summary>1 / sqrt(var + ε) per dimension of a policy file's statistics.</summary>
    public static float[] InverseStd(ObservationNormalization n) => n.Var.Select(v => 1f / MathF.Sqrt(v + n.Epsilon)).ToArray();

    /// <summary>The statistics as policy-file metadata.</summary>
    public ObservationNormalization ToMetadata()
    {
        if (_stale) Refresh();
        return new ObservationNormalization(_shift.ToArray(), Variance().Select(v => (float)v).ToArray(), Epsilon, Clip);
    }

    public void Save(BinaryWriter w)
    {
        w.Write(ObsDim);
        w.Write(Count);
        foreach (var v in _mean) w.Write(v);
        foreach (var v in _m2) w.Write(v);
    }

    public void Load(BinaryReader r)
    {
        if (r.ReadInt32() != ObsDim) throw new InvalidDataException("observation statistics of another size");
        var count = r.ReadInt64();
        if (count < 0) throw new InvalidDataException("negative observation count");
        Count = count;
        for (var j = 0; j < ObsDim; j++) _mean[j] = r.ReadDouble();
        for (var j = 0; j < ObsDim; j++) _m2[j] = r.ReadDouble();
        _stale = true;
    }

    private IEnumerable<double> Variance() => _m2.Select(m2 => Count > 0 ? m2 / Count : 1.0);

    private void Refresh()
    {
        var j = 0;
        foreach (var v in Variance())
        {
            _shift[j] = (float)_mean[j];
            _scale[j] = 1f / MathF.Sqrt((float)v + Epsilon);
            j++;
        }
        _stale = false;
    }
}
