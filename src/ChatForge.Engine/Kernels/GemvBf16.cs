using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Decode matmul with bf16 weights, y[m×n] (+)= x[m×k]·Wᵀ for m ≤ 8, over a <see cref="Bf16Matrix"/>'s panels.
/// Each panel is one sequential stream: per input pair one load gives 16 rows' weights for two inputs, widened
/// with a shift and a mask, then every x row broadcasts its two inputs into one accumulator per row — the weights are
/// widened once for all rows and nothing is summed horizontally, so 8 rows cost about 8 FMAs per weight, not 8 dot
/// products. Rows are taken 8 (AVX-512, two panels at a time), 4 or 1 at a time (a 5-row batch runs the 8-row kernel with 3 rows repeated and
/// dropped; on AVX2 it runs the 4-row kernel, then the 1-row one).
/// Panels are split over the threads.
/// </summary>
internal static unsafe class GemvBf16
{
    /// <summary>Below this many multiply-adds a second thread costs more to wake than it saves.</summary>
    const long ParallelThreshold = 1 << 17;
    /// <summary>Panels per thread come in multiples of this, so threads write whole 64-byte lines of y.</summary>
    const int PanelGrain = 4;
    const int W = Bf16Matrix.PanelWidth;
    /// <summary>Inputs per block when several rows share the panels (even, so blocks start on a pair).</summary>
    const int KBlock = 512;
    /// <summary>
    /// How far ahead of the weight pair being read the kernels prefetch, in a stream of consecutive panels: one thread's
    /// plain sequential read reaches ~6 GB/s on the development machine and ~9 GB/s prefetching 4 KiB ahead.
    /// </summary>
    const int PrefetchBytes = 4096;

    public static void Run(float* x, Bf16Matrix w, float* y, int m, bool accumulate, SimdLevel level)
    {
        fixed (ushort* data = w.Data)
        {
            var job = new Job { X = x, Data = data, Y = y, M = m, N = w.Rows, K = w.Cols, PanelStride = w.PanelStride, Accumulate = accumulate, Level = level };
            long work = (long)m * w.Rows * w.Cols;
            int threads = work >= ParallelThreshold ? Math.Min(KernelThreads.Count, Math.Max(1, w.Panels / PanelGrain)) : 1;
            job.PanelsPerPart = (w.Panels + threads * PanelGrain - 1) / (threads * PanelGrain) * PanelGrain;
            int parts = (w.Panels + job.PanelsPerPart - 1) / job.PanelsPerPart;
            KernelThreads.For(0, parts, job.Run);
        }
    }

    sealed class Job
    {
        public float* X, Y;
        public ushort* Data;
        public int M, N, K, PanelStride, PanelsPerPart;
        public bool Accumulate;
        public SimdLevel Level;

