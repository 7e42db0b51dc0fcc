using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MeowRobot.Bridge.Numerics;
using MeowRobot.Bridge.Randomness;
using MeowRobot.Tensors.Kernels;

namespace MeowRobot.Tensors;

/// <summary>
/// The activation op: [LayerNorm] → [Swish] → [Dropout] over each row, any stage optional, one vectorised pass per row
/// forward (after LayerNorm's two statistics passes) and one per row backward (plus LayerNorm's input pass). Rows of a
/// hidden layer (64–512 floats) stay in L1 between passes. LayerNorm, Swish and Dropout are its one-stage forms.
/// </summary>
public sealed partial class Tape
{
    /// <summary>Rows the activation kernels take at a time. A normalised row's statistics are a chain of dependent steps
    /// (two reductions, a square root, a division) that its element pass waits for; done for a block of rows first, the
    /// rows' chains are independent and overlap. The backward pass's dh scratch holds one block.</summary>
    private const int ActivationRowBlock = 16;

    private Tensor Activation(Tensor x, bool norm, Tensor? weight, Tensor? bias, float eps, Tensor? beta, float p, Rng? rng)
    {
        Use(x);
        var c = x.Cols;
        CheckRowVector(weight, c, "LayerNorm: weight", x);
        CheckRowVector(bias, c, "LayerNorm: bias", x);
        CheckRowVector(beta, c, "Swish: beta", x);
        var track = IsRecording && (x.requiresGrad || (weight?.requiresGrad ?? false) || (bias?.requiresGrad ?? false) || (beta?.requiresGrad ?? false));
        var o = AllocLike(x);
        // Saved for backward only: a forward pass that records nothing skips them (and their stores).
        // LayerNorm keeps each row's mean and rstd, not h: backward recomputes h = (x - mean) rstd from x with the same
        // float operations, which costs two operations per element and saves writing (and reading back) a whole tensor.
        var mean = norm && track ? Alloc(x.Rows, 1) : null;
        var rstd = norm && track ? Alloc(x.Rows, 1) : null;
        var s = beta is not null && track ? AllocLike(x) : null;
        // Dropout keeps the mask's seed, not the mask: the kernels draw it a block of rows at a time into a scratch block
        // that stays in cache, here and again in backward (the mask of a whole-tensor draw, one draw of the stream).
        var maskSeed = p > 0f ? rng!.NextUInt64() : 0UL;
        var a = new ActivationSpans
        {
            Cols = c,
            Normalised = norm,
            Eps = eps,
            X = Val(x),
            Weight = Values(weight),
            Bias = Values(bias),
            Beta = Values(beta),
            DropoutP = p,
            DropoutSeed = maskSeed,
            MaskBlock = p > 0f ? ScratchB(ActivationRowBlock * c) : default,
            Mean = Values(mean),
            Rstd = Values(rstd),
            S = Values(s),
            Y = Val(o),
        };
        if (Vector512.IsHardwareAccelerated) ActivationKernel<Vector512<float>, Lanes512>.ForwardRows(ref a);
        else if (Vector256.IsHardwareAccelerated) ActivationKernel<Vector256<float>, Lanes256>.ForwardRows(ref a);
        else if (Vector128.IsHardwareAccelerated) ActivationKernel<Vector128<float>, Lanes128>.ForwardRows(ref a);
        else ActivationKernel<float, Lanes1>.ForwardRows(ref a);
        if (track)
        {
            ref var n = ref Record(Op.Activation, o, x, weight, bias);
            n.D = beta;
            n.Aux = mean;
            n.Aux2 = rstd;
            n.Aux3 = s;
            n.S0 = p;
            n.U0 = maskSeed;
            n.I0 = norm ? 1 : 0;
        }
        return o;
    }

    private void CheckRowVector(Tensor? v, int cols, string what, Tensor x)
    {
        if (v is null) return;
        Use(v);
        if (v.Length != cols) throw new ArgumentException($"{what} {v.ShapeString} does not match rows of {x.ShapeString}");
    }

    private static Span<float> Values(Tensor? t) => t is null ? default : Val(t);

