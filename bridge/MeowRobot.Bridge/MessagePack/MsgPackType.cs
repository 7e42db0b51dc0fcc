namespace MeowRobot.Bridge.MessagePack;

/// <summary>The kind of the next MessagePack value, as <see cref="MsgPackReader.PeekType"/> reports it.</summary>
public enum MsgPackType
{
    Nil,
    Boolean,
    /// <summary>Any integer form (fixint, uint 8..64, int 8..64).</summary>
    Integer,
    /// <summary>float 32 or float 64.</summary>
    Float,
    String,
    Binary,
    Array,
    Map,
    /// <summary>Any ext or fixext, including the timestamp (ext type -1).</summary>
    Extension,
}
