using System.Buffers.Binary;
using System.Text;

namespace MeowRobot.Bridge.Zmq;

/// <summary>libzmq's socket monitor events (zmq.h, ZMQ_EVENT_*), as flags to choose which are reported.</summary>
[Flags]
public enum ZmqMonitorEvents
{
    None = 0,
    Connected = 0x0001,
    ConnectDelayed = 0x0002,
    ConnectRetried = 0x0004,
    Listening = 0x0008,
    BindFailed = 0x0010,
    Accepted = 0x0020,
    AcceptFailed = 0x0040,
    Closed = 0x0080,
    CloseFailed = 0x0100,
    Disconnected = 0x0200,
    MonitorStopped = 0x0400,
    /// <summary>The handshake failed before a mechanism could say why (e.g. the peer hung up mid-handshake: the other
    /// side's CURVE key did not fit).</summary>
    HandshakeFailedNoDetail = 0x0800,
    HandshakeSucceeded = 0x1000,
    /// <summary>A ZMTP or mechanism protocol error (e.g. a CURVE box that does not open: the wrong key).</summary>
    HandshakeFailedProtocol = 0x2000,
    /// <summary>The ZAP handler refused the peer.</summary>
    HandshakeFailedAuth = 0x4000,
    HandshakeFailed = HandshakeFailedNoDetail | HandshakeFailedProtocol | HandshakeFailedAuth,
    All = 0xFFFF,
}

/// <summary>One monitor event: what happened, its value (an errno, a protocol error code or a file descriptor) and the peer endpoint.</summary>
public readonly record struct ZmqMonitorEvent(ZmqMonitorEvents Event, uint Value, string Endpoint)
{
    /// <summary>Reads one event from a monitor PAIR socket (two frames: event number and value, then the endpoint); false when none is waiting.</summary>
    public static bool TryReceive(ZmqSocket monitor, out ZmqMonitorEvent e)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        e = default;
        Span<byte> head = stackalloc byte[6];
        if (!monitor.TryReceive(head, out var n)) return false;
        var endpoint = "";
        if (monitor.ReceiveMore)
        {
            endpoint = Encoding.UTF8.GetString(monitor.ReceiveFrame());
            while (monitor.ReceiveMore) monitor.ReceiveFrame();
        }
        if (n < 6) return false;
        e = new ZmqMonitorEvent((ZmqMonitorEvents)BinaryPrimitives.ReadUInt16LittleEndian(head), BinaryPrimitives.ReadUInt32LittleEndian(head[2..]), endpoint);
        return true;
    }
}
