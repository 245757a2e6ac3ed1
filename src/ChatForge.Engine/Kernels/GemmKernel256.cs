using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

// One pattern written out for each tile: every accumulator is a named local so the JIT keeps the whole
// C tile in registers; per step of k it loads one row of the packed B panel and broadcasts one A value per row.

/// <summary>AVX2/FMA micro-kernel of the packed GEMM (see GemmPacked).</summary>
internal static unsafe class GemmKernel256
{
    public const int MR = 6, NR = 16;

    /// <summary>C[6×16] (+)= A[6×kc]·Bpanel[kc×16], A element (r, p) at a[r·rs + p·cs] (packed: rs = 1, cs = 6; A read in place: rs = lda, cs = 1): 12 ymm accumulators, 2 B loads and 6 broadcasts per k step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel6x16(int kc, float* a, nint rs, nint cs, float* b, float* c, nint ldc, bool load)
    {
        float* a0 = a + 0 * rs; float* a1 = a + 1 * rs; float* a2 = a + 2 * rs; float* a3 = a + 3 * rs; float* a4 = a + 4 * rs; float* a5 = a + 5 * rs;
        Vector256<float> c00 = default; Vector256<float> c01 = default;
        Vector256<float> c10 = default; Vector256<float> c11 = default;
        Vector256<float> c20 = default; Vector256<float> c21 = default;
        Vector256<float> c30 = default; Vector256<float> c31 = default;
        Vector256<float> c40 = default; Vector256<float> c41 = default;
        Vector256<float> c50 = default; Vector256<float> c51 = default;
        // Fetch the C tile while the k loop runs: it is touched only at the end, and is usually not in cache.
        if (Sse.IsSupported)
            for (int r = 0; r < 6; r++) { Sse.Prefetch0(c + r * ldc); Sse.Prefetch0(c + r * ldc + 15); }
        nint q = 0;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0); var b1 = Vector256.Load(b + 8);
            var x0 = Vector256.Create(a0[q]); c00 = Vector256.FusedMultiplyAdd(x0, b0, c00); c01 = Vector256.FusedMultiplyAdd(x0, b1, c01);
            var x1 = Vector256.Create(a1[q]); c10 = Vector256.FusedMultiplyAdd(x1, b0, c10); c11 = Vector256.FusedMultiplyAdd(x1, b1, c11);
            var x2 = Vector256.Create(a2[q]); c20 = Vector256.FusedMultiplyAdd(x2, b0, c20); c21 = Vector256.FusedMultiplyAdd(x2, b1, c21);
            var x3 = Vector256.Create(a3[q]); c30 = Vector256.FusedMultiplyAdd(x3, b0, c30); c31 = Vector256.FusedMultiplyAdd(x3, b1, c31);
            var x4 = Vector256.Create(a4[q]); c40 = Vector256.FusedMultiplyAdd(x4, b0, c40); c41 = Vector256.FusedMultiplyAdd(x4, b1, c41);
            var x5 = Vector256.Create(a5[q]); c50 = Vector256.FusedMultiplyAdd(x5, b0, c50); c51 = Vector256.FusedMultiplyAdd(x5, b1, c51);
            q += cs;
            b += 16;
        }
        if (load)
        {
            c00 += Vector256.Load(c + 0 * ldc + 0); c01 += Vector256.Load(c + 0 * ldc + 8);
            c10 += Vector256.Load(c + 1 * ldc + 0); c11 += Vector256.Load(c + 1 * ldc + 8);
            c20 += Vector256.Load(c + 2 * ldc + 0); c21 += Vector256.Load(c + 2 * ldc + 8);
            c30 += Vector256.Load(c + 3 * ldc + 0); c31 += Vector256.Load(c + 3 * ldc + 8);
            c40 += Vector256.Load(c + 4 * ldc + 0); c41 += Vector256.Load(c + 4 * ldc + 8);
            c50 += Vector256.Load(c + 5 * ldc + 0); c51 += Vector256.Load(c + 5 * ldc + 8);
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 8);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 8);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 8);
        c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 8);
        c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 8);
    }
}
