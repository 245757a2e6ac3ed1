using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Inference;

/// <summary>
/// A weight W [out, in] quantised to int8 with one float scale per output row (absmax / 127), for
/// y = x·Wᵀ. Decode at small batch streams every weight once per step, so a quarter of fp32's bytes is
/// close to four times the steps per second; the per-row scale keeps the error at ≤ 1/254 of each row's
/// largest weight. Small batches (decode) widen int8 → float in registers; large batches (prefill)
/// dequantise into an fp32 scratch and use the packed GEMM.
/// </summary>
internal sealed unsafe class Int8Linear
{
    readonly sbyte[] _q;
    readonly float[] _scale;

    public int Out { get; }
    public int In { get; }
    public long Bytes => (long)Out * In + (long)Out * sizeof(float);

    public Int8Linear(ReadOnlySpan<float> weight, int outDim, int inDim)
    {
        Out = outDim;
        In = inDim;
        _q = GC.AllocateUninitializedArray<sbyte>(outDim * inDim, pinned: true);
        _scale = new float[outDim];
        // Same rounding as the int8 KV cache; an all-zero row gets scale 0, which dequantises to the same zeros.
        for (int j = 0; j < outDim; j++)
            _scale[j] = Int8Vectors.Quantize(weight.Slice(j * inDim, inDim), _q.AsSpan(j * inDim, inDim));
    }

    /// <summary>W dequantised to fp32 [out, in] (prefill and tests).</summary>
    public void Dequantize(Span<float> destination)
    {
        for (int j = 0; j < Out; j++)
            for (int p = 0; p < In; p++) destination[j * In + p] = _q[j * In + p] * _scale[j];
    }

    /// <summary>y[m, Out] = (accumulate ? y : 0) + x[m, In]·Wᵀ; <paramref name="scratch"/> holds ≥ Out·In floats for m &gt; 8.</summary>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int m, bool accumulate, float[] scratch)
    {
        if (x.Length < m * In || y.Length < m * Out)
            throw new ArgumentException($"Int8Linear: x holds {x.Length} floats and y {y.Length}, shape [{m}, {In}] → [{m}, {Out}] needs {m * In} and {m * Out}.");
        if (m > RowBands.DecodeMaxRows)
        {
            Dequantize(scratch);
            Gemm.MatMul(x[..(m * In)], scratch.AsSpan(0, Out * In), y, m, Out, In, transB: true, accumulate: accumulate);
            return;
        }
        var level = Simd.Level;
        fixed (float* px = x, py = y)
        fixed (sbyte* pq = _q)
        fixed (float* ps = _scale)
        {
            nint xa = (nint)px, ya = (nint)py, qa = (nint)pq, sa = (nint)ps;
            // Bands are multiples of 64 rows, so the 4-row kernel stays full.
            RowBands.For((long)m * Out * In, Out, (j0, j1) => Rows((float*)xa, (sbyte*)qa, (float*)sa, (float*)ya, m, j0, j1, accumulate, level));
        }
    }

    void Rows(float* x, sbyte* q, float* scale, float* y, int m, int j0, int j1, bool accumulate, SimdLevel level)
    {
        int k = In, n = Out;
        bool avx2 = level >= SimdLevel.Vector256 && Avx2.IsSupported;
        float* sums = stackalloc float[8];
        for (int j = j0; j < j1; j += 4)
        {
            int rows = Math.Min(4, j1 - j);
            sbyte* w0 = q + (nint)j * k;
            sbyte* w1 = rows > 1 ? w0 + k : w0, w2 = rows > 2 ? w0 + 2 * k : w0, w3 = rows > 3 ? w0 + 3 * k : w0;
            // Two x rows per pass: each widened weight vector feeds two FMAs, so batched decode converts half as often.
            for (int i = 0; i < m; i += 2)
            {
                float* xi = x + (nint)i * k;
                int pair = Math.Min(2, m - i);
                if (avx2 && pair == 2) Dot4x2Avx2(xi, xi + k, w0, w1, w2, w3, k, sums);
                else if (avx2) Dot4Avx2(xi, w0, w1, w2, w3, k, sums);
                else
                {
                    Dot4Scalar(xi, w0, w1, w2, w3, 0, k, sums, clear: true);
                    if (pair == 2) Dot4Scalar(xi + k, w0, w1, w2, w3, 0, k, sums + 4, clear: true);
                }
                for (int e = 0; e < pair; e++)
                {
                    float* yi = y + (nint)(i + e) * n + j;
                    for (int r = 0; r < rows; r++)
                    {
                        float v = sums[e * 4 + r] * scale[j + r];
                        yi[r] = accumulate ? yi[r] + v : v;
                    }
                }
            }
        }
    }

