namespace MeowRobot.Tensors.Kernels;

/// <summary>
/// <see cref="Gemm"/>'s use of the <see cref="SecondCore"/>: the current k block of a product is cut into chunks (a
/// 32-column panel × up to 64 rows) that the caller and the worker claim. One product at a time: a caller takes the
/// core with <see cref="TryAcquire"/>; products on other threads (or inside work that holds the core, such as a
/// data-parallel training update) meanwhile run single-threaded.
/// </summary>
internal static unsafe class GemmWorker
{
    private const int RowsPerChunk = 64;

    private static readonly Chunks Current = new();

    public static bool TryAcquire() => SecondCore.Shared.TryAcquire();

    public static void Release() => SecondCore.Shared.Release();

    /// <summary>Runs the current k block of <paramref name="work"/> (panels × rows) on this thread and the worker.</summary>
    public static void Run(in Gemm.Job work, int panelCount)
    {
        Current.Job = work;
        Current.RowChunks = (work.M + RowsPerChunk - 1) / RowsPerChunk;
        SecondCore.Shared.Run(Current, panelCount * Current.RowChunks);
    }

    private sealed class Chunks : ISharedWork
    {
        public Gemm.Job Job;
        public int RowChunks;

        public void Run(int item)
        {
            var panel = item / RowChunks;
            var r0 = item % RowChunks * RowsPerChunk;
            Gemm.Tiles(in Job, panel, panel + 1, r0, Math.Min(Job.M, r0 + RowsPerChunk));
        }
    }
}
