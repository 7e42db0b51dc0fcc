using System.CommandLine;

namespace MeowRobot.Controller;

/// <summary><c>./meow controller bench</c>: benchmarks of the on-robot parts (docs/benchmarks.md).</summary>
public static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks of the on-robot parts")
    {
        BenchInferCommand.Create(),
        BenchLoopCommand.Create(),
    };
}
