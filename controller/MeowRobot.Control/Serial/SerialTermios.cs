using System.Runtime.InteropServices;

namespace MeowRobot.Control.Serial;

/// <summary>A serial line could not be opened or configured; carries the errno.</summary>
public sealed class SerialPortException(string message, int errno) : IOException(message)
{
    public int Errno { get; } = errno;
}

/// <summary>Line settings as the kernel reports them (for diagnostics and tests).</summary>
public readonly record struct SerialLineSettings(uint InputFlags, uint OutputFlags, uint ControlFlags, uint LocalFlags,
    byte MinBytes, byte TimeoutDeciseconds, uint InputSpeed, uint OutputSpeed);

/// <summary>
/// Raw-mode configuration through the kernel's termios2 (what cfmakeraw does, plus CLOCAL|CREAD, 8N1, no flow control).
/// Standard rates use their B-codes, any other rate BOTHER with the exact speed, so one call covers both.
/// </summary>
internal static class SerialTermios
{
    private static readonly (int Rate, uint Code)[] StandardRates =
    [
        (50, 0x1), (75, 0x2), (110, 0x3), (134, 0x4), (150, 0x5), (200, 0x6), (300, 0x7), (600, 0x8), (1200, 0x9),
        (1800, 0xA), (2400, 0xB), (4800, 0xC), (9600, 0xD), (19200, 0xE), (38400, 0xF),
        (57600, 0x1001), (115200, 0x1002), (230400, 0x1003), (460800, 0x1004), (500000, 0x1005), (576000, 0x1006),
        (921600, 0x1007), (1000000, 0x1008), (1152000, 0x1009), (1500000, 0x100A), (2000000, 0x100B),
        (2500000, 0x100C), (3000000, 0x100D), (3500000, 0x100E), (4000000, 0x100F),
    ];

    /// <summary>The B-code of a standard rate, or null for a rate that needs BOTHER.</summary>
    public static uint? StandardCode(int baudRate)
    {
        foreach (var (rate, code) in StandardRates)
        {
            if (rate == baudRate)
                return code;
        }
        return null;
    }

    public static unsafe void Apply(int fd, int baudRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(baudRate, 1);
        Posix.Termios2 t;
        Check(Posix.Ioctl(fd, Posix.TCGETS2, &t), "TCGETS2");
        t.c_iflag &= ~(Posix.IGNBRK | Posix.BRKINT | Posix.PARMRK | Posix.ISTRIP | Posix.INLCR | Posix.IGNCR | Posix.ICRNL
            | Posix.IXON | Posix.IXOFF | Posix.IXANY | Posix.INPCK);
        t.c_oflag &= ~Posix.OPOST;
        t.c_lflag &= ~(Posix.ECHO | Posix.ECHONL | Posix.ICANON | Posix.ISIG | Posix.IEXTEN);
        t.c_cflag &= ~(Posix.CSIZE | Posix.PARENB | Posix.CSTOPB | Posix.CRTSCTS | Posix.CBAUD | Posix.CIBAUD);
        t.c_cflag |= Posix.CS8 | Posix.CLOCAL | Posix.CREAD;
        // CIBAUD stays 0: the input rate follows the output rate.
        t.c_cflag |= StandardCode(baudRate) ?? Posix.BOTHER;
        t.c_ispeed = t.c_ospeed = (uint)baudRate;
        // VMIN=1/VTIME=0 as cfmakeraw; the fd is non-blocking and waits happen in poll(), so these never block us.
        t.c_cc[Posix.VMIN] = 1;
        t.c_cc[Posix.VTIME] = 0;
        Check(Posix.Ioctl(fd, Posix.TCSETS2, &t), "TCSETS2");
        // Drop whatever the line buffered before we took it over.
        Check(Posix.Ioctl(fd, Posix.TCFLSH, Posix.TCIOFLUSH), "TCFLSH");
    }

    public static unsafe SerialLineSettings Query(int fd)
    {
        Posix.Termios2 t;
        Check(Posix.Ioctl(fd, Posix.TCGETS2, &t), "TCGETS2");
        return new(t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag, t.c_cc[Posix.VMIN], t.c_cc[Posix.VTIME], t.c_ispeed, t.c_ospeed);
    }

    private static void Check(int result, string what)
    {
        if (result < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new SerialPortException($"{what} failed: {Posix.Describe(errno)}", errno);
        }
    }
}
