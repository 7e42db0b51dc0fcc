using System.Buffers;
using MeowRobot.Bridge.MessagePack;

namespace MeowRobot.Control.WeightStream;

/// <summary>
/// The weight stream's wire form (docs/protocol.md, "weight stream and telemetry"). PUB messages are two frames: a topic
/// and a MessagePack body. Topic <c>meow.bundle</c>: a policy bundle (PolicyBundle's map). Topic <c>meow.hb</c>: a
/// heartbeat map {version, sha256} naming the newest bundle (version 0: none yet). The snapshot ROUTER answers the
/// one-frame request <c>snapshot</c> with two frames: <c>meow.bundle</c> + the newest bundle, or <c>meow.none</c> + nil.
/// </summary>
public static class WeightStreamWire
{
    public static ReadOnlySpan<byte> BundleTopic => "meow.bundle"u8;
    public static ReadOnlySpan<byte> HeartbeatTopic => "meow.hb"u8;
    public static ReadOnlySpan<byte> NoneTopic => "meow.none"u8;
    public static ReadOnlySpan<byte> SnapshotRequest => "snapshot"u8;

    /// <summary>Bundles larger than this are refused by the receiving socket before they reach the decoder.</summary>
    public const long MaxMessageBytes = 64L << 20;

    public static byte[] EncodeHeartbeat(ulong version, ReadOnlySpan<byte> sha256)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        var w = new MsgPackWriter(buffer);
        w.WriteMapHeader(2);
        w.WriteStringUtf8("version"u8);
        w.Write(version);
        w.WriteStringUtf8("sha256"u8);
        w.WriteBinary(sha256);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a heartbeat; false for anything malformed (a heartbeat is advisory: a bad one is ignored and counted).</summary>
    public static bool TryDecodeHeartbeat(ReadOnlySpan<byte> body, out ulong version)
    {
        version = 0;
        try
        {
            var r = new MsgPackReader(body);
            var seen = default(MsgPackKeySet);
            var found = false;
            for (var n = r.ReadMapHeader(); n > 0; n--)
            {
                var key = r.ReadUniqueKey(ref seen);
                if (key.SequenceEqual("version"u8)) { version = r.ReadUInt64(); found = true; }
                else r.Skip();
            }
            return found && r.End;
        }
        catch (MsgPackException)
        {
            return false;
        }
    }
}