    private void ActivationBackward(ref Node n)
    {
        var x = n.A;
        var weight = n.B;
        var bias = n.C;
        var beta = n.D;
        var norm = n.I0 != 0;
        var a = new ActivationSpans
        {
            Cols = x.Cols,
            Normalised = norm,
            X = Val(x),
            Weight = Values(weight),
            Bias = Values(bias),
            Beta = Values(beta),
            DropoutP = n.S0,
            DropoutSeed = n.U0,
            MaskBlock = n.S0 > 0f ? ScratchB(ActivationRowBlock * x.Cols) : default,
            Mean = Values(n.Aux),
            Rstd = Values(n.Aux2),
            S = Values(n.Aux3),
            G = OutGrad(ref n),
            Gw = weight is { requiresGrad: true } ? GradOf(weight) : default,
            Gb = bias is { requiresGrad: true } ? GradOf(bias) : default,
            Gbeta = beta is { requiresGrad: true } ? GradOf(beta) : default,
        };
        // x last: if it aliases a parameter, that one's GradOf already started this pass and x accumulates.
        if (x.requiresGrad)
        {
            a.Gx = GradOf(x, out var overwrite);
            a.AccumulateGx = !overwrite;
            if (norm) a.Dh = ScratchA(ActivationRowBlock * x.Cols);
        }
        if (a.Gx.IsEmpty && a.Gw.IsEmpty && a.Gb.IsEmpty && a.Gbeta.IsEmpty) return;
        if (Vector512.IsHardwareAccelerated) ActivationKernel<Vector512<float>, Lanes512>.BackwardRows(ref a);
        else if (Vector256.IsHardwareAccelerated) ActivationKernel<Vector256<float>, Lanes256>.BackwardRows(ref a);
        else if (Vector128.IsHardwareAccelerated) ActivationKernel<Vector128<float>, Lanes128>.BackwardRows(ref a);
        else ActivationKernel<float, Lanes1>.BackwardRows(ref a);
    }

    /// <summary>Operands of one activation op over whole tensors. Per element: X, S, Y, G, Gx; per column
    /// (row-length vectors): Weight, Bias, Beta and their gradients, and the Dh scratch rows (one block); per row: Mean, Rstd. An empty
    /// Beta means no Swish stage, a DropoutP of 0 no Dropout (else the mask of each block of rows is drawn from DropoutSeed into
    /// MaskBlock); empty outputs are not written.</summary>
    private ref struct ActivationSpans
    {
        public int Cols;
        public bool Normalised;
        public float Eps;
        public ReadOnlySpan<float> X, Weight, Bias, Beta;
        public float DropoutP;
        public ulong DropoutSeed;
        public Span<float> MaskBlock;
        public Span<float> Mean, Rstd, S, Y;
        public ReadOnlySpan<float> G;
        public Span<float> Gx, Gw, Gb, Gbeta, Dh;
        public bool AccumulateGx;
    }

