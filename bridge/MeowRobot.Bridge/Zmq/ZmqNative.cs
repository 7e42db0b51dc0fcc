using System.Runtime.InteropServices;
using MeowRobot.Bridge.Native;

namespace MeowRobot.Bridge.Zmq;

/// <summary>libzmq 4.3.4's C API (zmq.h). Sizes are size_t (nuint); zmq_msg_t is 64 opaque, pointer-aligned bytes.</summary>
internal static unsafe partial class ZmqNative
{
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EINVAL = 22;
    public const int EMSGSIZE = 90;
    public const int ETERM = 156384712 + 53;

    public const int SNDMORE = 2;
    public const int DONTWAIT = 1;

    public const int MsgSize = 64;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollItem
    {
        public nint Socket;
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_ctx_new")] public static partial nint CtxNew();
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_ctx_shutdown")] public static partial int CtxShutdown(nint ctx);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_ctx_term")] public static partial int CtxTerm(nint ctx);

    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_socket")] public static partial nint Socket(nint ctx, int type);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_close")] public static partial int Close(nint socket);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_setsockopt")] public static partial int SetSockOpt(nint socket, int option, void* value, nuint size);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_getsockopt")] public static partial int GetSockOpt(nint socket, int option, void* value, nuint* size);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_bind", StringMarshalling = StringMarshalling.Utf8)] public static partial int Bind(nint socket, string endpoint);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_unbind", StringMarshalling = StringMarshalling.Utf8)] public static partial int Unbind(nint socket, string endpoint);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_connect", StringMarshalling = StringMarshalling.Utf8)] public static partial int Connect(nint socket, string endpoint);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_disconnect", StringMarshalling = StringMarshalling.Utf8)] public static partial int Disconnect(nint socket, string endpoint);

    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_send")] public static partial int Send(nint socket, byte* buffer, nuint length, int flags);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_recv")] public static partial int Recv(nint socket, byte* buffer, nuint length, int flags);

    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_init")] public static partial int MsgInit(void* msg);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_init_size")] public static partial int MsgInitSize(void* msg, nuint size);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_init_data")] public static partial int MsgInitData(void* msg, void* data, nuint size, delegate* unmanaged[Cdecl]<void*, void*, void> free, void* hint);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_socket_monitor", StringMarshalling = StringMarshalling.Utf8)] public static partial int SocketMonitor(nint socket, string endpoint, int events);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_data")] public static partial byte* MsgData(void* msg);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_size")] public static partial nuint MsgSizeOf(void* msg);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_more")] public static partial int MsgMore(void* msg);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_send")] public static partial int MsgSend(void* msg, nint socket, int flags);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_recv")] public static partial int MsgRecv(void* msg, nint socket, int flags);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_msg_close")] public static partial int MsgClose(void* msg);

    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_poll")] public static partial int Poll(PollItem* items, int count, long timeout);

    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_errno")] public static partial int Errno();
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_strerror")] public static partial nint StrError(int errnum);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_version")] public static partial void Version(int* major, int* minor, int* patch);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_has", StringMarshalling = StringMarshalling.Utf8)] public static partial int Has(string capability);

    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_curve_keypair")] public static partial int CurveKeypair(byte* z85Public, byte* z85Secret);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_curve_public")] public static partial int CurvePublic(byte* z85Public, byte* z85Secret);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_z85_encode")] public static partial byte* Z85Encode(byte* dest, byte* data, nuint size);
    [LibraryImport(NativeLibraries.Zmq, EntryPoint = "zmq_z85_decode")] public static partial byte* Z85Decode(byte* dest, byte* text);

    public static string ErrorText(int errno) => Marshal.PtrToStringUTF8(StrError(errno)) ?? $"errno {errno}";
}
