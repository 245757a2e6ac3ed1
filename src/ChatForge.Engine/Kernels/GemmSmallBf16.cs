using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Decode GEMV with bf16 weights: y[i, j] (+)= x_i · W_j, W [n×k] bf16. Bandwidth-bound, so each weight is read once
/// per call and widened in registers: a vector of uint holds bf16 pairs; (u &lt;&lt; 16) is the even-index weight as
/// float32 and (u &amp; 0xFFFF0000) the odd-index one. x arrives pre-split per block into even/odd halves to match
/// (see GemmSmall.MatMulBf16), so the widening costs two integer ops per 2·lanes weights.
/// </summary>
internal static unsafe class GemmSmallBf16
{
    public static void DotRows(float* x, ushort* w, float* c, int m, int n, int k, int j0, int j1, bool accumulate, SimdLevel level)
    {
        float* sums = stackalloc float[8];
        for (int j = j0; j < j1; j += 4)
        {
            int rows = Math.Min(4, j1 - j);
            ushort* w0 = w + (nint)j * k;
            ushort* w1 = rows > 1 ? w0 + k : w0, w2 = rows > 2 ? w0 + 2 * k : w0, w3 = rows > 3 ? w0 + 3 * k : w0;
            int i = 0;
            // With several x rows the group's passes are compute, not memory: fetch the next group's weights meanwhile.
            if (m > 1 && j + 4 < j1 && Sse.IsSupported)
            {
                byte* next = (byte*)(w + (nint)(j + 4) * k);
                int bytes = Math.Min(4, j1 - j - 4) * k * sizeof(ushort);
                for (int b = 0; b < bytes; b += 64) Sse.Prefetch0(next + b);
            }
            // Two x rows per pass share each widened weight vector: at batch > 1 the widening, not memory, was the cost.
            if (level != SimdLevel.Scalar)
                for (; i + 2 <= m; i += 2)
                {
                    float* xi = x + (nint)i * k;
                    if (level == SimdLevel.Vector512) Dot4x2x512(xi, xi + k, w0, w1, w2, w3, k, sums);
                    else Dot4x2x256(xi, xi + k, w0, w1, w2, w3, k, sums);
                    Store(c + (nint)i * n + j, sums, rows, accumulate);
                    Store(c + (nint)(i + 1) * n + j, sums + 4, rows, accumulate);
                }
            for (; i < m; i++)
            {
                float* xi = x + (nint)i * k;
                switch (level)
                {
                    case SimdLevel.Vector512: Dot4x512(xi, w0, w1, w2, w3, k, sums); break;
                    case SimdLevel.Vector256: Dot4x256(xi, w0, w1, w2, w3, k, sums); break;
                    default: Dot4Scalar(xi, w0, w1, w2, w3, k, sums); break;
                }
                Store(c + (nint)i * n + j, sums, rows, accumulate);
            }
        }
    }

    static void Store(float* c, float* sums, int rows, bool accumulate)
    {
        for (int r = 0; r < rows; r++) c[r] = accumulate ? c[r] + sums[r] : sums[r];
    }