    /// <summary>The activation row kernels at one width <typeparamref name="TVec"/>; row tails run the same code at
    /// width one (<see cref="Lanes1"/>).</summary>
    private static class ActivationKernel<TVec, TL>
        where TVec : struct
        where TL : ILanes<TVec>
    {
        /// <summary>Per block of rows: each row's mean and rstd = 1/sqrt(biased variance + eps) in two passes (as
        /// torch.nn.LayerNorm), then per row h = (x - mean) rstd, z = h w + b, s = σ(β z), y = z s · mask in one pass.</summary>
        public static void ForwardRows(ref ActivationSpans a)
        {
            var c = a.Cols;
            var v = c - c % TL.Count;
            var rows = a.X.Length / c;
            Span<float> mean = stackalloc float[ActivationRowBlock], rstd = stackalloc float[ActivationRowBlock];
            var dropout = Dropout(ref a);
            for (var i0 = 0; i0 < rows; i0 += ActivationRowBlock)
            {
                var n = Math.Min(ActivationRowBlock, rows - i0);
                if (a.DropoutP > 0f) dropout.Fill(a.MaskBlock[..(n * c)]);
                if (a.Normalised)
                    for (var r = 0; r < n; r++)
                    {
                        var row = a.X.Slice((i0 + r) * c, c);
                        var m = (Sum(row, 0, v) + (v < c ? ActivationKernel<float, Lanes1>.Sum(row, v, c) : 0f)) / c;
                        var sq = SquaredDeviations(row, 0, v, m) + (v < c ? ActivationKernel<float, Lanes1>.SquaredDeviations(row, v, c, m) : 0f);
                        mean[r] = m;
                        rstd[r] = 1f / MathF.Sqrt(sq / c + a.Eps);
                    }
                if (!a.Rstd.IsEmpty)
                {
                    mean[..n].CopyTo(a.Mean[i0..]);
                    rstd[..n].CopyTo(a.Rstd[i0..]);
                }
                for (var r = 0; r < n; r++)
                {
                    var at = (i0 + r) * c;
                    var mask = MaskRow(ref a, r);
                    ForwardRow(ref a, at, 0, v, mask, mean[r], rstd[r]);
                    if (v < c) ActivationKernel<float, Lanes1>.ForwardRow(ref a, at, v, c, mask, mean[r], rstd[r]);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static float Sum(ReadOnlySpan<float> x, int start, int stop)
        {
            var acc = TL.Splat(0f);
            for (var j = start; j < stop; j += TL.Count) acc = TL.Add(acc, TL.Load(x, j));
            return TL.Sum(acc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static float SquaredDeviations(ReadOnlySpan<float> x, int start, int stop, float mean)
        {
            var acc = TL.Splat(0f);
            var m = TL.Splat(mean);
            for (var j = start; j < stop; j += TL.Count)
            {
                var d = TL.Subtract(TL.Load(x, j), m);
                acc = TL.Add(acc, TL.Multiply(d, d));
            }
            return TL.Sum(acc);
        }

        /// <summary>The dropout mask's stream (unused without dropout).</summary>
        private static DropoutMask Dropout(ref ActivationSpans a) =>
            a.DropoutP > 0f ? new DropoutMask(a.DropoutSeed, a.DropoutP, 1f / (1f - a.DropoutP)) : default;

        /// <summary>Row r of the current block's mask; empty without dropout.</summary>
        private static ReadOnlySpan<float> MaskRow(ref ActivationSpans a, int r) => a.DropoutP > 0f ? a.MaskBlock.Slice(r * a.Cols, a.Cols) : default;

        /// <summary>Columns [start, stop) of the row at offset <paramref name="at"/>; stop - start a multiple of the width.
        /// <paramref name="mask"/> is the row's dropout mask (indexed by column), empty for none.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void ForwardRow(ref ActivationSpans a, int at, int start, int stop, scoped ReadOnlySpan<float> mask, float mean, float rstd)
        {
            ReadOnlySpan<float> x = a.X, w = a.Weight, b = a.Bias, beta = a.Beta;
            Span<float> s = a.S, y = a.Y;
            var norm = a.Normalised;
            var meanV = TL.Splat(mean);
            var rstdV = TL.Splat(rstd);
            for (var j = start; j < stop; j += TL.Count)
            {
                var k = at + j;
                var z = TL.Load(x, k);
                if (norm)
                {
                    z = TL.Multiply(TL.Subtract(z, meanV), rstdV);
                    if (!w.IsEmpty) z = TL.Multiply(z, TL.Load(w, j));
                    if (!b.IsEmpty) z = TL.Add(z, TL.Load(b, j));
                }
                if (!beta.IsEmpty)
                {
                    var sj = Logistic.Of<TVec, TL>(TL.Multiply(z, TL.Load(beta, j)));
                    if (!s.IsEmpty) TL.Store(sj, s, k);
                    z = TL.Multiply(z, sj);
                }
                if (!mask.IsEmpty) z = TL.Multiply(z, TL.Load(mask, j));
                TL.Store(z, y, k);
            }
        }

        /// <summary>Per row, from the output gradient g: d = g · mask; Swish with t = z s (1 - s): dβ += d z t,
        /// d ← d (s + β t); LayerNorm: dw += d h, db += d, dh = d w, then dx = rstd (dh - mean(dh) - h mean(dh h)).
        /// h and z are recomputed from x, mean and rstd (the same float operations as forward), not stored.</summary>
        public static void BackwardRows(ref ActivationSpans a)
        {
            // Stages as type arguments: each variant is compiled without the others' branches and live spans, which
            // otherwise spill the loop's registers.
            var swish = !a.Beta.IsEmpty;
            if (a.Normalised)
            {
                if (swish) BackwardRows<FlagOn, FlagOn>(ref a);
                else BackwardRows<FlagOn, FlagOff>(ref a);
            }
            else if (swish) BackwardRows<FlagOff, FlagOn>(ref a);
            else BackwardRows<FlagOff, FlagOff>(ref a);
        }

        private static void BackwardRows<TNorm, TSwish>(ref ActivationSpans a) where TNorm : ICompileTimeFlag where TSwish : ICompileTimeFlag
        {
            var c = a.Cols;
            var v = c - c % TL.Count;
            var rows = a.X.Length / c;
            var inputPass = TNorm.On && !a.Gx.IsEmpty;
            // As forward, a block of rows at a time: the rows' reductions first, then their input passes.
            Span<float> meanDh = stackalloc float[ActivationRowBlock], meanDhH = stackalloc float[ActivationRowBlock];
            var dropout = Dropout(ref a);
            for (var i0 = 0; i0 < rows; i0 += ActivationRowBlock)
            {
                var n = Math.Min(ActivationRowBlock, rows - i0);
                if (a.DropoutP > 0f) dropout.Fill(a.MaskBlock[..(n * c)]);
                for (var r = 0; r < n; r++)
                {
                    var at = (i0 + r) * c;
                    var dh = a.Dh.IsEmpty ? default : a.Dh.Slice(r * c, c);
                    float sum = 0f, sumH = 0f, mean = 0f, rstd = 0f;
                    if (TNorm.On) (mean, rstd) = (a.Mean[i0 + r], a.Rstd[i0 + r]);
                    var mask = MaskRow(ref a, r);
                    BackwardRow<TNorm, TSwish>(ref a, at, 0, v, mask, dh, mean, rstd, ref sum, ref sumH);
                    if (v < c) ActivationKernel<float, Lanes1>.BackwardRow<TNorm, TSwish>(ref a, at, v, c, mask, dh, mean, rstd, ref sum, ref sumH);
                    meanDh[r] = sum / c;
                    meanDhH[r] = sumH / c;
                }
                if (!inputPass) continue;
                for (var r = 0; r < n; r++)
                {
                    var at = (i0 + r) * c;
                    var dh = a.Dh.Slice(r * c, c);
                    float mean = a.Mean[i0 + r], rstd = a.Rstd[i0 + r];
                    NormalisedInputRow(ref a, at, 0, v, dh, mean, rstd, meanDh[r], meanDhH[r]);
                    if (v < c) ActivationKernel<float, Lanes1>.NormalisedInputRow(ref a, at, v, c, dh, mean, rstd, meanDh[r], meanDhH[r]);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void BackwardRow<TNorm, TSwish>(ref ActivationSpans a, int at, int start, int stop, scoped ReadOnlySpan<float> mask, Span<float> dhRow,
            float mean, float rstd,
            ref float sum, ref float sumH)
            where TNorm : ICompileTimeFlag where TSwish : ICompileTimeFlag
        {
            ReadOnlySpan<float> g = a.G, x = a.X, w = a.Weight, b = a.Bias, beta = a.Beta, s = a.S;
            Span<float> gx = a.Gx, gw = a.Gw, gb = a.Gb, gbeta = a.Gbeta;
            var norm = TNorm.On;
            var accumulate = a.AccumulateGx;
            var one = TL.Splat(1f);
            var vs = TL.Splat(0f);
            var vsh = TL.Splat(0f);
            var meanV = TL.Splat(mean);
            var rstdV = TL.Splat(rstd);
            for (var j = start; j < stop; j += TL.Count)
            {
                var k = at + j;
                var d = TL.Load(g, k);
                if (!mask.IsEmpty) d = TL.Multiply(d, TL.Load(mask, j));
                var hj = default(TVec);
                if (TSwish.On)
                {
                    TVec z;
                    if (norm)
                    {
                        hj = TL.Multiply(TL.Subtract(TL.Load(x, k), meanV), rstdV);
                        z = hj;
                        if (!w.IsEmpty) z = TL.Multiply(z, TL.Load(w, j));
                        if (!b.IsEmpty) z = TL.Add(z, TL.Load(b, j));
                    }
                    else z = TL.Load(x, k);
                    var sj = TL.Load(s, k);
                    var t = TL.Multiply(TL.Multiply(z, sj), TL.Subtract(one, sj));
                    if (!gbeta.IsEmpty) TL.Store(TL.Add(TL.Load(gbeta, j), TL.Multiply(TL.Multiply(d, z), t)), gbeta, j);
                    d = TL.Multiply(d, TL.Add(sj, TL.Multiply(TL.Load(beta, j), t)));
                }
                else if (norm) hj = TL.Multiply(TL.Subtract(TL.Load(x, k), meanV), rstdV);
                if (norm)
                {
                    if (!gw.IsEmpty) TL.Store(TL.Add(TL.Load(gw, j), TL.Multiply(d, hj)), gw, j);
                    if (!gb.IsEmpty) TL.Store(TL.Add(TL.Load(gb, j), d), gb, j);
                    var dh = w.IsEmpty ? d : TL.Multiply(d, TL.Load(w, j));
                    vs = TL.Add(vs, dh);
                    vsh = TL.Add(vsh, TL.Multiply(dh, hj));
                    if (!dhRow.IsEmpty) TL.Store(dh, dhRow, j);
                }
                else if (!gx.IsEmpty) TL.Store(accumulate ? TL.Add(TL.Load(gx, k), d) : d, gx, k);
            }
            sum += TL.Sum(vs);
            sumH += TL.Sum(vsh);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void NormalisedInputRow(ref ActivationSpans a, int at, int start, int stop, ReadOnlySpan<float> dhRow, float mean, float rstd,
            float meanDh, float meanDhH)
        {
            ReadOnlySpan<float> x = a.X;
            var gx = a.Gx;
            var accumulate = a.AccumulateGx;
            var meanXV = TL.Splat(mean);
            var meanV = TL.Splat(meanDh);
            var meanHV = TL.Splat(meanDhH);
            var rstdV = TL.Splat(rstd);
            for (var j = start; j < stop; j += TL.Count)
            {
                var k = at + j;
                var h = TL.Multiply(TL.Subtract(TL.Load(x, k), meanXV), rstdV);
                var d = TL.Multiply(TL.Subtract(TL.Subtract(TL.Load(dhRow, j), meanV), TL.Multiply(h, meanHV)), rstdV);
                TL.Store(accumulate ? TL.Add(d, TL.Load(gx, k)) : d, gx, k);
            }
        }
    }
}
