using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// The small building blocks flash attention is made of: a register-blocked block matmul with arbitrary
/// strides (so transposed operands need no copy), and row operations for the online softmax.
/// Blocks are at most 64×64, far below where the packed <c>Gemm.MatMul</c> pays off, so they get their own
/// micro-kernels. Each method takes the SIMD level the calling kernel read once at its start.
/// </summary>
internal static unsafe class AttentionBlocks
{
    /// <summary>
    /// C[m×n] = (accumulate ? C : 0) + A[m×k]·B[k×n] with A(i,p) = a[i·aRowStride + p·aColStride] (a transposed
    /// A is just swapped strides), B row p at b + p·ldb and C row i at c + i·ldc (rows contiguous in columns).
    /// </summary>
    public static void MatMul(SimdLevel level, float* a, int aRowStride, int aColStride, float* b, int ldb,
        float* c, int ldc, int m, int n, int k, bool accumulate)
    {
        int j = 0;
        if (level == SimdLevel.Vector512)
        {
            for (; j + 64 <= n; j += 64) Columns512x4(a, aRowStride, aColStride, b + j, ldb, c + j, ldc, m, k, accumulate);
            for (; j + 32 <= n; j += 32) Columns512x2(a, aRowStride, aColStride, b + j, ldb, c + j, ldc, m, k, accumulate);
            for (; j + 16 <= n; j += 16) Columns512x1(a, aRowStride, aColStride, b + j, ldb, c + j, ldc, m, k, accumulate);
        }
        else if (level == SimdLevel.Vector256)
        {
            for (; j + 16 <= n; j += 16) Columns256x2(a, aRowStride, aColStride, b + j, ldb, c + j, ldc, m, k, accumulate);
            for (; j + 8 <= n; j += 8) Columns256x1(a, aRowStride, aColStride, b + j, ldb, c + j, ldc, m, k, accumulate);
        }
        if (j < n) ScalarColumns(a, aRowStride, aColStride, b + j, ldb, c + j, ldc, m, n - j, k, accumulate);
    }

