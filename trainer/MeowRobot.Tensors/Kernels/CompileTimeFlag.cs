namespace MeowRobot.Tensors.Kernels;

/// <summary>
/// A yes/no known when a generic kernel is compiled: as a type argument it gives each combination its own machine code,
/// without the dead branches or their live registers (which otherwise spill a tight loop's).
/// </summary>
internal interface ICompileTimeFlag
{
    static abstract bool On { get; }
}

internal readonly struct FlagOn : ICompileTimeFlag
{
    public static bool On => true;
}

internal readonly struct FlagOff : ICompileTimeFlag
{
    public static bool On => false;
}
