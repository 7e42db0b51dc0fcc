using System.Runtime.InteropServices;
using MeowRobot.Bridge.Native;

namespace MeowRobot.Control.Serial;

/// <summary>
/// The libc calls a serial port needs, with the Linux constants (identical on x86-64 and arm64; checked against
/// &lt;asm/termbits.h&gt;, &lt;fcntl.h&gt; and &lt;poll.h&gt; with a C probe). termios goes through the kernel's
/// termios2 ioctls rather than glibc's struct termios, so one layout serves standard and non-standard rates.
/// </summary>
internal static partial class Posix
{
    public const int O_RDWR = 0x2, O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;
    public const short POLLIN = 0x1, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    public const int EINTR = 4, EIO = 5, ENXIO = 6, EAGAIN = 11, EBUSY = 16, ENODEV = 19;

    public const nuint TCGETS2 = 0x802C542A, TCSETS2 = 0x402C542B, TIOCEXCL = 0x540C, TCFLSH = 0x540B;
    public const int TCIOFLUSH = 2;

    // termios flag bits (octal in the headers).
    public const uint IGNBRK = 0x1, BRKINT = 0x2, PARMRK = 0x8, INPCK = 0x10, ISTRIP = 0x20, INLCR = 0x40, IGNCR = 0x80,
        ICRNL = 0x100, IXON = 0x400, IXANY = 0x800, IXOFF = 0x1000;
    public const uint OPOST = 0x1;
    public const uint CBAUD = 0x100F, BOTHER = 0x1000, CIBAUD = 0x100F0000, CSIZE = 0x30, CS8 = 0x30, CSTOPB = 0x40,
        CREAD = 0x80, PARENB = 0x100, CLOCAL = 0x800, CRTSCTS = 0x80000000;
    public const uint ISIG = 0x1, ICANON = 0x2, ECHO = 0x8, ECHONL = 0x40, IEXTEN = 0x8000;
    public const int VTIME = 5, VMIN = 6;

    /// <summary>The kernel's struct termios2 (44 bytes: c_line at 16, c_cc[19] at 17, c_ispeed at 36, c_ospeed at 40).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct Termios2
    {
        public uint c_iflag, c_oflag, c_cflag, c_lflag;
        public byte c_line;
        public fixed byte c_cc[19];
        public uint c_ispeed, c_ospeed;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int fd;
        public short events;
        public short revents;
    }

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
    public static unsafe partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, nint argument);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport(NativeLibraries.Libc, EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    public static string Describe(int errno) => $"{Marshal.PtrToStringUTF8(StrError(errno))} (errno {errno})";
}
