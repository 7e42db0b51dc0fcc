namespace MeowRobot.Control.Serial;

/// <summary>
/// What the device emulators share (the MCU plant, the teleop transmitter): one end of a serial line and a thread that
/// plays the device until disposed. A derived class implements <see cref="Run"/>, waiting on <see cref="Stopping"/>
/// between what it sends, and the <see cref="ISerialLinkHandler"/> callbacks it cares about.
/// </summary>
public abstract class SerialDeviceEmulator : ISerialLinkHandler, IDisposable
{
    private readonly Thread _thread;

    protected SerialDeviceEmulator(SerialPortOptions port, string threadName)
    {
        Port = new SerialPort(port, this);
        _thread = new Thread(Run) { IsBackground = true, Name = threadName };
    }

    public SerialPort Port { get; }

    /// <summary>Set when the emulator is disposed: <see cref="Run"/> waits on it and returns.</summary>
    protected ManualResetEventSlim Stopping { get; } = new();

    public void Start()
    {
        Port.Start();
        _thread.Start();
    }

    public void Dispose()
    {
        Stopping.Set();
        if (_thread.IsAlive)
            _thread.Join();
        Port.Dispose();
        Stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The device's own loop, on the emulator's thread.</summary>
    protected abstract void Run();

    public virtual void OnLinkUp() { }
    public virtual void OnLinkDown(SerialFault fault) { }
    public virtual void OnBytes(ReadOnlySpan<byte> data) { }
    public virtual void OnIdle(long nowTicks) { }
}
