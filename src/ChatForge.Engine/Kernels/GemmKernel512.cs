using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

// One pattern written out for each tile: every accumulator is a named local so the JIT keeps the whole
// C tile in registers; per step of k it loads one row of the packed B panel and broadcasts one A value per row.

/// <summary>AVX-512 micro-kernel of the packed GEMM (see GemmPacked).</summary>
internal static unsafe class GemmKernel512
{
    public const int MR = 12, NR = 32;

    /// <summary>C[12×32] (+)= A[12×kc]·Bpanel[kc×32], A element (r, p) at a[r·rs + p·cs] (packed: rs = 1, cs = 12): 24 zmm accumulators, 2 B loads and 12 broadcasts per k step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel12x32(int kc, float* a, nint rs, nint cs, float* b, float* c, nint ldc, bool load)
    {
        // Four row pointers (rows 0, 3, 6, 9) and the offsets rs, 2·rs address all twelve rows: [p + rs·4] is one x86
        // addressing mode, so the loop needs eight general registers and nothing is spilled (twelve row pointers were:
        // five reloaded from the stack every k step).
        float* p0 = a, p3 = a + 3 * rs, p6 = a + 6 * rs, p9 = a + 9 * rs;
        nint r1 = rs, r2 = 2 * rs;
        Vector512<float> c00 = default; Vector512<float> c01 = default;
        Vector512<float> c10 = default; Vector512<float> c11 = default;
        Vector512<float> c20 = default; Vector512<float> c21 = default;
        Vector512<float> c30 = default; Vector512<float> c31 = default;
        Vector512<float> c40 = default; Vector512<float> c41 = default;
        Vector512<float> c50 = default; Vector512<float> c51 = default;
        Vector512<float> c60 = default; Vector512<float> c61 = default;
        Vector512<float> c70 = default; Vector512<float> c71 = default;
        Vector512<float> c80 = default; Vector512<float> c81 = default;
        Vector512<float> c90 = default; Vector512<float> c91 = default;
        Vector512<float> c100 = default; Vector512<float> c101 = default;
        Vector512<float> c110 = default; Vector512<float> c111 = default;
        // Fetch the C tile while the k loop runs: it is touched only at the end, and is usually not in cache.
        if (Sse.IsSupported)
            for (int r = 0; r < 12; r++) { Sse.Prefetch0(c + r * ldc); Sse.Prefetch0(c + r * ldc + 31); }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0); var b1 = Vector512.Load(b + 16);
            var x0 = Vector512.Create(p0[0]); c00 = Vector512.FusedMultiplyAdd(x0, b0, c00); c01 = Vector512.FusedMultiplyAdd(x0, b1, c01);
            var x1 = Vector512.Create(p0[r1]); c10 = Vector512.FusedMultiplyAdd(x1, b0, c10); c11 = Vector512.FusedMultiplyAdd(x1, b1, c11);
            var x2 = Vector512.Create(p0[r2]); c20 = Vector512.FusedMultiplyAdd(x2, b0, c20); c21 = Vector512.FusedMultiplyAdd(x2, b1, c21);
            var x3 = Vector512.Create(p3[0]); c30 = Vector512.FusedMultiplyAdd(x3, b0, c30); c31 = Vector512.FusedMultiplyAdd(x3, b1, c31);
            var x4 = Vector512.Create(p3[r1]); c40 = Vector512.FusedMultiplyAdd(x4, b0, c40); c41 = Vector512.FusedMultiplyAdd(x4, b1, c41);
            var x5 = Vector512.Create(p3[r2]); c50 = Vector512.FusedMultiplyAdd(x5, b0, c50); c51 = Vector512.FusedMultiplyAdd(x5, b1, c51);
            var x6 = Vector512.Create(p6[0]); c60 = Vector512.FusedMultiplyAdd(x6, b0, c60); c61 = Vector512.FusedMultiplyAdd(x6, b1, c61);
            var x7 = Vector512.Create(p6[r1]); c70 = Vector512.FusedMultiplyAdd(x7, b0, c70); c71 = Vector512.FusedMultiplyAdd(x7, b1, c71);
            var x8 = Vector512.Create(p6[r2]); c80 = Vector512.FusedMultiplyAdd(x8, b0, c80); c81 = Vector512.FusedMultiplyAdd(x8, b1, c81);
            var x9 = Vector512.Create(p9[0]); c90 = Vector512.FusedMultiplyAdd(x9, b0, c90); c91 = Vector512.FusedMultiplyAdd(x9, b1, c91);
            var x10 = Vector512.Create(p9[r1]); c100 = Vector512.FusedMultiplyAdd(x10, b0, c100); c101 = Vector512.FusedMultiplyAdd(x10, b1, c101);
            var x11 = Vector512.Create(p9[r2]); c110 = Vector512.FusedMultiplyAdd(x11, b0, c110); c111 = Vector512.FusedMultiplyAdd(x11, b1, c111);
            p0 += cs; p3 += cs; p6 += cs; p9 += cs;
            b += 32;
        }
        if (load)
        {
            c00 += Vector512.Load(c + 0 * ldc + 0); c01 += Vector512.Load(c + 0 * ldc + 16);
            c10 += Vector512.Load(c + 1 * ldc + 0); c11 += Vector512.Load(c + 1 * ldc + 16);
            c20 += Vector512.Load(c + 2 * ldc + 0); c21 += Vector512.Load(c + 2 * ldc + 16);
            c30 += Vector512.Load(c + 3 * ldc + 0); c31 += Vector512.Load(c + 3 * ldc + 16);
            c40 += Vector512.Load(c + 4 * ldc + 0); c41 += Vector512.Load(c + 4 * ldc + 16);
            c50 += Vector512.Load(c + 5 * ldc + 0); c51 += Vector512.Load(c + 5 * ldc + 16);
            c60 += Vector512.Load(c + 6 * ldc + 0); c61 += Vector512.Load(c + 6 * ldc + 16);
            c70 += Vector512.Load(c + 7 * ldc + 0); c71 += Vector512.Load(c + 7 * ldc + 16);
            c80 += Vector512.Load(c + 8 * ldc + 0); c81 += Vector512.Load(c + 8 * ldc + 16);
            c90 += Vector512.Load(c + 9 * ldc + 0); c91 += Vector512.Load(c + 9 * ldc + 16);
            c100 += Vector512.Load(c + 10 * ldc + 0); c101 += Vector512.Load(c + 10 * ldc + 16);
            c110 += Vector512.Load(c + 11 * ldc + 0); c111 += Vector512.Load(c + 11 * ldc + 16);
        }
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 16);
        c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 16);
        c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc + 0); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc + 0); c71.Store(c + 7 * ldc + 16);
        c80.Store(c + 8 * ldc + 0); c81.Store(c + 8 * ldc + 16);
        c90.Store(c + 9 * ldc + 0); c91.Store(c + 9 * ldc + 16);
        c100.Store(c + 10 * ldc + 0); c101.Store(c + 10 * ldc + 16);
        c110.Store(c + 11 * ldc + 0); c111.Store(c + 11 * ldc + 16);
    }
}
