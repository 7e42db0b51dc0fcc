using System.Buffers;
using BenchmarkDotNet.Attributes;
using MeowRobot.Bridge.MessagePack;

namespace MeowRobot.Benchmarks;

/// <summary>MessagePack encode/decode of a sim protocol v1 step reply (obs, reward, terminated, truncated, final_obs as
/// bin) for 1 and 8 envs of a 17-dimensional task, and whole-message validation. The baseline copies the same payload
/// bytes, the floor any codec pays. <c>./meow bench --filter *BridgeCodecBenchmarks*</c>.</summary>
[MemoryDiagnoser]
public class BridgeCodecBenchmarks
{
    private const int ObsDim = 17;

    private readonly ArrayBufferWriter<byte> _buffer = new(1 << 16);
    private float[] _obs = null!;
    private float[] _finalObs = null!;
    private float[] _reward = null!;
    private byte[] _terminated = null!;
    private byte[] _truncated = null!;
    private byte[] _encoded = null!;
    private float[] _decodedObs = null!;
    private float[] _decodedFinal = null!;
    private float[] _decodedReward = null!;
    private byte[] _copy = null!;

    [Params(1, 8)]
    public int Envs { get; set; } = 8;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(3);
        _obs = Enumerable.Range(0, Envs * ObsDim).Select(_ => (float)rng.NextDouble()).ToArray();
        _finalObs = _obs.Reverse().ToArray();
        _reward = Enumerable.Range(0, Envs).Select(_ => (float)rng.NextDouble()).ToArray();
        _terminated = new byte[Envs];
        _truncated = new byte[Envs];
        _decodedObs = new float[_obs.Length];
        _decodedFinal = new float[_obs.Length];
        _decodedReward = new float[Envs];
        Encode();
        _encoded = _buffer.WrittenSpan.ToArray();
        _copy = new byte[_encoded.Length];
    }

    [Benchmark(Baseline = true)]
    public int CopyPayload()
    {
        _encoded.CopyTo(_copy, 0);
        return _copy.Length;
    }

    [Benchmark]
    public int Encode()
    {
        _buffer.ResetWrittenCount();
        var w = new MsgPackWriter(_buffer);
        w.WriteMapHeader(7);
        w.WriteStringUtf8("v"u8); w.Write(1);
        w.WriteStringUtf8("ok"u8); w.Write(true);
        w.WriteStringUtf8("obs"u8); w.WriteBinary(_obs);
        w.WriteStringUtf8("reward"u8); w.WriteBinary(_reward);
        w.WriteStringUtf8("terminated"u8); w.WriteBinary(_terminated);
        w.WriteStringUtf8("truncated"u8); w.WriteBinary(_truncated);
        w.WriteStringUtf8("final_obs"u8); w.WriteBinary(_finalObs);
        return _buffer.WrittenCount;
    }

    [Benchmark]
    public int Decode()
    {
        var r = new MsgPackReader(_encoded);
        var seen = new MsgPackKeySet();
        var flags = 0;
        for (var n = r.ReadMapHeader(); n > 0; n--)
        {
            var key = r.ReadUniqueKey(ref seen);
            if (key.SequenceEqual("obs"u8)) r.ReadBinary(_decodedObs.AsSpan());
            else if (key.SequenceEqual("final_obs"u8)) r.ReadBinary(_decodedFinal.AsSpan());
            else if (key.SequenceEqual("reward"u8)) r.ReadBinary(_decodedReward.AsSpan());
            else if (key.SequenceEqual("terminated"u8) || key.SequenceEqual("truncated"u8)) flags += r.ReadBinary().Length;
            else r.Skip();
        }
        return flags;
    }

    [Benchmark]
    public bool Validate() => MsgPackReader.IsSingleValue(_encoded);
}
