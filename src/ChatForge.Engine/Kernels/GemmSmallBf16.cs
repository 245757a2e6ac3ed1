using System.Runtime.Intrinsics;

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
        float* sums = stackalloc float[4];
        for (int j = j0; j < j1; j += 4)
        {
            int rows = Math.Min(4, j1 - j);
            ushort* w0 = w + (nint)j * k;
            ushort* w1 = rows > 1 ? w0 + k : w0, w2 = rows > 2 ? w0 + 2 * k : w0, w3 = rows > 3 ? w0 + 3 * k : w0;
            for (int i = 0; i < m; i++)
            {
                float* xi = x + (nint)i * k;
                switch (level)
                {
                    case SimdLevel.Vector512: Dot4x512(xi, w0, w1, w2, w3, k, sums); break;
                    case SimdLevel.Vector256: Dot4x256(xi, w0, w1, w2, w3, k, sums); break;
                    default: Dot4Scalar(xi, w0, w1, w2, w3, k, sums); break;
                }
                float* ci = c + (nint)i * n + j;
                for (int r = 0; r < rows; r++) ci[r] = accumulate ? ci[r] + sums[r] : sums[r];
            }
        }
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
