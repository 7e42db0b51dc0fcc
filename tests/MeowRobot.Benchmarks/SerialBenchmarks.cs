using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using MeowRobot.Control.Serial;

namespace MeowRobot.Benchmarks;

/// <summary>Serial frame codec: encode one sensor frame (timestamp + 17 floats), parse a stream of them, and the CRC-32C
/// over the longest frame body. The baseline copies the same stream, the floor any parser pays.
/// <c>./meow bench --filter *SerialCodecBenchmarks*</c>.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class SerialCodecBenchmarks
{
    private const int Frames = 1000;
    private readonly byte[] _frame = new byte[SerialFrame.MaxFrameSize];
    private readonly float[] _observation = Enumerable.Range(0, 17).Select(i => i * 0.37f - 3f).ToArray();
    private readonly float[] _decoded = new float[17];
    private readonly SerialFrameParser _parser = new();
    private readonly byte[] _body = new byte[SerialFrame.MaxBodySize];
    private byte[] _stream = null!;
    private byte[] _copy = null!;

    [GlobalSetup]
    public void Setup()
    {
        var stream = new List<byte>();
        for (var i = 0; i < Frames; i++)
            stream.AddRange(_frame.AsSpan(0, SerialMessages.WriteSensor(_frame, (byte)i, (uint)i * 2000, _observation)).ToArray());
        _stream = [.. stream];
        _copy = new byte[_stream.Length];
        new Random(5).NextBytes(_body);
    }

    [Benchmark]
    public int EncodeSensorFrame() => SerialMessages.WriteSensor(_frame, 1, 123456, _observation);

    [Benchmark(Baseline = true, OperationsPerInvoke = Frames)]
    public int CopyStream()
    {
        _stream.CopyTo(_copy, 0);
        return _copy[^1];
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public int ParseSensorStream()
    {
        ReadOnlySpan<byte> input = _stream;
        var n = 0;
        while (_parser.TryRead(ref input, out var frame))
        {
            if (SerialMessages.ReadSensor(frame, out _, _decoded) == SerialMessageError.None)
                n++;
        }
        return n;
    }

    [Benchmark]
    public uint Crc32COfLongestBody() => Crc32C.Compute(_body);
}

/// <summary>One frame across a socat pty pair and back (both ends our <see cref="SerialPort"/>, each on its own I/O thread):
/// the latency a serial link adds before a frame reaches its handler, without hardware. Needs socat.
/// <c>./meow bench --filter *SerialPtyBenchmarks*</c>.</summary>
[MedianColumn]
public class SerialPtyBenchmarks
{
    private Process _socat = null!;
    private string _dir = null!;
    private SerialPort _a = null!, _b = null!;
    private readonly Echo _echo = new();
    private readonly Arrival _arrival = new();
    private readonly byte[] _frame = new byte[SerialFrame.MaxFrameSize];
    private int _length;

    [Params(4, 63)]
    public int Floats { get; set; } = 4;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("meow-bench-pty-").FullName;
        var a = Path.Combine(_dir, "ttyA");
        var b = Path.Combine(_dir, "ttyB");
        _socat = Process.Start(new ProcessStartInfo("socat", ["-d", "-d", $"pty,raw,echo=0,link={a}", $"pty,raw,echo=0,link={b}"]) { RedirectStandardError = true })!;
        _socat.BeginErrorReadLine();
        if (!SpinWait.SpinUntil(() => File.Exists(a) && File.Exists(b), TimeSpan.FromSeconds(10)))
            throw new InvalidOperationException("socat made no pty pair");
        _a = new SerialPort(new SerialPortOptions { Path = a, WriteTimeout = TimeSpan.FromSeconds(1) }, _arrival);
        _b = new SerialPort(new SerialPortOptions { Path = b, WriteTimeout = TimeSpan.FromSeconds(1) }, _echo);
        _echo.Port = _b;
        _a.Start();
        _b.Start();
        if (!SpinWait.SpinUntil(() => _a.IsUp && _b.IsUp, TimeSpan.FromSeconds(10)))
            throw new InvalidOperationException("ports did not open");
        _length = SerialMessages.WriteActuator(_frame, 0, new float[Floats]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _socat.Kill();
        _socat.WaitForExit();
        Directory.Delete(_dir, true);
    }

    /// <summary>Send on A, B's handler echoes the frame, A's handler signals: one round trip.</summary>
    [Benchmark]
    public bool RoundTrip()
    {
        _a.Send(_frame.AsSpan(0, _length));
        return _arrival.Frames.Wait(TimeSpan.FromSeconds(1));
    }

    private sealed class Echo : ISerialLinkHandler
    {
        private readonly SerialFrameParser _parser = new();
        private readonly byte[] _out = new byte[SerialFrame.MaxFrameSize];
        public SerialPort? Port { get; set; }
        public void OnBytes(ReadOnlySpan<byte> data)
        {
            while (_parser.TryRead(ref data, out var frame))
                Port!.Send(_out.AsSpan(0, SerialFrame.Write(_out, frame.Type, frame.Sequence, frame.Payload)));
        }
        public void OnLinkUp() { }
        public void OnLinkDown(SerialFault fault) { }
        public void OnIdle(long nowTicks) { }
    }

    private sealed class Arrival : ISerialLinkHandler
    {
        private readonly SerialFrameParser _parser = new();
        public SemaphoreSlim Frames { get; } = new(0);
        public void OnBytes(ReadOnlySpan<byte> data)
        {
            while (_parser.TryRead(ref data, out _))
                Frames.Release();
        }
        public void OnLinkUp() { }
        public void OnLinkDown(SerialFault fault) { }
        public void OnIdle(long nowTicks) { }
    }
}
