using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MeowRobot.Tensors.Kernels;

/// <summary>
/// Single-precision matrix product C = op(A) op(B) (+ C), row-major. With AVX-512: B is packed into 32-column panels
/// (K-major, zero-padded) per block of 256 k, and an 8×32 register tile (16 zmm accumulators, FMA) walks the rows of A
/// straight from the caller's storage (either orientation), so small row counts and small k pay no packing of A.
/// Without AVX-512 a vectorised row-axpy loop is used.
/// </summary>
public static unsafe partial class Gemm
{
    private const int Nr = 32;  // panel width: two Vector512<float>
    private const int Mr = 8;   // register tile rows
    private const int Kc = 256; // k block: one packed panel (32 KiB) stays in L1 while all row tiles stream past it

    /// <summary>Below this many multiply-adds a product stays on one thread (waking the second core costs more).</summary>
    public const long ParallelThreshold = 1L << 18;

    /// <summary>Cores a large product may use: 1 (default) or 2. Products too small to gain stay on the calling thread.</summary>
    public static int Threads
    {
        get => threads;
        set => threads = value is 1 or 2 ? value : throw new ArgumentOutOfRangeException(nameof(value), "1 or 2");
    }

    private static int threads = 1;

    [ThreadStatic] private static float[]? packBuffer;

    /// <summary>
    /// C[m, n] = op(A)[m, k] · op(B)[k, n], added to C when <paramref name="accumulate"/>. A is [m, k] with row stride
    /// <paramref name="lda"/> (or [k, m] when <paramref name="transA"/>); B is [k, n] with row stride
    /// <paramref name="ldb"/> (or [n, k] when <paramref name="transB"/>).
    /// </summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate)
    {
        CheckOperands(m, n, k, a, lda, transA, b, ldb, transB, c, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate)
                for (var i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }
        fixed (float* pa = a, pb = b, pc = c)
        {
            var job = new Job
            {
                M = m, N = n, K = k,
                A = pa, ARowStride = transA ? 1 : lda, AKStride = transA ? lda : 1,
                B = pb, Ldb = ldb, TransB = transB,
                C = pc, Ldc = ldc, Accumulate = accumulate,
            };
            if (Avx512F.IsSupported) Blocked(ref job);
            else Portable(ref job);
        }
    }

    /// <summary>The textbook triple loop (double accumulation): the independent peer for tests and benchmarks.</summary>
    public static void Reference(int m, int n, int k, ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate)
    {
        CheckOperands(m, n, k, a, lda, transA, b, ldb, transB, c, ldc);
        for (var i = 0; i < m; i++)
        for (var j = 0; j < n; j++)
        {
            double s = accumulate ? c[i * ldc + j] : 0;
            for (var p = 0; p < k; p++)
                s += (double)(transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = (float)s;
        }
    }

    private static void CheckOperands(int m, int n, int k, ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "negative dimension");
        if (m == 0 || n == 0) return;
        var (ar, ac) = transA ? (k, m) : (m, k);
        var (br, bc) = transB ? (n, k) : (k, n);
        if (ac > lda || (ar > 0 && ac > 0 && a.Length < (long)(ar - 1) * lda + ac)) throw new ArgumentException($"A too small for [{ar}, {ac}] with stride {lda}", nameof(a));
        if (bc > ldb || (br > 0 && bc > 0 && b.Length < (long)(br - 1) * ldb + bc)) throw new ArgumentException($"B too small for [{br}, {bc}] with stride {ldb}", nameof(b));
        if (n > ldc || c.Length < (long)(m - 1) * ldc + n) throw new ArgumentException($"C too small for [{m}, {n}] with stride {ldc}", nameof(c));
    }

    internal struct Job
    {
        public int M, N, K;
        public float* A;
        public nint ARowStride, AKStride;
        public float* B;
        public int Ldb;
        public bool TransB;
        public float* C;
        public int Ldc;
        public bool Accumulate;