    /// <summary>Four weight rows against two x rows: sums[0..3] for x0, sums[4..7] for x1.</summary>
    static void Dot4x2x256(float* x0, float* x1, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int k, float* sums)
    {
        var high = Vector256.Create(0xFFFF0000u);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            var xe0 = Vector256.Load(x0 + p);
            var xo0 = Vector256.Load(x0 + p + 8);
            var xe1 = Vector256.Load(x1 + p);
            var xo1 = Vector256.Load(x1 + p + 8);
            var u = Vector256.Load((uint*)(w0 + p));
            var we = Vector256.ShiftLeft(u, 16).AsSingle();
            var wo = (u & high).AsSingle();
            a0 = Vector256.FusedMultiplyAdd(xo0, wo, Vector256.FusedMultiplyAdd(xe0, we, a0));
            b0 = Vector256.FusedMultiplyAdd(xo1, wo, Vector256.FusedMultiplyAdd(xe1, we, b0));
            u = Vector256.Load((uint*)(w1 + p));
            we = Vector256.ShiftLeft(u, 16).AsSingle();
            wo = (u & high).AsSingle();
            a1 = Vector256.FusedMultiplyAdd(xo0, wo, Vector256.FusedMultiplyAdd(xe0, we, a1));
            b1 = Vector256.FusedMultiplyAdd(xo1, wo, Vector256.FusedMultiplyAdd(xe1, we, b1));
            u = Vector256.Load((uint*)(w2 + p));
            we = Vector256.ShiftLeft(u, 16).AsSingle();
            wo = (u & high).AsSingle();
            a2 = Vector256.FusedMultiplyAdd(xo0, wo, Vector256.FusedMultiplyAdd(xe0, we, a2));
            b2 = Vector256.FusedMultiplyAdd(xo1, wo, Vector256.FusedMultiplyAdd(xe1, we, b2));
            u = Vector256.Load((uint*)(w3 + p));
            we = Vector256.ShiftLeft(u, 16).AsSingle();
            wo = (u & high).AsSingle();
            a3 = Vector256.FusedMultiplyAdd(xo0, wo, Vector256.FusedMultiplyAdd(xe0, we, a3));
            b3 = Vector256.FusedMultiplyAdd(xo1, wo, Vector256.FusedMultiplyAdd(xe1, we, b3));
        }
        sums[0] = Vector256.Sum(a0); sums[1] = Vector256.Sum(a1); sums[2] = Vector256.Sum(a2); sums[3] = Vector256.Sum(a3);
        sums[4] = Vector256.Sum(b0); sums[5] = Vector256.Sum(b1); sums[6] = Vector256.Sum(b2); sums[7] = Vector256.Sum(b3);
        Tail(x0, w0, w1, w2, w3, p, k, sums);
        Tail(x1, w0, w1, w2, w3, p, k, sums + 4);
    }

    static void Dot4x2x512(float* x0, float* x1, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int k, float* sums)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int p = 0;
        for (; p <= k - 32; p += 32)
        {
            var xe0 = Vector512.Load(x0 + p);
            var xo0 = Vector512.Load(x0 + p + 16);
            var xe1 = Vector512.Load(x1 + p);
            var xo1 = Vector512.Load(x1 + p + 16);
            var u = Vector512.Load((uint*)(w0 + p));
            var we = Vector512.ShiftLeft(u, 16).AsSingle();
            var wo = (u & high).AsSingle();
            a0 = Vector512.FusedMultiplyAdd(xo0, wo, Vector512.FusedMultiplyAdd(xe0, we, a0));
            b0 = Vector512.FusedMultiplyAdd(xo1, wo, Vector512.FusedMultiplyAdd(xe1, we, b0));
            u = Vector512.Load((uint*)(w1 + p));
            we = Vector512.ShiftLeft(u, 16).AsSingle();
            wo = (u & high).AsSingle();
            a1 = Vector512.FusedMultiplyAdd(xo0, wo, Vector512.FusedMultiplyAdd(xe0, we, a1));
            b1 = Vector512.FusedMultiplyAdd(xo1, wo, Vector512.FusedMultiplyAdd(xe1, we, b1));
            u = Vector512.Load((uint*)(w2 + p));
            we = Vector512.ShiftLeft(u, 16).AsSingle();
            wo = (u & high).AsSingle();
            a2 = Vector512.FusedMultiplyAdd(xo0, wo, Vector512.FusedMultiplyAdd(xe0, we, a2));
            b2 = Vector512.FusedMultiplyAdd(xo1, wo, Vector512.FusedMultiplyAdd(xe1, we, b2));
            u = Vector512.Load((uint*)(w3 + p));
            we = Vector512.ShiftLeft(u, 16).AsSingle();
            wo = (u & high).AsSingle();
            a3 = Vector512.FusedMultiplyAdd(xo0, wo, Vector512.FusedMultiplyAdd(xe0, we, a3));
            b3 = Vector512.FusedMultiplyAdd(xo1, wo, Vector512.FusedMultiplyAdd(xe1, we, b3));
        }
        sums[0] = Vector512.Sum(a0); sums[1] = Vector512.Sum(a1); sums[2] = Vector512.Sum(a2); sums[3] = Vector512.Sum(a3);
        sums[4] = Vector512.Sum(b0); sums[5] = Vector512.Sum(b1); sums[6] = Vector512.Sum(b2); sums[7] = Vector512.Sum(b3);
        Tail(x0, w0, w1, w2, w3, p, k, sums);
        Tail(x1, w0, w1, w2, w3, p, k, sums + 4);
    }

    static void Dot4x512(float* x, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int k, float* sums)
    {
        var high = Vector512.Create(0xFFFF0000u);
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int p = 0;
        for (; p <= k - 32; p += 32)
        {
            var xe = Vector512.Load(x + p);
            var xo = Vector512.Load(x + p + 16);
            var u0 = Vector512.Load((uint*)(w0 + p));
            var u1 = Vector512.Load((uint*)(w1 + p));
            var u2 = Vector512.Load((uint*)(w2 + p));
            var u3 = Vector512.Load((uint*)(w3 + p));
            s0 = Vector512.FusedMultiplyAdd(xe, Vector512.ShiftLeft(u0, 16).AsSingle(), s0);
            s1 = Vector512.FusedMultiplyAdd(xe, Vector512.ShiftLeft(u1, 16).AsSingle(), s1);
            s2 = Vector512.FusedMultiplyAdd(xe, Vector512.ShiftLeft(u2, 16).AsSingle(), s2);
            s3 = Vector512.FusedMultiplyAdd(xe, Vector512.ShiftLeft(u3, 16).AsSingle(), s3);
            s0 = Vector512.FusedMultiplyAdd(xo, (u0 & high).AsSingle(), s0);
            s1 = Vector512.FusedMultiplyAdd(xo, (u1 & high).AsSingle(), s1);
            s2 = Vector512.FusedMultiplyAdd(xo, (u2 & high).AsSingle(), s2);
            s3 = Vector512.FusedMultiplyAdd(xo, (u3 & high).AsSingle(), s3);
        }
        sums[0] = Vector512.Sum(s0); sums[1] = Vector512.Sum(s1); sums[2] = Vector512.Sum(s2); sums[3] = Vector512.Sum(s3);
        Tail(x, w0, w1, w2, w3, p, k, sums);
    }

    static void Dot4x256(float* x, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int k, float* sums)
    {
        var high = Vector256.Create(0xFFFF0000u);
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            var xe = Vector256.Load(x + p);
            var xo = Vector256.Load(x + p + 8);
            var u0 = Vector256.Load((uint*)(w0 + p));
            var u1 = Vector256.Load((uint*)(w1 + p));
            var u2 = Vector256.Load((uint*)(w2 + p));
            var u3 = Vector256.Load((uint*)(w3 + p));
            s0 = Vector256.FusedMultiplyAdd(xe, Vector256.ShiftLeft(u0, 16).AsSingle(), s0);
            s1 = Vector256.FusedMultiplyAdd(xe, Vector256.ShiftLeft(u1, 16).AsSingle(), s1);
            s2 = Vector256.FusedMultiplyAdd(xe, Vector256.ShiftLeft(u2, 16).AsSingle(), s2);
            s3 = Vector256.FusedMultiplyAdd(xe, Vector256.ShiftLeft(u3, 16).AsSingle(), s3);
            t0 = Vector256.FusedMultiplyAdd(xo, (u0 & high).AsSingle(), t0);
            t1 = Vector256.FusedMultiplyAdd(xo, (u1 & high).AsSingle(), t1);
            t2 = Vector256.FusedMultiplyAdd(xo, (u2 & high).AsSingle(), t2);
            t3 = Vector256.FusedMultiplyAdd(xo, (u3 & high).AsSingle(), t3);
        }
        sums[0] = Vector256.Sum(s0 + t0); sums[1] = Vector256.Sum(s1 + t1); sums[2] = Vector256.Sum(s2 + t2); sums[3] = Vector256.Sum(s3 + t3);
        Tail(x, w0, w1, w2, w3, p, k, sums);
    }

    static void Dot4Scalar(float* x, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int k, float* sums)
    {
        sums[0] = sums[1] = sums[2] = sums[3] = 0;
        Tail(x, w0, w1, w2, w3, 0, k, sums);
    }

    /// <summary>The k values past the last full block: x is in natural order there.</summary>
    static void Tail(float* x, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int p, int k, float* sums)
    {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (; p < k; p++)
        {
            float xv = x[p];
            s0 += xv * Bf16.ToFloat(w0[p]); s1 += xv * Bf16.ToFloat(w1[p]); s2 += xv * Bf16.ToFloat(w2[p]); s3 += xv * Bf16.ToFloat(w3[p]);
        }
        sums[0] += s0; sums[1] += s1; sums[2] += s2; sums[3] += s3;
    }
}
