using FsCheck;
using FsCheck.Fluent;
using MeowRobot.Control.WeightStream;

namespace MeowRobot.Control.Tests;

public class WeightStreamWireTests
{
    [Fact]
    public void Heartbeats_round_trip_and_any_bytes_or_truncation_decode_to_false_without_throwing()
    {
        var good = WeightStreamWire.EncodeHeartbeat(42, new byte[32]);
        Assert.True(WeightStreamWire.TryDecodeHeartbeat(good, out var v));
        Assert.Equal(42UL, v);
        for (var n = 0; n < good.Length; n++)
            Assert.False(WeightStreamWire.TryDecodeHeartbeat(good.AsSpan(0, n), out _));

        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes =>
        {
            WeightStreamWire.TryDecodeHeartbeat(bytes, out _);   // must not throw
            var flipped = (byte[])good.Clone();
            if (bytes.Length > 0) flipped[bytes[0] % flipped.Length] ^= (byte)(bytes.Length | 1);
            WeightStreamWire.TryDecodeHeartbeat(flipped, out _);
            return true;
        }).QuickCheckThrowOnFailure();
    }
}