        // The current k block, set by Blocked before the tiles run.
        public int K0, KLen;
        public float* Packed;
        public bool Load;
    }

    private static void Blocked(ref Job job)
    {
        var panels = (job.N + Nr - 1) / Nr;
        var need = panels * Nr * Math.Min(job.K, Kc);
        if (packBuffer is null || packBuffer.Length < need) packBuffer = GC.AllocateUninitializedArray<float>(need, pinned: true);
        var split = threads == 2 && (long)job.M * job.N * job.K >= ParallelThreshold && (panels >= 2 || job.M > 64)
            && GemmWorker.TryAcquire(); // another thread's product holds the worker: run this one alone
        try
        {
            fixed (float* packed = packBuffer)
            {
                job.Packed = packed;
                for (var k0 = 0; k0 < job.K; k0 += Kc)
                {
                    job.K0 = k0;
                    job.KLen = Math.Min(Kc, job.K - k0);
                    job.Load = job.Accumulate || k0 > 0;
                    PackB(ref job, panels);
                    if (split) GemmWorker.Run(in job, panels);
                    else Tiles(in job, 0, panels, 0, job.M);
                }
            }
        }
        finally
        {
            if (split) GemmWorker.Release();
        }
    }

    /// <summary>Packs rows K0..K0+KLen of op(B) into 32-wide K-major panels, zero-padding the last panel.</summary>
    private static void PackB(ref Job job, int panels)
    {
        var kc = job.KLen;
        for (var jp = 0; jp < panels; jp++)
        {
            var dst = job.Packed + (nint)jp * kc * Nr;
            var j0 = jp * Nr;
            var w = Math.Min(Nr, job.N - j0);
            if (!job.TransB)
            {
                var src = job.B + (nint)job.K0 * job.Ldb + j0;
                if (w == Nr)
                    for (var p = 0; p < kc; p++)
                    {
                        Vector512.Store(Vector512.Load(src), dst);
                        Vector512.Store(Vector512.Load(src + 16), dst + 16);
                        src += job.Ldb;
                        dst += Nr;
                    }
                else
                    for (var p = 0; p < kc; p++)
                    {
                        for (var t = 0; t < w; t++) dst[t] = src[t];
                        for (var t = w; t < Nr; t++) dst[t] = 0f;
                        src += job.Ldb;
                        dst += Nr;
                    }
            }
            else
            {
                // B stored [n, k]: column j of op(B) is row j of B.
                for (var t = 0; t < w; t++)
                {
                    var src = job.B + (nint)(j0 + t) * job.Ldb + job.K0;
                    for (var p = 0; p < kc; p++) dst[p * Nr + t] = src[p];
                }
                for (var t = w; t < Nr; t++)
                for (var p = 0; p < kc; p++)
                    dst[p * Nr + t] = 0f;
            }
        }
    }