    static void ScalarColumns(float* a, int ars, int acs, float* b, int ldb, float* c, int ldc, int m, int n, int k, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            float* ci = c + (nint)i * ldc;
            if (!accumulate) new Span<float>(ci, n).Clear();
            float* ai = a + (nint)i * ars;
            for (int p = 0; p < k; p++)
            {
                float aip = ai[(nint)p * acs];
                float* bp = b + (nint)p * ldb;
                for (int j = 0; j < n; j++) ci[j] += aip * bp[j];
            }
        }
    }

    static void Columns512x4(float* a, int ars, int acs, float* b, int ldb, float* c, int ldc, int m, int k, bool acc)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4) Tile512(4, 4, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
        for (; i < m; i++) Tile512(1, 4, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
    }

    static void Columns512x2(float* a, int ars, int acs, float* b, int ldb, float* c, int ldc, int m, int k, bool acc)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4) Tile512(4, 2, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
        for (; i < m; i++) Tile512(1, 2, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
    }

    static void Columns512x1(float* a, int ars, int acs, float* b, int ldb, float* c, int ldc, int m, int k, bool acc)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4) Tile512(4, 1, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
        for (; i < m; i++) Tile512(1, 1, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
    }

    /// <summary>
    /// mr (1 or 4) rows × nv (1, 2 or 4) vectors of C kept in registers over the whole k loop. mr and nv are
    /// constants at every call site, so after inlining the JIT drops the unused accumulators and branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile512(int mr, int nv, float* a, int ars, int acs, float* b, int ldb, float* c, int ldc, int k, bool acc)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        for (int p = 0; p < k; p++)
        {
            float* bp = b + (nint)p * ldb;
            float* ap = a + (nint)p * acs;
            var b0 = Vector512.Load(bp);
            var b1 = nv > 1 ? Vector512.Load(bp + 16) : default;
            var b2 = nv > 2 ? Vector512.Load(bp + 32) : default;
            var b3 = nv > 2 ? Vector512.Load(bp + 48) : default;
            var x = Vector512.Create(ap[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            if (nv > 1) c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            if (nv > 2) { c02 = Vector512.FusedMultiplyAdd(x, b2, c02); c03 = Vector512.FusedMultiplyAdd(x, b3, c03); }
            if (mr > 1)
            {
                x = Vector512.Create(ap[ars]);
                c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
                if (nv > 1) c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                if (nv > 2) { c12 = Vector512.FusedMultiplyAdd(x, b2, c12); c13 = Vector512.FusedMultiplyAdd(x, b3, c13); }
                x = Vector512.Create(ap[2 * (nint)ars]);
                c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
                if (nv > 1) c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                if (nv > 2) { c22 = Vector512.FusedMultiplyAdd(x, b2, c22); c23 = Vector512.FusedMultiplyAdd(x, b3, c23); }
                x = Vector512.Create(ap[3 * (nint)ars]);
                c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
                if (nv > 1) c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                if (nv > 2) { c32 = Vector512.FusedMultiplyAdd(x, b2, c32); c33 = Vector512.FusedMultiplyAdd(x, b3, c33); }
            }
        }
        Store512(nv, c, acc, c00, c01, c02, c03);
        if (mr > 1)
        {
            Store512(nv, c + ldc, acc, c10, c11, c12, c13);
            Store512(nv, c + 2 * (nint)ldc, acc, c20, c21, c22, c23);
            Store512(nv, c + 3 * (nint)ldc, acc, c30, c31, c32, c33);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store512(int nv, float* c, bool acc, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        if (acc)
        {
            v0 += Vector512.Load(c);
            if (nv > 1) v1 += Vector512.Load(c + 16);
            if (nv > 2) { v2 += Vector512.Load(c + 32); v3 += Vector512.Load(c + 48); }
        }
        v0.Store(c);
        if (nv > 1) v1.Store(c + 16);
        if (nv > 2) { v2.Store(c + 32); v3.Store(c + 48); }
    }

    static void Columns256x2(float* a, int ars, int acs, float* b, int ldb, float* c, int ldc, int m, int k, bool acc)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4) Tile256(4, 2, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
        for (; i < m; i++) Tile256(1, 2, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
    }

    static void Columns256x1(float* a, int ars, int acs, float* b, int ldb, float* c, int ldc, int m, int k, bool acc)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4) Tile256(4, 1, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
        for (; i < m; i++) Tile256(1, 1, a + (nint)i * ars, ars, acs, b, ldb, c + (nint)i * ldc, ldc, k, acc);
    }

    /// <summary>AVX2 has 16 vector registers: 4 rows × 2 vectors of accumulators leave room for the operands.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile256(int mr, int nv, float* a, int ars, int acs, float* b, int ldb, float* c, int ldc, int k, bool acc)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < k; p++)
        {
            float* bp = b + (nint)p * ldb;
            float* ap = a + (nint)p * acs;
            var b0 = Vector256.Load(bp);
            var b1 = nv > 1 ? Vector256.Load(bp + 8) : default;
            var x = Vector256.Create(ap[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00);
            if (nv > 1) c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            if (mr > 1)
            {
                x = Vector256.Create(ap[ars]);
                c10 = Vector256.FusedMultiplyAdd(x, b0, c10);
                if (nv > 1) c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
                x = Vector256.Create(ap[2 * (nint)ars]);
                c20 = Vector256.FusedMultiplyAdd(x, b0, c20);
                if (nv > 1) c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
                x = Vector256.Create(ap[3 * (nint)ars]);
                c30 = Vector256.FusedMultiplyAdd(x, b0, c30);
                if (nv > 1) c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            }
        }
        Store256(nv, c, acc, c00, c01);
        if (mr > 1)
        {
            Store256(nv, c + ldc, acc, c10, c11);
            Store256(nv, c + 2 * (nint)ldc, acc, c20, c21);
            Store256(nv, c + 3 * (nint)ldc, acc, c30, c31);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store256(int nv, float* c, bool acc, Vector256<float> v0, Vector256<float> v1)
    {
        if (acc)
        {
            v0 += Vector256.Load(c);
            if (nv > 1) v1 += Vector256.Load(c + 8);
        }
        v0.Store(c);
        if (nv > 1) v1.Store(c + 8);
    }

    /// <summary>dst[j] = src[j]·s (dst may equal src).</summary>
    public static void Scale(SimdLevel level, float* src, float* dst, int n, float s)
    {
        int j = 0;
        if (level == SimdLevel.Vector512)
        {
            var v = Vector512.Create(s);
            for (; j + 16 <= n; j += 16) (Vector512.Load(src + j) * v).Store(dst + j);
        }
        if (level >= SimdLevel.Vector256)
        {
            var v = Vector256.Create(s);
            for (; j + 8 <= n; j += 8) (Vector256.Load(src + j) * v).Store(dst + j);
        }
        for (; j < n; j++) dst[j] = src[j] * s;
    }

    /// <summary>Σ x[j]·y[j].</summary>
    public static float Dot(SimdLevel level, float* x, float* y, int n)
    {
        int j = 0;
        float sum = 0;
        if (level == SimdLevel.Vector512 && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; j + 16 <= n; j += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(x + j), Vector512.Load(y + j), acc);
            sum = Vector512.Sum(acc);
        }
        else if (level >= SimdLevel.Vector256 && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; j + 8 <= n; j += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(x + j), Vector256.Load(y + j), acc);
            sum = Vector256.Sum(acc);
        }
        for (; j < n; j++) sum += x[j] * y[j];
        return sum;
    }

    /// <summary>Softmax backward on one row: dp[j] = p[j]·(dp[j] − d)·scale.</summary>
    public static void SoftmaxGrad(SimdLevel level, float* p, float* dp, int n, float d, float scale)
    {
        int j = 0;
        if (level == SimdLevel.Vector512)
        {
            var vd = Vector512.Create(d);
            var vs = Vector512.Create(scale);
            for (; j + 16 <= n; j += 16) (Vector512.Load(p + j) * (Vector512.Load(dp + j) - vd) * vs).Store(dp + j);
        }
        if (level >= SimdLevel.Vector256)
        {
            var vd = Vector256.Create(d);
            var vs = Vector256.Create(scale);
            for (; j + 8 <= n; j += 8) (Vector256.Load(p + j) * (Vector256.Load(dp + j) - vd) * vs).Store(dp + j);
        }
        for (; j < n; j++) dp[j] = p[j] * (dp[j] - d) * scale;
    }
}