    /// <summary>Four weight rows against two x rows: sums[0..4) for x0, sums[4..8) for x1.</summary>
    static void Dot4x2Avx2(float* x0, float* x1, sbyte* w0, sbyte* w1, sbyte* w2, sbyte* w3, int k, float* sums)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int p = 0;
        for (; p <= k - 8; p += 8)
        {
            var xa = Avx.LoadVector256(x0 + p);
            var xb = Avx.LoadVector256(x1 + p);
            var v0 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w0 + p));
            var v1 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w1 + p));
            var v2 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w2 + p));
            var v3 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w3 + p));
            a0 = Fma.MultiplyAdd(xa, v0, a0); b0 = Fma.MultiplyAdd(xb, v0, b0);
            a1 = Fma.MultiplyAdd(xa, v1, a1); b1 = Fma.MultiplyAdd(xb, v1, b1);
            a2 = Fma.MultiplyAdd(xa, v2, a2); b2 = Fma.MultiplyAdd(xb, v2, b2);
            a3 = Fma.MultiplyAdd(xa, v3, a3); b3 = Fma.MultiplyAdd(xb, v3, b3);
        }
        sums[0] = Vector256.Sum(a0); sums[1] = Vector256.Sum(a1); sums[2] = Vector256.Sum(a2); sums[3] = Vector256.Sum(a3);
        sums[4] = Vector256.Sum(b0); sums[5] = Vector256.Sum(b1); sums[6] = Vector256.Sum(b2); sums[7] = Vector256.Sum(b3);
        Dot4Scalar(x0, w0, w1, w2, w3, p, k, sums, clear: false);
        Dot4Scalar(x1, w0, w1, w2, w3, p, k, sums + 4, clear: false);
    }

    /// <summary>Four dot products x·w_r: 8 int8 weights at a time widened to int32, converted to float, fused-multiply-added.</summary>
    static void Dot4Avx2(float* x, sbyte* w0, sbyte* w1, sbyte* w2, sbyte* w3, int k, float* sums)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            var xa = Avx.LoadVector256(x + p);
            var xb = Avx.LoadVector256(x + p + 8);
            s0 = Fma.MultiplyAdd(xa, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w0 + p)), s0);
            s1 = Fma.MultiplyAdd(xa, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w1 + p)), s1);
            s2 = Fma.MultiplyAdd(xa, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w2 + p)), s2);
            s3 = Fma.MultiplyAdd(xa, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w3 + p)), s3);
            t0 = Fma.MultiplyAdd(xb, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w0 + p + 8)), t0);
            t1 = Fma.MultiplyAdd(xb, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w1 + p + 8)), t1);
            t2 = Fma.MultiplyAdd(xb, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w2 + p + 8)), t2);
            t3 = Fma.MultiplyAdd(xb, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w3 + p + 8)), t3);
        }
        sums[0] = Vector256.Sum(s0 + t0); sums[1] = Vector256.Sum(s1 + t1); sums[2] = Vector256.Sum(s2 + t2); sums[3] = Vector256.Sum(s3 + t3);
        Dot4Scalar(x, w0, w1, w2, w3, p, k, sums, clear: false);
    }

    static void Dot4Scalar(float* x, sbyte* w0, sbyte* w1, sbyte* w2, sbyte* w3, int p, int k, float* sums, bool clear)
    {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (; p < k; p++)
        {
            float xv = x[p];
            s0 += xv * w0[p]; s1 += xv * w1[p]; s2 += xv * w2[p]; s3 += xv * w3[p];
        }
        if (clear) { sums[0] = s0; sums[1] = s1; sums[2] = s2; sums[3] = s3; }
        else { sums[0] += s0; sums[1] += s1; sums[2] += s2; sums[3] += s3; }
    }
}