    /// <summary>Runs the register tiles for panels [p0, p1) and rows [r0, r1) of the current k block.</summary>
    internal static void Tiles(in Job job, int p0, int p1, int r0, int r1)
    {
        var kc = job.KLen;
        var aBase = job.A + job.K0 * job.AKStride;
        float* edge = stackalloc float[Mr * Nr];
        for (var jp = p0; jp < p1; jp++)
        {
            var panel = job.Packed + (nint)jp * kc * Nr;
            var j0 = jp * Nr;
            var w = Math.Min(Nr, job.N - j0);
            var i = r0;
            for (; i < r1; i += Mr)
            {
                var rows = Math.Min(Mr, r1 - i);
                var a = aBase + i * job.ARowStride;
                var c = job.C + (nint)i * job.Ldc + j0;
                if (w == Nr && rows == Mr)
                {
                    Kernel8x32(kc, a, job.ARowStride, job.AKStride, panel, c, job.Ldc, job.Load);
                    continue;
                }
                // Edge tile: work in a full 8x32 scratch tile, copy the valid part back.
                for (var r = 0; r < Mr; r++)
                for (var t = 0; t < Nr; t++)
                    edge[r * Nr + t] = job.Load && r < rows && t < w ? c[r * job.Ldc + t] : 0f;
                if (rows == Mr) Kernel8x32(kc, a, job.ARowStride, job.AKStride, panel, edge, Nr, true);
                else
                    for (var r = 0; r < rows; r++)
                        Kernel1x32(kc, a + r * job.ARowStride, job.AKStride, panel, edge + r * Nr);
                for (var r = 0; r < rows; r++)
                for (var t = 0; t < w; t++)
                    c[r * job.Ldc + t] = edge[r * Nr + t];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(int kc, float* a, nint rs, nint ks, float* b, float* c, nint ldc, bool load)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (load)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector512<float>.Zero;
            c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }
        float* a0 = a, a1 = a + rs, a2 = a + 2 * rs, a3 = a + 3 * rs;
        float* a4 = a + 4 * rs, a5 = a + 5 * rs, a6 = a + 6 * rs, a7 = a + 7 * rs;
        for (nint p = 0, off = 0; p < kc; p++, off += ks)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            b += Nr;
            var x = Vector512.Create(a0[off]);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[off]);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[off]);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[off]);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[off]);
            c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[off]);
            c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a6[off]);
            c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); c61 = Avx512F.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a7[off]);
            c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); c71 = Avx512F.FusedMultiplyAdd(x, b1, c71);
        }
        Vector512.Store(c00, c); Vector512.Store(c01, c + 16);
        Vector512.Store(c10, c + ldc); Vector512.Store(c11, c + ldc + 16);
        Vector512.Store(c20, c + 2 * ldc); Vector512.Store(c21, c + 2 * ldc + 16);
        Vector512.Store(c30, c + 3 * ldc); Vector512.Store(c31, c + 3 * ldc + 16);
        Vector512.Store(c40, c + 4 * ldc); Vector512.Store(c41, c + 4 * ldc + 16);
        Vector512.Store(c50, c + 5 * ldc); Vector512.Store(c51, c + 5 * ldc + 16);
        Vector512.Store(c60, c + 6 * ldc); Vector512.Store(c61, c + 6 * ldc + 16);
        Vector512.Store(c70, c + 7 * ldc); Vector512.Store(c71, c + 7 * ldc + 16);
    }

    /// <summary>One row of a tile (edges only), accumulating into <paramref name="c"/>.</summary>
    private static void Kernel1x32(int kc, float* a, nint ks, float* b, float* c)
    {
        var c0 = Vector512.Load(c);
        var c1 = Vector512.Load(c + 16);
        for (nint p = 0, off = 0; p < kc; p++, off += ks)
        {
            var x = Vector512.Create(a[off]);
            c0 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(b), c0);
            c1 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(b + 16), c1);
            b += Nr;
        }
        Vector512.Store(c0, c);
        Vector512.Store(c1, c + 16);
    }

    /// <summary>Without AVX-512: C row i += A[i, p] · B row p, vectorised by TensorPrimitives (B rows gathered when
    /// transposed). Correct everywhere, fast enough for development machines.</summary>
    private static void Portable(ref Job job)
    {
        var n = job.N;
        var row = new float[n];
        for (var i = 0; i < job.M; i++)
        {
            var ci = new Span<float>(job.C + (nint)i * job.Ldc, n);
            if (!job.Accumulate) ci.Clear();
            for (var p = 0; p < job.K; p++)
            {
                var aip = job.A[i * job.ARowStride + p * job.AKStride];
                ReadOnlySpan<float> bp;
                if (!job.TransB) bp = new ReadOnlySpan<float>(job.B + (nint)p * job.Ldb, n);
                else
                {
                    for (var j = 0; j < n; j++) row[j] = job.B[(nint)j * job.Ldb + p];
                    bp = row;
                }
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(bp, aip, ci, ci);
            }
        }
    }
}
