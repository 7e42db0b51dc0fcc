using System.Runtime.CompilerServices;

namespace MeowRobot.Bridge.MessagePack;

/// <summary>
/// The keys of one map seen so far, for rejecting duplicates (see <see cref="MsgPackReader.ReadUniqueKey"/>). Keys are
/// remembered as (offset, length) into the reader's buffer and compared byte for byte, so the set is exact and, up to
/// <see cref="InlineCapacity"/> keys, allocation-free; beyond that it spills to a heap list (a protocol map that large
/// is not on a hot path). Start each map with <c>default</c>.
/// </summary>
public struct MsgPackKeySet
{
    public const int InlineCapacity = 16;

    [InlineArray(InlineCapacity)]
    private struct Slots
    {
        private (int Offset, int Length) _first;
    }

    private Slots _inline;
    private List<(int Offset, int Length)>? _spill;
    private int _count;

    public readonly int Count => _count;

    /// <summary>Adds the key at <paramref name="offset"/> in <paramref name="buffer"/>; false when an equal key is
    /// already present. Every key of one set must come from the same buffer.</summary>
    public bool TryAdd(ReadOnlySpan<byte> buffer, int offset, int length)
    {
        var key = buffer.Slice(offset, length);
        for (var i = 0; i < _count; i++)
        {
            var (o, l) = i < InlineCapacity ? _inline[i] : _spill![i - InlineCapacity];
            if (l == length && buffer.Slice(o, l).SequenceEqual(key)) return false;
        }
        if (_count < InlineCapacity) _inline[_count] = (offset, length);
        else (_spill ??= []).Add((offset, length));
        _count++;
        return true;
    }
}
