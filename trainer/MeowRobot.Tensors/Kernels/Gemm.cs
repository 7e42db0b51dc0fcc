using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MeowRobot.Tensors.Kernels;

/// <summary>
/// Single-precision matrix product C = op(A) op(B) (+ C) (+ a bias row), row-major. With AVX-512: B is packed into
/// 32-column panels (K-major, zero-padded; a transposed B through 16×16 in-register transposes) per block of 256 k, and an
/// 8×32 register tile (16 zmm accumulators, FMA) walks the rows of A straight from the caller's storage (either
/// orientation), so small row counts and small k pay no packing of A. Edge tiles use masked loads and stores and only the
/// part of the tile they need (8×16 for a panel at most 16 wide, 4 rows for the last few); the bias row seeds the
/// accumulators (and a seed matrix, when given, the first k block's); the tiles prefetch the rows of C they will write
/// (usually out of cache); a tall A with a quarter or more rows of zeros has only the others multiplied, taken by index.
/// n ≤ 4 (B not transposed) and n = 1 are dot products per row and column, k = 1 an outer product pass per row.
/// Without AVX-512 (AVX2, ARM) 6-row × 2-vector register tiles over B packed in panels of two vectors (<see cref="Portable"/>).
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
    [ThreadStatic] private static int[]? nonZeroRows;

    // A product this tall and wide checks A for rows of zeros first (a gradient masked per row: min(Q1, Q2)'s backward
    // reaches each row of only the critic that won it); a quarter of them or more, and only the others are multiplied.
    private const int SparseMinRows = 64, SparseMinColumns = 32;

    // Up to this many columns (B not transposed: a layer's input gradient over a few action columns), dot products per
    // row and column beat a 32-wide panel that is mostly padding (4× fewer FMAs at n = 3, k = 256).
    private const int FewColumns = 4;

    /// <summary>
    /// C[m, n] = op(A)[m, k] · op(B)[k, n] (+ <paramref name="rowBias"/> on every row), added to C when
    /// <paramref name="accumulate"/>. A is [m, k] with row stride <paramref name="lda"/> (or [k, m] when
    /// <paramref name="transA"/>); B is [k, n] with row stride <paramref name="ldb"/> (or [n, k] when
    /// <paramref name="transB"/>); <paramref name="rowBias"/> is empty or has n elements. A <paramref name="seed"/> (laid
    /// out as C) is where C starts instead of itself or zero (C = seed + op(A)·op(B)), read by the tiles as they load their
    /// accumulators: a sum with another product's result costs no pass of its own.
    /// </summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> rowBias = default, ReadOnlySpan<float> seed = default)
    {
        CheckOperands(m, n, k, a, lda, transA, b, ldb, transB, c, ldc, rowBias);
        if (m == 0 || n == 0) return;
        if (!seed.IsEmpty)
        {
            if (accumulate) throw new ArgumentException("a product starts from C (accumulate) or from a seed, not both", nameof(seed));
            if (seed.Length < (long)(m - 1) * ldc + n) throw new ArgumentException($"seed too small for [{m}, {n}] with stride {ldc}", nameof(seed));
        }
        fixed (float* pa = a, pb = b, pc = c, pbias = rowBias, pseed = seed)
        {
            var job = new Job
            {
                M = m, N = n, K = k,
                A = pa, ARowStride = transA ? 1 : lda, AKStride = transA ? lda : 1,
                B = pb, Ldb = ldb, TransB = transB,
                C = pc, Ldc = ldc, Accumulate = accumulate,
                RowBias = rowBias.IsEmpty ? null : pbias,
                Seed = seed.IsEmpty ? null : pseed,
            };
            if (k == 0)
                for (var i = 0; i < m; i++) StartRow(in job, i);
            else if (k == 1 && Wide) Outer(in job);
            else if (n <= FewColumns && !transA && (n == 1 || !transB) && Wide) RowDots(in job);
            else if (transA || m < SparseMinRows || n < SparseMinColumns || !WithoutZeroRows(ref job)) Dense(ref job);
        }
    }

    /// <summary>
    /// Makes this thread's products take the path of hosts without AVX-512 (<see cref="Portable"/>), so that an AVX-512
    /// host tests it too.
    /// </summary>
    [ThreadStatic] internal static bool PortableOnly;

    /// <summary>Whether this thread's products run the AVX-512 kernels.</summary>
    private static bool Wide => Avx512F.IsSupported && !PortableOnly;

    /// <summary>The whole product (or its rows by index): the AVX-512 tiles, or the portable ones.</summary>
    private static void Dense(ref Job job)
    {
        if (Wide) Blocked(ref job);
        else Portable(in job);
    }

    /// <summary>
    /// C = A·op(B) over A's rows that are not all zero (±0), when at least a quarter are: the tiles take those rows by
    /// index, in place; the zero rows' C rows are what an empty product gives (zero, or C kept, plus the bias). Each kept
    /// row meets the same packed panels in the same order as in the whole product, so every value is the same as without
    /// the skip (except where B holds an infinity or NaN, which a zero row would have turned into NaN).
    /// </summary>
    /// <returns>false, having done nothing, when under a quarter of the rows are zero.</returns>
    private static bool WithoutZeroRows(ref Job job)
    {
        int m = job.M, k = job.K;
        // Sized for all m rows (not this call's count), so the buffer stops growing once warm: 0 B per warm step.
        var rows = nonZeroRows is { } r && r.Length >= m ? r : nonZeroRows = new int[Math.Max(m, 1024)];
        var kept = 0;
        for (var i = 0; i < m; i++)
        {
            if (!IsZero(job.A + i * job.ARowStride, k)) rows[kept++] = i;
            if (i == SparseMinRows - 1 && kept == SparseMinRows) return false; // a dense product: stop looking
        }
        if (4 * (m - kept) < m) return false;
        for (int i = 0, next = 0; i < m; i++)
            if (next < kept && rows[next] == i) next++;
            else StartRow(in job, i);
        if (kept == 0) return true;
        fixed (int* index = rows)
        {
            var whole = job;
            job.M = kept;
            job.Rows = index;
            Dense(ref job);
            job = whole;
        }
        return true;
    }

    /// <summary>Whether all <paramref name="count"/> floats at <paramref name="x"/> are ±0.</summary>
    private static bool IsZero(float* x, int count)
    {
        var bits = (uint*)x;
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var any = Vector512<uint>.Zero;
            for (; i + 16 <= count; i += 16) any |= Vector512.Load(bits + i);
            if ((any & Vector512.Create(0x7FFF_FFFFu)) != Vector512<uint>.Zero) return false;
        }
        else
        {
            var any = Vector<uint>.Zero;
            for (; i + Vector<uint>.Count <= count; i += Vector<uint>.Count) any |= Vector.Load(bits + i);
            if ((any & new Vector<uint>(0x7FFF_FFFFu)) != Vector<uint>.Zero) return false;
        }
        for (; i < count; i++)
            if ((bits[i] & 0x7FFF_FFFFu) != 0) return false;
        return true;
    }

    /// <summary>The textbook triple loop (double accumulation): the independent peer for tests and benchmarks.</summary>
    public static void Reference(int m, int n, int k, ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> rowBias = default)
    {
        CheckOperands(m, n, k, a, lda, transA, b, ldb, transB, c, ldc, rowBias);
        for (var i = 0; i < m; i++)
        for (var j = 0; j < n; j++)
        {
            double s = (accumulate ? c[i * ldc + j] : 0) + (rowBias.IsEmpty ? 0 : rowBias[j]);
            for (var p = 0; p < k; p++)
                s += (double)(transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = (float)s;
        }
    }

    private static void CheckOperands(int m, int n, int k, ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, ReadOnlySpan<float> rowBias)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "negative dimension");
        if (!rowBias.IsEmpty && rowBias.Length != n) throw new ArgumentException($"row bias has {rowBias.Length} elements, C has {n} columns", nameof(rowBias));
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
        public float* RowBias; // null: none
        public int* Rows; // null: row i of the product is row i of A and C; else row Rows[i] of both
        public float* Seed; // null: C starts as itself (Accumulate) or zero; else as Seed (C's layout)

        // The current k block, set by Blocked before the tiles run.
        public int K0, KLen;
        public float* Packed;
        public bool Load;
        public float* PackedBias; // the bias, zero-padded to whole panels; null after the first k block (C holds it then)

        /// <summary>Where row i of C starts (the seed's row, C's own, or null for zero).</summary>
        public readonly float* Start(nint i) => Seed != null ? Seed + i * Ldc : Accumulate ? C + i * Ldc : null;
    }

    /// <summary>Row i of C before any product is added: the seed's row, itself or zero, plus the bias.</summary>
    private static void StartRow(in Job job, int i)
    {
        var ci = new Span<float>(job.C + (nint)i * job.Ldc, job.N);
        if (job.Seed != null) new ReadOnlySpan<float>(job.Start(i), job.N).CopyTo(ci);
        else if (!job.Accumulate) ci.Clear();
        if (job.RowBias != null) TensorPrimitives.Add(ci, new ReadOnlySpan<float>(job.RowBias, job.N), ci);
    }

    private static float[] PackBuffer(int need)
    {
        if (packBuffer is null || packBuffer.Length < need) packBuffer = GC.AllocateUninitializedArray<float>(need, pinned: true);
        return packBuffer;
    }

    private static void Blocked(ref Job job)
    {
        var panels = (job.N + Nr - 1) / Nr;
        var panelFloats = panels * Nr * Math.Min(job.K, Kc);
        var buffer = PackBuffer(panelFloats + panels * Nr);
        var split = threads == 2 && (long)job.M * job.N * job.K >= ParallelThreshold && (panels >= 2 || job.M > 64)
            && GemmWorker.TryAcquire(); // another thread's product holds the worker: run this one alone
        try
        {
            fixed (float* packed = buffer)
            {
                job.Packed = packed;
                var bias = packed + panelFloats;
                if (job.RowBias != null)
                {
                    new ReadOnlySpan<float>(job.RowBias, job.N).CopyTo(new Span<float>(bias, job.N));
                    new Span<float>(bias + job.N, panels * Nr - job.N).Clear();
                }
                for (var k0 = 0; k0 < job.K; k0 += Kc)
                {
                    job.K0 = k0;
                    job.KLen = Math.Min(Kc, job.K - k0);
                    job.Load = job.Accumulate || job.Seed != null || k0 > 0;
                    job.PackedBias = job.RowBias != null && k0 == 0 ? bias : null;
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

    /// <summary>Lanes [0, count) set: the valid columns of a 16-wide piece (none for count &lt;= 0).</summary>
    private static Vector512<float> FirstLanes(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();

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
                // Masked loads read only the panel's valid columns and zero the padding.
                var src = job.B + (nint)job.K0 * job.Ldb + j0;
                Vector512<float> left = FirstLanes(w), right = FirstLanes(w - 16);
                for (var p = 0; p < kc; p++)
                {
                    Vector512.Store(Avx512F.MaskLoad(src, left, Vector512<float>.Zero), dst);
                    Vector512.Store(Avx512F.MaskLoad(src + 16, right, Vector512<float>.Zero), dst + 16);
                    src += job.Ldb;
                    dst += Nr;
                }
            }
            else
                // B stored [n, k]: column j of op(B) is row j of B, so each 16-column half of the panel is a transpose
                // of 16 rows of B (absent rows read as zeros: the padding).
                for (var half = 0; half < Nr; half += 16)
                {
                    var src = job.B + (nint)(j0 + half) * job.Ldb + job.K0;
                    var rows = Math.Clamp(w - half, 0, 16);
                    for (var p = 0; p < kc; p += 16)
                        Transpose16(src + p, job.Ldb, rows, Math.Min(16, kc - p), dst + p * Nr + half, Nr);
                }
        }
    }

    /// <summary>
    /// dst[q, r] = src[r, q] for a 16×16 block of which the first <paramref name="rows"/> rows and <paramref name="cols"/>
    /// columns of src exist (missing rows read as zeros; only the first cols rows of dst are written). Three shuffle
    /// stages: 32-bit and 64-bit unpacks gather four rows' element j of each 128-bit lane, then two 128-bit lane shuffles
    /// line up the four groups of rows.
    /// </summary>
    [SkipLocalsInit]
    private static void Transpose16(float* src, nint lds, int rows, int cols, float* dst, nint ldd)
    {
        var mask = FirstLanes(cols);
        // Sixteen rows far apart are more streams than the hardware prefetchers follow: a weight matrix that is not in
        // cache (it is, after all, read once per product) took twice as long to pack without this.
        for (var r = 0; r < rows; r++) Sse.Prefetch0(src + r * lds + 64);
        // quads[g + j], 128-bit lane l: rows g..g+3 at column 4l + j.
        var quads = stackalloc Vector512<float>[16];
        for (var g = 0; g < 16; g += 4)
        {
            var t0 = Avx512F.UnpackLow(Row(g), Row(g + 1)).AsDouble();
            var t1 = Avx512F.UnpackHigh(Row(g), Row(g + 1)).AsDouble();
            var t2 = Avx512F.UnpackLow(Row(g + 2), Row(g + 3)).AsDouble();
            var t3 = Avx512F.UnpackHigh(Row(g + 2), Row(g + 3)).AsDouble();
            quads[g] = Avx512F.UnpackLow(t0, t2).AsSingle();
            quads[g + 1] = Avx512F.UnpackHigh(t0, t2).AsSingle();
            quads[g + 2] = Avx512F.UnpackLow(t1, t3).AsSingle();
            quads[g + 3] = Avx512F.UnpackHigh(t1, t3).AsSingle();
        }
        for (var j = 0; j < 4; j++)
        {
            // Lanes (0, 2) and (1, 3) of rows 0..7, then of rows 8..15; the second shuffle picks one lane of each group.
            var even = Avx512F.Shuffle4x128(quads[j], quads[4 + j], 0x88);
            var odd = Avx512F.Shuffle4x128(quads[j], quads[4 + j], 0xDD);
            var evenHigh = Avx512F.Shuffle4x128(quads[8 + j], quads[12 + j], 0x88);
            var oddHigh = Avx512F.Shuffle4x128(quads[8 + j], quads[12 + j], 0xDD);
            Put(j, Avx512F.Shuffle4x128(even, evenHigh, 0x88));
            Put(4 + j, Avx512F.Shuffle4x128(odd, oddHigh, 0x88));
            Put(8 + j, Avx512F.Shuffle4x128(even, evenHigh, 0xDD));
            Put(12 + j, Avx512F.Shuffle4x128(odd, oddHigh, 0xDD));
        }

        Vector512<float> Row(int r) => r < rows ? Avx512F.MaskLoad(src + r * lds, mask, Vector512<float>.Zero) : Vector512<float>.Zero;

        void Put(int q, Vector512<float> column)
        {
            if (q < cols) Vector512.Store(column, dst + q * ldd);
        }
    }

    /// <summary>Runs the register tiles for panels [p0, p1) and rows [r0, r1) of the current k block.</summary>
    internal static void Tiles(in Job job, int p0, int p1, int r0, int r1)
    {
        var kc = job.KLen;
        var aBase = job.A + job.K0 * job.AKStride;
        for (var jp = p0; jp < p1; jp++)
        {
            var panel = job.Packed + (nint)jp * kc * Nr;
            var bias = job.PackedBias == null ? null : job.PackedBias + jp * Nr;
            var j0 = jp * Nr;
            var w = Math.Min(Nr, job.N - j0);
            var tile = new TileEdge { Left = FirstLanes(w), Right = FirstLanes(w - 16) };
            for (var r = 0; r < Mr; r++) tile.Offsets[r] = r;
            for (var i = r0; i < r1; i += Mr)
            {
                PrefetchTile(in job, i + PrefetchRows, r1, j0, w);
                tile.Rows = Math.Min(Mr, r1 - i);
                var first = RowOf(in job, i);
                // Rows past the edge alias the tile's first row; indexed rows lie where the index says.
                if (job.Rows != null || tile.Rows < Mr)
                    for (var r = 0; r < Mr; r++) tile.Offsets[r] = r < tile.Rows ? RowOf(in job, i + r) - first : 0;
                var a = aBase + first * job.ARowStride;
                var c = job.C + first * job.Ldc + j0;
                // The first k block's accumulators start from the seed when there is one, later blocks from C.
                var from = job.K0 == 0 && job.Seed != null ? job.Seed + first * job.Ldc + j0 : c;
                // A panel at most 16 wide, or at most 4 rows left, need only part of the tile: half the FMAs each.
                if (tile.Rows > 4)
                {
                    if (w > 16) Kernel<FlagOn, FlagOn>(kc, a, job.ARowStride, job.AKStride, panel, bias, from, c, job.Ldc, job.Load, in tile);
                    else Kernel<FlagOff, FlagOn>(kc, a, job.ARowStride, job.AKStride, panel, bias, from, c, job.Ldc, job.Load, in tile);
                }
                else if (w > 16) Kernel<FlagOn, FlagOff>(kc, a, job.ARowStride, job.AKStride, panel, bias, from, c, job.Ldc, job.Load, in tile);
                else Kernel<FlagOff, FlagOff>(kc, a, job.ARowStride, job.AKStride, panel, bias, from, c, job.Ldc, job.Load, in tile);
            }
        }
    }

    /// <summary>Where row <paramref name="i"/> of the product lies in A and C (in rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint RowOf(in Job job, int i) => job.Rows == null ? i : job.Rows[i];

    /// <summary>
    /// Rows of C the tiles touch ahead of themselves. C is usually an arena tensor last touched a whole step ago, out of
    /// cache, and the hardware does not run far enough ahead on a panel's strided rows: short products (k ≤ 64), bound by
    /// writing C, ran 1.2–1.7× faster with it, long ones 0–4 %; with C in cache it costs 0–2 %.
    /// </summary>
    private const int PrefetchRows = 4 * Mr;

    /// <summary>Prefetches the C lines of the tile at row <paramref name="i"/> of the panel at column <paramref name="j0"/>.</summary>
    private static void PrefetchTile(in Job job, int i, int r1, int j0, int w)
    {
        for (var r = i; r < Math.Min(i + Mr, r1); r++)
        {
            var c = job.C + RowOf(in job, r) * job.Ldc + j0;
            Sse.Prefetch0(c);
            if (w > 16) Sse.Prefetch0(c + 16);
        }
    }

    /// <summary>Which part of a register tile is live: its rows (up to 8), where each lies from the first (in rows of A
    /// and C; 0 past the edge) and the valid columns of each 16-wide half.</summary>
    private struct TileEdge
    {
        public int Rows;
        public TileRows Offsets;
        public Vector512<float> Left, Right;
    }

    [InlineArray(Mr)]
    private struct TileRows
    {
        private nint _row;
    }

    /// <summary>
    /// One 8×32 tile (or its 8×16, 4×32 or 4×16 part) over a k block: starts from <paramref name="from"/> (C, or the seed
    /// in the first k block; when <paramref name="load"/>) plus the bias (zero when none),
    /// adds the panel product, stores the valid columns. Rows past <see cref="TileEdge.Rows"/> alias row 0 in A and C:
    /// they recompute row 0 bit for bit and store the same values there, so the tile needs no per-row branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    /// <typeparam name="TBoth">Both 16-column halves of the tile, or only the left one (panels at most 16 wide).</typeparam>
    /// <typeparam name="TTall">All 8 rows, or the top 4 (at most 4 rows left).</typeparam>
    private static void Kernel<TBoth, TTall>(int kc, float* a, nint rs, nint ks, float* b, float* bias, float* from, float* c, nint ldc, bool load, in TileEdge tile)
        where TBoth : struct, ICompileTimeFlag
        where TTall : struct, ICompileTimeFlag
    {
        var both = TBoth.On;
        var tall = TTall.On;
        var left = tile.Left;
        var right = tile.Right;
        var z0 = bias == null ? Vector512<float>.Zero : Vector512.Load(bias);
        var z1 = bias == null || !both ? Vector512<float>.Zero : Vector512.Load(bias + 16);
        Vector512<float> c00 = z0, c10 = z0, c20 = z0, c30 = z0, c40 = z0, c50 = z0, c60 = z0, c70 = z0;
        Vector512<float> c01 = z1, c11 = z1, c21 = z1, c31 = z1, c41 = z1, c51 = z1, c61 = z1, c71 = z1;
        if (load)
        {
            c00 += Avx512F.MaskLoad(from, left, default); if (both) c01 += Avx512F.MaskLoad(from + 16, right, default);
            var cr = Row(from, ldc, 1, in tile);
            c10 += Avx512F.MaskLoad(cr, left, default); if (both) c11 += Avx512F.MaskLoad(cr + 16, right, default);
            cr = Row(from, ldc, 2, in tile);
            c20 += Avx512F.MaskLoad(cr, left, default); if (both) c21 += Avx512F.MaskLoad(cr + 16, right, default);
            cr = Row(from, ldc, 3, in tile);
            c30 += Avx512F.MaskLoad(cr, left, default); if (both) c31 += Avx512F.MaskLoad(cr + 16, right, default);
            if (tall)
            {
                cr = Row(from, ldc, 4, in tile);
                c40 += Avx512F.MaskLoad(cr, left, default); if (both) c41 += Avx512F.MaskLoad(cr + 16, right, default);
                cr = Row(from, ldc, 5, in tile);
                c50 += Avx512F.MaskLoad(cr, left, default); if (both) c51 += Avx512F.MaskLoad(cr + 16, right, default);
                cr = Row(from, ldc, 6, in tile);
                c60 += Avx512F.MaskLoad(cr, left, default); if (both) c61 += Avx512F.MaskLoad(cr + 16, right, default);
                cr = Row(from, ldc, 7, in tile);
                c70 += Avx512F.MaskLoad(cr, left, default); if (both) c71 += Avx512F.MaskLoad(cr + 16, right, default);
            }
        }
        float* a0 = a, a1 = Row(a, rs, 1, in tile), a2 = Row(a, rs, 2, in tile), a3 = Row(a, rs, 3, in tile);
        float* a4 = tall ? Row(a, rs, 4, in tile) : a, a5 = tall ? Row(a, rs, 5, in tile) : a;
        float* a6 = tall ? Row(a, rs, 6, in tile) : a, a7 = tall ? Row(a, rs, 7, in tile) : a;
        for (nint p = 0, off = 0; p < kc; p++, off += ks)
        {
            var b0 = Vector512.Load(b);
            var b1 = both ? Vector512.Load(b + 16) : default;
            b += Nr;
            var x = Vector512.Create(a0[off]);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); if (both) c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[off]);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); if (both) c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[off]);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); if (both) c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[off]);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); if (both) c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
            if (!tall) continue;
            x = Vector512.Create(a4[off]);
            c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); if (both) c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[off]);
            c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); if (both) c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a6[off]);
            c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); if (both) c61 = Avx512F.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a7[off]);
            c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); if (both) c71 = Avx512F.FusedMultiplyAdd(x, b1, c71);
        }
        // Highest row first: an aliased row's store lands on row 0 before row 0's own (equal) store.
        float* cs;
        if (tall)
        {
            cs = Row(c, ldc, 7, in tile);
            Avx512F.MaskStore(cs, left, c70); if (both) Avx512F.MaskStore(cs + 16, right, c71);
            cs = Row(c, ldc, 6, in tile);
            Avx512F.MaskStore(cs, left, c60); if (both) Avx512F.MaskStore(cs + 16, right, c61);
            cs = Row(c, ldc, 5, in tile);
            Avx512F.MaskStore(cs, left, c50); if (both) Avx512F.MaskStore(cs + 16, right, c51);
            cs = Row(c, ldc, 4, in tile);
            Avx512F.MaskStore(cs, left, c40); if (both) Avx512F.MaskStore(cs + 16, right, c41);
        }
        cs = Row(c, ldc, 3, in tile);
        Avx512F.MaskStore(cs, left, c30); if (both) Avx512F.MaskStore(cs + 16, right, c31);
        cs = Row(c, ldc, 2, in tile);
        Avx512F.MaskStore(cs, left, c20); if (both) Avx512F.MaskStore(cs + 16, right, c21);
        cs = Row(c, ldc, 1, in tile);
        Avx512F.MaskStore(cs, left, c10); if (both) Avx512F.MaskStore(cs + 16, right, c11);
        Avx512F.MaskStore(c, left, c00); if (both) Avx512F.MaskStore(c + 16, right, c01);
    }

    /// <summary>Row r of a tile (its first row for rows past the edge).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Row(float* first, nint stride, int r, in TileEdge tile) => first + tile.Offsets[r] * stride;

    /// <summary>
    /// At most <see cref="FewColumns"/> columns with op(A)'s rows contiguous along k (a value head y = x·wᵀ; the input
    /// gradient of a layer over a few action columns, g·W[:, first..first+A)): a dot product per row and column instead of a
    /// 32-wide panel of which all but n columns are padding. op(B)'s columns are read in place when contiguous along k,
    /// else copied so first (n·k floats).
    /// </summary>
    private static void RowDots(in Job job)
    {
        int k = job.K, n = job.N;
        var b = job.B;
        nint columnStride = job.Ldb;
        if (!job.TransB && !(n == 1 && job.Ldb == 1))
        {
            var packed = PackBuffer(n * k);
            for (var p = 0; p < k; p++)
            for (var j = 0; j < n; j++)
                packed[j * k + p] = b[(nint)p * job.Ldb + j];
            fixed (float* pb = packed) RowDots(in job, pb, k);
            return;
        }
        RowDots(in job, b, columnStride);
    }

    private static void RowDots(in Job job, float* b, nint columnStride)
    {
        int k = job.K, n = job.N;
        var tail = FirstLanes(k % 16);
        for (var i = 0; i < job.M; i++)
        {
            var a = job.A + i * job.ARowStride;
            var c = job.C + (nint)i * job.Ldc;
            for (var j = 0; j < n; j++)
            {
                var bj = b + j * columnStride;
                // Four independent sums so consecutive FMAs do not wait on each other.
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                var p = 0;
                for (; p + 64 <= k; p += 64)
                {
                    s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(a + p), Vector512.Load(bj + p), s0);
                    s1 = Avx512F.FusedMultiplyAdd(Vector512.Load(a + p + 16), Vector512.Load(bj + p + 16), s1);
                    s2 = Avx512F.FusedMultiplyAdd(Vector512.Load(a + p + 32), Vector512.Load(bj + p + 32), s2);
                    s3 = Avx512F.FusedMultiplyAdd(Vector512.Load(a + p + 48), Vector512.Load(bj + p + 48), s3);
                }
                for (; p + 16 <= k; p += 16)
                    s0 = Avx512F.FusedMultiplyAdd(Vector512.Load(a + p), Vector512.Load(bj + p), s0);
                if (p < k)
                    s1 = Avx512F.FusedMultiplyAdd(Avx512F.MaskLoad(a + p, tail, Vector512<float>.Zero), Avx512F.MaskLoad(bj + p, tail, Vector512<float>.Zero), s1);
                var bias = job.RowBias == null ? 0f : job.RowBias[j];
                var start = job.Start(i);
                c[j] = (start == null ? 0f : start[j]) + bias + Vector512.Sum(s0 + s1 + (s2 + s3));
            }
        }
    }

    /// <summary>
    /// k = 1, an outer product (a score's first step back through a value head, g·w): each row of C is one pass,
    /// C[i, :] = bias + C[i, :] + A[i]·B, in the operations and order of the register tiles (so the same values) without
    /// their per-tile work, which at one FMA per tile is most of it.
    /// </summary>
    private static void Outer(in Job job)
    {
        var n = job.N;
        var b = job.B;
        if (job.TransB && job.Ldb != 1)
        {
            var packed = PackBuffer(n);
            for (var j = 0; j < n; j++) packed[j] = b[(nint)j * job.Ldb];
            fixed (float* pb = packed) Outer(in job, pb);
            return;
        }
        Outer(in job, b);
    }

    private static void Outer(in Job job, float* b)
    {
        var n = job.N;
        var tail = FirstLanes(n % 16);
        for (var i = 0; i < job.M; i++)
        {
            var x = Vector512.Create(job.A[i * job.ARowStride]);
            var c = job.C + (nint)i * job.Ldc;
            var from = job.Start(i);
            for (var j = 0; j < n; j += 16)
            {
                var lanes = j + 16 <= n ? Vector512<float>.AllBitsSet : tail;
                var start = job.RowBias == null ? Vector512<float>.Zero : Avx512F.MaskLoad(job.RowBias + j, lanes, Vector512<float>.Zero);
                if (from != null) start += Avx512F.MaskLoad(from + j, lanes, Vector512<float>.Zero);
                Avx512F.MaskStore(c + j, lanes, Avx512F.FusedMultiplyAdd(x, Avx512F.MaskLoad(b + j, lanes, Vector512<float>.Zero), start));
            }
        }
    }

    /// <summary>
    /// Without AVX-512 (AVX2 hosts, ARM): per block of <see cref="Kc"/> k and per panel of two Vector&lt;float&gt; columns
    /// (16 on AVX2, 8 on NEON) op(B) is packed K-major and zero-padded (contiguous, so it stays in L1 while every row tile
    /// streams past it; B's own rows a panel apart fell into a few L1 sets), and 6-row tiles, then single rows, add the
    /// block's product into C. The first block's tiles start from the seed, C or zero, plus the bias, as the AVX-512 tiles
    /// do (a pass of its own over C cost a k = 14 product a fifth of its time). The last panel's columns past n go
    /// through a scratch row, so narrow products (an input gradient over a few action columns) run as vectors too. Rows
    /// taken by index (<see cref="Job.Rows"/>) are supported, for the zero-row skip.
    /// </summary>
    private static void Portable(in Job job)
    {
        int n = job.N, k = job.K, w = Vector<float>.Count, pw = 2 * w;
        var panels = (n + pw - 1) / pw;
        var kc = Math.Min(k, Kc);
        var buffer = PackBuffer(kc * pw + pw);
        fixed (float* packed = buffer)
            for (var k0 = 0; k0 < k; k0 += Kc)
                for (var jp = 0; jp < panels; jp++)
                {
                    var block = new PortableBlock
                    {
                        K0 = k0, KLen = Math.Min(Kc, k - k0), J0 = jp * pw, Width = Math.Min(pw, n - jp * pw), Panel = packed,
                        Load = job.Accumulate || job.Seed != null || k0 > 0,
                        Bias = job.RowBias != null && k0 == 0 ? packed + kc * pw : null,
                    };
                    PackPanel(in job, in block, pw);
                    if (block.Width == pw) PortableRows<FlagOn, FlagOff>(in job, in block);
                    else if (block.Width > w) PortableRows<FlagOn, FlagOn>(in job, in block);
                    else PortableRows<FlagOff, FlagOn>(in job, in block);
                }
    }

    /// <summary>All rows of the product over one block: 6-row tiles, then single rows.</summary>
    private static void PortableRows<TBoth, TEdge>(in Job job, in PortableBlock block)
        where TBoth : struct, ICompileTimeFlag
        where TEdge : struct, ICompileTimeFlag
    {
        var i = 0;
        for (; i + 6 <= job.M; i += 6) PortableTile<FlagOn, TBoth, TEdge>(in job, in block, i);
        for (; i < job.M; i++) PortableTile<FlagOff, TBoth, TEdge>(in job, in block, i);
    }

    /// <summary>One k block of one panel: what the portable tiles read.</summary>
    private struct PortableBlock
    {
        public int K0, KLen, J0, Width;
        public float* Panel; // op(B)[K0.., J0..], KLen rows of two vectors
        public float* Bias; // the panel's bias, zero-padded; null after the first k block or without one
        public bool Load; // the accumulators start from the seed (first block) or C, else from zero
    }

    /// <summary>Packs the block's op(B) rows into its panel (dst[p, j] = op(B)[K0 + p, J0 + j], zero past Width), and the
    /// bias when it has one.</summary>
    private static void PackPanel(in Job job, in PortableBlock block, int pw)
    {
        int k0 = block.K0, kc = block.KLen, j0 = block.J0, width = block.Width;
        var dst = block.Panel;
        nint ldb = job.Ldb;
        if (width < pw)
            new Span<float>(dst, kc * pw).Clear();
        if (!job.TransB)
            for (var p = 0; p < kc; p++)
                new ReadOnlySpan<float>(job.B + (k0 + p) * ldb + j0, width).CopyTo(new Span<float>(dst + p * pw, width));
        else
            // B stored [n, k]: read each of its rows along k, write down the panel's column.
            for (var j = 0; j < width; j++)
            {
                var src = job.B + (j0 + j) * ldb + k0;
                for (var p = 0; p < kc; p++) dst[p * pw + j] = src[p];
            }
        if (block.Bias == null) return;
        var bias = new Span<float>(block.Bias, pw);
        bias.Clear();
        new ReadOnlySpan<float>(job.RowBias + j0, width).CopyTo(bias);
    }

    /// <summary>
    /// C rows i0.. (6, or 1) += A rows · the packed panel over one k block. Each row's values do not depend on the tile
    /// it falls in (the same operations in the same order), so a product over some rows by index gives those rows bit
    /// for bit.
    /// </summary>
    /// <typeparam name="TTall">6 rows, or 1.</typeparam>
    /// <typeparam name="TBoth">Both vectors of the panel, or the first (a last panel at most one vector wide).</typeparam>
    /// <typeparam name="TEdge">The panel is narrower than its vectors: C is read and written through a scratch row.</typeparam>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void PortableTile<TTall, TBoth, TEdge>(in Job job, in PortableBlock block, int i0)
        where TTall : struct, ICompileTimeFlag
        where TBoth : struct, ICompileTimeFlag
        where TEdge : struct, ICompileTimeFlag
    {
        bool tall = TTall.On, both = TBoth.On, edge = TEdge.On;
        int w = Vector<float>.Count, pw = 2 * w;
        nint rs = job.ARowStride, ks = job.AKStride;
        var scratch = stackalloc float[edge ? 6 * pw : 1];
        var aBase = job.A + block.K0 * ks;
        float* a0 = aBase + RowOf(in job, i0) * rs, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        // An edge panel's rows start from their valid columns copied into the scratch rows.
        if (edge && block.Load)
            for (var r = 0; r < (tall ? 6 : 1); r++)
                new ReadOnlySpan<float>(From(in job, in block, i0 + r), block.Width).CopyTo(new Span<float>(scratch + r * pw, block.Width));
        // Accumulators are returned, not written through out parameters: an address-taken vector is not kept in a register.
        var s00 = Start<TEdge>(in job, in block, i0, scratch, 0);
        var s01 = both ? Start<TEdge>(in job, in block, i0, scratch, w) : default;
        Vector<float> s10 = default, s11 = default, s20 = default, s21 = default, s30 = default, s31 = default;
        Vector<float> s40 = default, s41 = default, s50 = default, s51 = default;
        if (tall)
        {
            a1 = aBase + RowOf(in job, i0 + 1) * rs; a2 = aBase + RowOf(in job, i0 + 2) * rs; a3 = aBase + RowOf(in job, i0 + 3) * rs;
            a4 = aBase + RowOf(in job, i0 + 4) * rs; a5 = aBase + RowOf(in job, i0 + 5) * rs;
            s10 = Start<TEdge>(in job, in block, i0 + 1, scratch + pw, 0);
            s20 = Start<TEdge>(in job, in block, i0 + 2, scratch + 2 * pw, 0);
            s30 = Start<TEdge>(in job, in block, i0 + 3, scratch + 3 * pw, 0);
            s40 = Start<TEdge>(in job, in block, i0 + 4, scratch + 4 * pw, 0);
            s50 = Start<TEdge>(in job, in block, i0 + 5, scratch + 5 * pw, 0);
            if (both)
            {
                s11 = Start<TEdge>(in job, in block, i0 + 1, scratch + pw, w);
                s21 = Start<TEdge>(in job, in block, i0 + 2, scratch + 2 * pw, w);
                s31 = Start<TEdge>(in job, in block, i0 + 3, scratch + 3 * pw, w);
                s41 = Start<TEdge>(in job, in block, i0 + 4, scratch + 4 * pw, w);
                s51 = Start<TEdge>(in job, in block, i0 + 5, scratch + 5 * pw, w);
            }
        }
        var b = block.Panel;
        for (nint p = 0, off = 0; p < block.KLen; p++, off += ks)
        {
            var b0 = Vector.Load(b);
            var b1 = both ? Vector.Load(b + w) : default;
            b += pw;
            var x = new Vector<float>(a0[off]);
            s00 = Vector.FusedMultiplyAdd(x, b0, s00); if (both) s01 = Vector.FusedMultiplyAdd(x, b1, s01);
            if (!tall) continue;
            x = new Vector<float>(a1[off]);
            s10 = Vector.FusedMultiplyAdd(x, b0, s10); if (both) s11 = Vector.FusedMultiplyAdd(x, b1, s11);
            x = new Vector<float>(a2[off]);
            s20 = Vector.FusedMultiplyAdd(x, b0, s20); if (both) s21 = Vector.FusedMultiplyAdd(x, b1, s21);
            x = new Vector<float>(a3[off]);
            s30 = Vector.FusedMultiplyAdd(x, b0, s30); if (both) s31 = Vector.FusedMultiplyAdd(x, b1, s31);
            x = new Vector<float>(a4[off]);
            s40 = Vector.FusedMultiplyAdd(x, b0, s40); if (both) s41 = Vector.FusedMultiplyAdd(x, b1, s41);
            x = new Vector<float>(a5[off]);
            s50 = Vector.FusedMultiplyAdd(x, b0, s50); if (both) s51 = Vector.FusedMultiplyAdd(x, b1, s51);
        }
        End<TBoth, TEdge>(in job, in block, i0, scratch, s00, s01);
        if (tall)
        {
            End<TBoth, TEdge>(in job, in block, i0 + 1, scratch + pw, s10, s11);
            End<TBoth, TEdge>(in job, in block, i0 + 2, scratch + 2 * pw, s20, s21);
            End<TBoth, TEdge>(in job, in block, i0 + 3, scratch + 3 * pw, s30, s31);
            End<TBoth, TEdge>(in job, in block, i0 + 4, scratch + 4 * pw, s40, s41);
            End<TBoth, TEdge>(in job, in block, i0 + 5, scratch + 5 * pw, s50, s51);
        }
        // Copied out only once every accumulator is stored: a call while vectors are live (all are caller-saved) made
        // the JIT keep the accumulators on the stack through the loop, 3-4x slower edge tiles.
        if (edge)
            for (var r = 0; r < (tall ? 6 : 1); r++)
                new ReadOnlySpan<float>(scratch + r * pw, block.Width).CopyTo(new Span<float>(job.C + RowOf(in job, i0 + r) * job.Ldc + block.J0, block.Width));
    }

    /// <summary>Where row i's block starts: the seed's row in the first k block when there is one, else C's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* From(in Job job, in PortableBlock block, int i) =>
        (block.K0 == 0 && job.Seed != null ? job.Seed : job.C) + RowOf(in job, i) * job.Ldc + block.J0;

    /// <summary>A tile row's accumulator for the vector at column <paramref name="offset"/> of the panel at the start of a
    /// block: the bias, plus the row's start (<see cref="From"/>, or for an edge panel the scratch row it was copied into)
    /// when the block loads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Start<TEdge>(in Job job, in PortableBlock block, int i, float* scratch, int offset)
        where TEdge : struct, ICompileTimeFlag
    {
        var v = block.Bias == null ? Vector<float>.Zero : Vector.Load(block.Bias + offset);
        if (!block.Load) return v;
        return v + Vector.Load((TEdge.On ? scratch : From(in job, in block, i)) + offset);
    }

    /// <summary>Stores a tile row's accumulators into C's row, or an edge panel's into the row's scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void End<TBoth, TEdge>(in Job job, in PortableBlock block, int i, float* scratch, Vector<float> lo, Vector<float> hi)
        where TBoth : struct, ICompileTimeFlag
        where TEdge : struct, ICompileTimeFlag
    {
        var to = TEdge.On ? scratch : job.C + RowOf(in job, i) * job.Ldc + block.J0;
        lo.Store(to);
        if (TBoth.On) hi.Store(to + Vector<float>.Count);
    }
}
