using System.Runtime.CompilerServices;
using MeowRobot.Bridge.Native;

namespace MeowRobot.Trainer.Service;

#pragma warning disable CA2255 // the resolver must be in place before this assembly's first P/Invoke
internal static class ModuleInit
{
    [ModuleInitializer]
    internal static void Init() => NativeLibraries.Register(typeof(ModuleInit).Assembly);
}
