using System.Runtime.InteropServices;

namespace MeowRobot.Bridge.Zmq;

/// <summary>
/// A reusable zmq_msg_t in native memory (64 bytes, pointer-aligned: libzmq stores frames of up to 33 bytes inside it,
/// so it must never move). Receive into it again and again without allocating; <see cref="Span"/> is the frame in
/// ZeroMQ's own buffer, valid until the next receive, send, <see cref="Rebuild"/> or dispose.
/// </summary>
public sealed unsafe class ZmqMessage : IDisposable
{
    private void* _msg;

    public ZmqMessage()
    {
        _msg = NativeMemory.AlignedAlloc(ZmqNative.MsgSize, (nuint)sizeof(nint));
        ZmqNative.MsgInit(_msg);
    }

    /// <summary>A message with a payload of <paramref name="size"/> bytes to fill through <see cref="WritableSpan"/>.</summary>
    public ZmqMessage(int size) : this() => Rebuild(size);

    internal void* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_msg == null, this);
            return _msg;
        }
    }

    public int Size => checked((int)ZmqNative.MsgSizeOf(Pointer));

    /// <summary>The frame's bytes (valid until the message is reused).</summary>
    public ReadOnlySpan<byte> Span => new(ZmqNative.MsgData(Pointer), Size);

    /// <summary>The payload to fill before sending.</summary>
    public Span<byte> WritableSpan => new(ZmqNative.MsgData(Pointer), Size);

    /// <summary>More frames of the same message follow the one received.</summary>
    public bool More => ZmqNative.MsgMore(Pointer) != 0;

    /// <summary>Releases the content and allocates a payload of <paramref name="size"/> bytes (zmq_msg_init_size).</summary>
    public void Rebuild(int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var msg = Pointer;
        ZmqNative.MsgClose(msg);
        if (ZmqNative.MsgInitSize(msg, (nuint)size) != 0)
        {
            var errno = ZmqNative.Errno();
            ZmqNative.MsgInit(msg);
            throw ZmqException.For($"zmq_msg_init_size({size})", errno);
        }
    }

    /// <summary>
    /// Releases the content and makes the message refer to <paramref name="data"/> without copying (zmq_msg_init_data):
    /// <paramref name="free"/>(data, hint) runs, on whatever thread libzmq is on, once libzmq no longer needs the bytes
    /// (sent, dropped, or the socket closed). The bytes must stay where they are and unchanged until then.
    /// </summary>
    public void Borrow(void* data, int size, delegate* unmanaged[Cdecl]<void*, void*, void> free, void* hint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var msg = Pointer;
        ZmqNative.MsgClose(msg);
        if (ZmqNative.MsgInitData(msg, data, (nuint)size, free, hint) != 0)
        {
            var errno = ZmqNative.Errno();
            ZmqNative.MsgInit(msg);
            throw ZmqException.For($"zmq_msg_init_data({size})", errno);
        }
    }

    public void Dispose()
    {
        if (_msg == null) return;
        ZmqNative.MsgClose(_msg);
        NativeMemory.AlignedFree(_msg);
        _msg = null;
    }
}
