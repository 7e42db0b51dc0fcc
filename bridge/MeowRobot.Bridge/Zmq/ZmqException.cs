namespace MeowRobot.Bridge.Zmq;

/// <summary>A libzmq call failed; <see cref="Errno"/> is zmq_errno() and the message carries zmq_strerror's text.</summary>
public class ZmqException : Exception
{
    public ZmqException(string operation, int errno)
        : this(operation, errno, ZmqNative.ErrorText(errno))
    {
    }

    protected ZmqException(string operation, int errno, string text)
        : base($"{operation}: {text} (errno {errno})")
    {
        Operation = operation;
        Errno = errno;
    }

    /// <summary>The call that failed, e.g. "zmq_bind(tcp://127.0.0.1:5555)".</summary>
    public string Operation { get; }
    public int Errno { get; }

    internal static ZmqException For(string operation, int errno) =>
        errno == ZmqNative.ETERM ? new ZmqContextTerminatedException(operation) : new ZmqException(operation, errno);
}

/// <summary>The context is shutting down (ETERM): the socket's owner should close it and leave.</summary>
public sealed class ZmqContextTerminatedException(string operation) : ZmqException(operation, ZmqNative.ETERM);