        public void Run(int part)
        {
            float* tile = stackalloc float[8 * 2 * W];
            int panelEnd = Math.Min((N + W - 1) / W, (part + 1) * PanelsPerPart);
            // With several rows, inputs go in blocks so the x rows' block (≤ 8 × 2 KiB) stays in L1 while the panels
            // stream past; one row is only 2 KiB per 512 inputs anyway, and one pass keeps each panel one stream.
            int kBlock = M > 1 ? KBlock : K;
            // Blocked, the next weights read are the next panel's same block; unblocked, the panels are one stream.
            nint ahead = kBlock < K ? (nint)PanelStride * sizeof(ushort) : PrefetchBytes;
            for (int k0 = 0; k0 < K; k0 += kBlock)
            {
                int kLen = Math.Min(kBlock, K - k0);
                bool accumulate = Accumulate || k0 > 0;
                for (int panel = part * PanelsPerPart; panel < panelEnd; panel++)
                {
                    ushort* wp = Data + (nint)panel * PanelStride + (k0 >> 1) * Bf16Matrix.PairStride;
                    int col0 = panel * W, cols = Math.Min(W, N - col0);
                    if (M > 4 && Level == SimdLevel.Vector512)
                    {
                        // Two panels at once: each broadcast x value feeds two FMAs. A last panel without a full partner
                        // is paired with itself (computed twice, stored once).
                        bool pair = panel + 1 < panelEnd && col0 + 2 * W <= N;
                        float* x0 = X + k0;
                        float* Row(int r) => r < M ? x0 + (nint)r * K : x0;
                        Rows8x512(Row(0), Row(1), Row(2), Row(3), Row(4), Row(5), Row(6), Row(7), wp, pair ? PanelStride : 0, kLen, tile, 2 * ahead);
                        for (int r = 0; r < M; r++)
                        {
                            Store(tile + r * 2 * W, Y + (nint)r * N + col0, cols, accumulate);
                            if (pair) Store(tile + r * 2 * W + W, Y + (nint)r * N + col0 + W, W, accumulate);
                        }
                        if (pair) panel++;
                        continue;
                    }
                    for (int i = 0; i < M;)
                    {
                        int rows = M - i >= 2 ? Math.Min(4, M - i) : 1;
                        float* x0 = X + (nint)i * K + k0;
                        // Rows past the batch repeat row i: computed, never stored.
                        float* Row(int r) => r < rows ? x0 + (nint)r * K : x0;
                        if (Level == SimdLevel.Scalar) RowsScalar(x0, K, rows, wp, kLen, tile);
                        else if (rows > 1)
                        {
                            if (Level == SimdLevel.Vector512) Rows4x512(Row(0), Row(1), Row(2), Row(3), wp, kLen, tile, ahead);
                            else if (M <= 4) Rows4x256(Row(0), Row(1), Row(2), Row(3), wp, kLen, tile, (byte*)wp + ahead, 64);
                            else
                            {
                                // Rows 0–3 read the panel from memory, rows 4–7 again from cache: memory would idle during the
                                // second pass, so each pass prefetches half of the next panel, half a line per step.
                                byte* nextPanel = (byte*)(wp + PanelStride);
                                Rows4x256(Row(0), Row(1), Row(2), Row(3), wp, kLen, tile, nextPanel + (i == 0 ? 0 : (nint)(kLen / 2) * 32), 32);
                            }
                        }
                        else if (Level == SimdLevel.Vector512) Row1x512(x0, wp, kLen, tile, ahead);
                        else Row1x256(x0, wp, kLen, tile, ahead);
                        for (int r = 0; r < rows; r++) Store(tile + r * W, Y + (nint)(i + r) * N + col0, cols, accumulate);
                        i += rows;
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* tile, float* y, int cols, bool accumulate)
    {
        if (cols == W && Vector256.IsHardwareAccelerated)
        {
            var lo = Vector256.Load(tile);
            var hi = Vector256.Load(tile + 8);
            if (accumulate) { lo += Vector256.Load(y); hi += Vector256.Load(y + 8); }
            lo.Store(y); hi.Store(y + 8);
            return;
        }
        for (int c = 0; c < cols; c++) y[c] = accumulate ? y[c] + tile[c] : tile[c];
    }

    // The kernels below: panel wp, x rows of k floats, tile [rows×16]. Pair q multiplies x[2q] by the even-input
    // weights (u << 16) and x[2q+1] by the odd ones (u & 0xFFFF0000); an odd k leaves a last pair with only an even input.

    /// <summary>
    /// Two to four rows on AVX2: both half panels at once, 8 accumulators (five to eight rows take it twice: on this machine
    /// that measured faster than one pass of eight rows over half panels, docs/benchmarks.md). Prefetches one line at
    /// <paramref name="prefetch"/> per step, moving on <paramref name="prefetchStep"/> bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip the unoptimised first tier
    static void Rows4x256(float* x0, float* x1, float* x2, float* x3, ushort* wp, int k, float* tile, byte* prefetch, int prefetchStep)
    {
        var high = Vector256.Create(0xFFFF0000u);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int pairs = k / 2;
        uint* u = (uint*)wp;
        for (int q = 0; q < pairs; q++, u += W, prefetch += prefetchStep)
        {
            if (Sse.IsSupported) Sse.Prefetch0(prefetch);
            var lo = Vector256.Load(u);
            var hi = Vector256.Load(u + 8);
            var we = Vector256.ShiftLeft(lo, 16).AsSingle();
            var wo = (lo & high).AsSingle();
            var ve = Vector256.ShiftLeft(hi, 16).AsSingle();
            var vo = (hi & high).AsSingle();
            int p = 2 * q;
            var e = Vector256.Create(x0[p]); var o = Vector256.Create(x0[p + 1]);
            a0 = Vector256.FusedMultiplyAdd(o, wo, Vector256.FusedMultiplyAdd(e, we, a0)); b0 = Vector256.FusedMultiplyAdd(o, vo, Vector256.FusedMultiplyAdd(e, ve, b0));
            e = Vector256.Create(x1[p]); o = Vector256.Create(x1[p + 1]);
            a1 = Vector256.FusedMultiplyAdd(o, wo, Vector256.FusedMultiplyAdd(e, we, a1)); b1 = Vector256.FusedMultiplyAdd(o, vo, Vector256.FusedMultiplyAdd(e, ve, b1));
            e = Vector256.Create(x2[p]); o = Vector256.Create(x2[p + 1]);
            a2 = Vector256.FusedMultiplyAdd(o, wo, Vector256.FusedMultiplyAdd(e, we, a2)); b2 = Vector256.FusedMultiplyAdd(o, vo, Vector256.FusedMultiplyAdd(e, ve, b2));
            e = Vector256.Create(x3[p]); o = Vector256.Create(x3[p + 1]);
            a3 = Vector256.FusedMultiplyAdd(o, wo, Vector256.FusedMultiplyAdd(e, we, a3)); b3 = Vector256.FusedMultiplyAdd(o, vo, Vector256.FusedMultiplyAdd(e, ve, b3));
        }
        if ((k & 1) != 0)
        {
            var we = Vector256.ShiftLeft(Vector256.Load(u), 16).AsSingle();
            var ve = Vector256.ShiftLeft(Vector256.Load(u + 8), 16).AsSingle();
            int p = k - 1;
            var e = Vector256.Create(x0[p]); a0 = Vector256.FusedMultiplyAdd(e, we, a0); b0 = Vector256.FusedMultiplyAdd(e, ve, b0);
            e = Vector256.Create(x1[p]); a1 = Vector256.FusedMultiplyAdd(e, we, a1); b1 = Vector256.FusedMultiplyAdd(e, ve, b1);
            e = Vector256.Create(x2[p]); a2 = Vector256.FusedMultiplyAdd(e, we, a2); b2 = Vector256.FusedMultiplyAdd(e, ve, b2);
            e = Vector256.Create(x3[p]); a3 = Vector256.FusedMultiplyAdd(e, we, a3); b3 = Vector256.FusedMultiplyAdd(e, ve, b3);
        }
        a0.Store(tile); b0.Store(tile + 8); a1.Store(tile + W); b1.Store(tile + W + 8);
        a2.Store(tile + 2 * W); b2.Store(tile + 2 * W + 8); a3.Store(tile + 3 * W); b3.Store(tile + 3 * W + 8);
    }

    /// <summary>One row on AVX2 (batch-1 decode, bandwidth-bound): even and odd inputs in separate sums so no FMA waits on another.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip the unoptimised first tier
    static void Row1x256(float* x, ushort* wp, int k, float* tile, nint ahead)
    {
        var high = Vector256.Create(0xFFFF0000u);
        Vector256<float> a = default, b = default, c = default, d = default;
        int pairs = k / 2;
        uint* u = (uint*)wp;
        for (int q = 0; q < pairs; q++, u += W)
        {
            if (Sse.IsSupported) Sse.Prefetch0((byte*)u + ahead);
            var lo = Vector256.Load(u);
            var hi = Vector256.Load(u + 8);
            var e = Vector256.Create(x[2 * q]);
            var o = Vector256.Create(x[2 * q + 1]);
            a = Vector256.FusedMultiplyAdd(e, Vector256.ShiftLeft(lo, 16).AsSingle(), a);
            b = Vector256.FusedMultiplyAdd(e, Vector256.ShiftLeft(hi, 16).AsSingle(), b);
            c = Vector256.FusedMultiplyAdd(o, (lo & high).AsSingle(), c);
            d = Vector256.FusedMultiplyAdd(o, (hi & high).AsSingle(), d);
        }
        if ((k & 1) != 0)
        {
            var e = Vector256.Create(x[k - 1]);
            a = Vector256.FusedMultiplyAdd(e, Vector256.ShiftLeft(Vector256.Load(u), 16).AsSingle(), a);
            b = Vector256.FusedMultiplyAdd(e, Vector256.ShiftLeft(Vector256.Load(u + 8), 16).AsSingle(), b);
        }
        (a + c).Store(tile);
        (b + d).Store(tile + 8);
    }

    /// <summary>
    /// Five to eight rows over two panels, the second <paramref name="panelStride"/> ushorts after the first (tile [8×32]):
    /// 16 accumulators, so each one's chain of two FMAs per input pair is hidden behind the others (one panel's 8 chains
    /// were exactly as long as their FMA issue time), and 18 loads per 32 FMAs instead of 17 per 16 (session 9,
    /// docs/benchmarks.md). Every output takes the same FMAs in the same order whichever panel it is paired with.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip the unoptimised first tier
    static void Rows8x512(float* x0, float* x1, float* x2, float* x3, float* x4, float* x5, float* x6, float* x7, ushort* wp, nint panelStride, int k, float* tile, nint ahead)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
        int pairs = k / 2;
        uint* u = (uint*)wp;
        uint* v = (uint*)(wp + panelStride);
        for (int q = 0; q < pairs; q++, u += W, v += W)
        {
            if (Sse.IsSupported) { Sse.Prefetch0((byte*)u + ahead); Sse.Prefetch0((byte*)v + ahead); }
            var raw = Vector512.Load(u);
            var we = Vector512.ShiftLeft(raw, 16).AsSingle();
            var wo = (raw & high).AsSingle();
            var raw2 = Vector512.Load(v);
            var ve = Vector512.ShiftLeft(raw2, 16).AsSingle();
            var vo = (raw2 & high).AsSingle();
            int p = 2 * q;
            var e = Vector512.Create(x0[p]); var o = Vector512.Create(x0[p + 1]);
            a0 = Vector512.FusedMultiplyAdd(o, wo, Vector512.FusedMultiplyAdd(e, we, a0)); b0 = Vector512.FusedMultiplyAdd(o, vo, Vector512.FusedMultiplyAdd(e, ve, b0));
            e = Vector512.Create(x1[p]); o = Vector512.Create(x1[p + 1]);
            a1 = Vector512.FusedMultiplyAdd(o, wo, Vector512.FusedMultiplyAdd(e, we, a1)); b1 = Vector512.FusedMultiplyAdd(o, vo, Vector512.FusedMultiplyAdd(e, ve, b1));
            e = Vector512.Create(x2[p]); o = Vector512.Create(x2[p + 1]);
            a2 = Vector512.FusedMultiplyAdd(o, wo, Vector512.FusedMultiplyAdd(e, we, a2)); b2 = Vector512.FusedMultiplyAdd(o, vo, Vector512.FusedMultiplyAdd(e, ve, b2));
            e = Vector512.Create(x3[p]); o = Vector512.Create(x3[p + 1]);
            a3 = Vector512.FusedMultiplyAdd(o, wo, Vector512.FusedMultiplyAdd(e, we, a3)); b3 = Vector512.FusedMultiplyAdd(o, vo, Vector512.FusedMultiplyAdd(e, ve, b3));
            e = Vector512.Create(x4[p]); o = Vector512.Create(x4[p + 1]);
            a4 = Vector512.FusedMultiplyAdd(o, wo, Vector512.FusedMultiplyAdd(e, we, a4)); b4 = Vector512.FusedMultiplyAdd(o, vo, Vector512.FusedMultiplyAdd(e, ve, b4));
            e = Vector512.Create(x5[p]); o = Vector512.Create(x5[p + 1]);
            a5 = Vector512.FusedMultiplyAdd(o, wo, Vector512.FusedMultiplyAdd(e, we, a5)); b5 = Vector512.FusedMultiplyAdd(o, vo, Vector512.FusedMultiplyAdd(e, ve, b5));
            e = Vector512.Create(x6[p]); o = Vector512.Create(x6[p + 1]);
            a6 = Vector512.FusedMultiplyAdd(o, wo, Vector512.FusedMultiplyAdd(e, we, a6)); b6 = Vector512.FusedMultiplyAdd(o, vo, Vector512.FusedMultiplyAdd(e, ve, b6));
            e = Vector512.Create(x7[p]); o = Vector512.Create(x7[p + 1]);
            a7 = Vector512.FusedMultiplyAdd(o, wo, Vector512.FusedMultiplyAdd(e, we, a7)); b7 = Vector512.FusedMultiplyAdd(o, vo, Vector512.FusedMultiplyAdd(e, ve, b7));
        }
        if ((k & 1) != 0)
        {
            var we = Vector512.ShiftLeft(Vector512.Load(u), 16).AsSingle();
            var ve = Vector512.ShiftLeft(Vector512.Load(v), 16).AsSingle();
            int p = k - 1;
            var e = Vector512.Create(x0[p]); a0 = Vector512.FusedMultiplyAdd(e, we, a0); b0 = Vector512.FusedMultiplyAdd(e, ve, b0);
            e = Vector512.Create(x1[p]); a1 = Vector512.FusedMultiplyAdd(e, we, a1); b1 = Vector512.FusedMultiplyAdd(e, ve, b1);
            e = Vector512.Create(x2[p]); a2 = Vector512.FusedMultiplyAdd(e, we, a2); b2 = Vector512.FusedMultiplyAdd(e, ve, b2);
            e = Vector512.Create(x3[p]); a3 = Vector512.FusedMultiplyAdd(e, we, a3); b3 = Vector512.FusedMultiplyAdd(e, ve, b3);
            e = Vector512.Create(x4[p]); a4 = Vector512.FusedMultiplyAdd(e, we, a4); b4 = Vector512.FusedMultiplyAdd(e, ve, b4);
            e = Vector512.Create(x5[p]); a5 = Vector512.FusedMultiplyAdd(e, we, a5); b5 = Vector512.FusedMultiplyAdd(e, ve, b5);
            e = Vector512.Create(x6[p]); a6 = Vector512.FusedMultiplyAdd(e, we, a6); b6 = Vector512.FusedMultiplyAdd(e, ve, b6);
            e = Vector512.Create(x7[p]); a7 = Vector512.FusedMultiplyAdd(e, we, a7); b7 = Vector512.FusedMultiplyAdd(e, ve, b7);
        }
        const int T = 2 * W;
        a0.Store(tile); b0.Store(tile + W); a1.Store(tile + T); b1.Store(tile + T + W);
        a2.Store(tile + 2 * T); b2.Store(tile + 2 * T + W); a3.Store(tile + 3 * T); b3.Store(tile + 3 * T + W);
        a4.Store(tile + 4 * T); b4.Store(tile + 4 * T + W); a5.Store(tile + 5 * T); b5.Store(tile + 5 * T + W);
        a6.Store(tile + 6 * T); b6.Store(tile + 6 * T + W); a7.Store(tile + 7 * T); b7.Store(tile + 7 * T + W);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip the unoptimised first tier
    static void Rows4x512(float* x0, float* x1, float* x2, float* x3, ushort* wp, int k, float* tile, nint ahead)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int pairs = k / 2;
        uint* u = (uint*)wp;
        for (int q = 0; q < pairs; q++, u += W)
        {
            if (Sse.IsSupported) Sse.Prefetch0((byte*)u + ahead);
            var raw = Vector512.Load(u);
            var we = Vector512.ShiftLeft(raw, 16).AsSingle();
            var wo = (raw & high).AsSingle();
            int p = 2 * q;
            a0 = Vector512.FusedMultiplyAdd(Vector512.Create(x0[p + 1]), wo, Vector512.FusedMultiplyAdd(Vector512.Create(x0[p]), we, a0));
            a1 = Vector512.FusedMultiplyAdd(Vector512.Create(x1[p + 1]), wo, Vector512.FusedMultiplyAdd(Vector512.Create(x1[p]), we, a1));
            a2 = Vector512.FusedMultiplyAdd(Vector512.Create(x2[p + 1]), wo, Vector512.FusedMultiplyAdd(Vector512.Create(x2[p]), we, a2));
            a3 = Vector512.FusedMultiplyAdd(Vector512.Create(x3[p + 1]), wo, Vector512.FusedMultiplyAdd(Vector512.Create(x3[p]), we, a3));
        }
        if ((k & 1) != 0)
        {
            var we = Vector512.ShiftLeft(Vector512.Load(u), 16).AsSingle();
            int p = k - 1;
            a0 = Vector512.FusedMultiplyAdd(Vector512.Create(x0[p]), we, a0); a1 = Vector512.FusedMultiplyAdd(Vector512.Create(x1[p]), we, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Create(x2[p]), we, a2); a3 = Vector512.FusedMultiplyAdd(Vector512.Create(x3[p]), we, a3);
        }
        a0.Store(tile); a1.Store(tile + W); a2.Store(tile + 2 * W); a3.Store(tile + 3 * W);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip the unoptimised first tier
    static void Row1x512(float* x, ushort* wp, int k, float* tile, nint ahead)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a = default, b = default;
        int pairs = k / 2;
        uint* u = (uint*)wp;
        for (int q = 0; q < pairs; q++, u += W)
        {
            if (Sse.IsSupported) Sse.Prefetch0((byte*)u + ahead);
            var raw = Vector512.Load(u);
            a = Vector512.FusedMultiplyAdd(Vector512.Create(x[2 * q]), Vector512.ShiftLeft(raw, 16).AsSingle(), a);
            b = Vector512.FusedMultiplyAdd(Vector512.Create(x[2 * q + 1]), (raw & high).AsSingle(), b);
        }
        if ((k & 1) != 0) a = Vector512.FusedMultiplyAdd(Vector512.Create(x[k - 1]), Vector512.ShiftLeft(Vector512.Load(u), 16).AsSingle(), a);
        (a + b).Store(tile);
    }

    /// <summary>Any number of rows (≤ 8, <paramref name="stride"/> floats apart), one weight at a time.</summary>
    static void RowsScalar(float* x, int stride, int rows, ushort* wp, int k, float* tile)
    {
        for (int i = 0; i < rows * W; i++) tile[i] = 0;
        for (int p = 0; p < k; p++)
        {
            ushort* pair = wp + (p >> 1) * Bf16Matrix.PairStride + (p & 1);
            for (int c = 0; c < W; c++)
            {
                float weight = Bf16.ToFloat(pair[2 * c]);
                for (int r = 0; r < rows; r++) tile[r * W + c] += x[(nint)r * stride + p] * weight;
            }
        }
    }
}
