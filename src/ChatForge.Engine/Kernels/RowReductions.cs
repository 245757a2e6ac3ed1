using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Per-row float reductions used by the norm kernels, with an explicit body for each SIMD level. Four
/// independent accumulators per vector lane keep the FMA pipes busy and make each partial sum cover
/// c/64 (or c/32) elements, which is also what keeps the float rounding error small.
/// </summary>
internal static class RowReductions
{
    public static float Sum(ReadOnlySpan<float> x, SimdLevel level)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float total = 0f;
        if (level == SimdLevel.Vector512 && n >= 16)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= n - 64; i += 64)
            {
                a0 += Vector512.LoadUnsafe(ref px, (nuint)i);
                a1 += Vector512.LoadUnsafe(ref px, (nuint)(i + 16));
                a2 += Vector512.LoadUnsafe(ref px, (nuint)(i + 32));
                a3 += Vector512.LoadUnsafe(ref px, (nuint)(i + 48));
            }
            for (; i <= n - 16; i += 16) a0 += Vector512.LoadUnsafe(ref px, (nuint)i);
            total = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (level >= SimdLevel.Vector256 && n >= 8)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= n - 32; i += 32)
            {
                a0 += Vector256.LoadUnsafe(ref px, (nuint)i);
                a1 += Vector256.LoadUnsafe(ref px, (nuint)(i + 8));
                a2 += Vector256.LoadUnsafe(ref px, (nuint)(i + 16));
                a3 += Vector256.LoadUnsafe(ref px, (nuint)(i + 24));
            }
            for (; i <= n - 8; i += 8) a0 += Vector256.LoadUnsafe(ref px, (nuint)i);
            total = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++) total += Unsafe.Add(ref px, i);
        return total;
    }

    /// <summary>Σ (x − mean)²: the second pass of a two-pass variance, exact for rows with a large mean.</summary>
    public static float SumSquaredDeviation(ReadOnlySpan<float> x, float mean, SimdLevel level)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        float total = 0f;
        if (level == SimdLevel.Vector512 && n >= 16)
        {
            var m = Vector512.Create(mean);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= n - 64; i += 64)
            {
                var d0 = Vector512.LoadUnsafe(ref px, (nuint)i) - m;
                var d1 = Vector512.LoadUnsafe(ref px, (nuint)(i + 16)) - m;
                var d2 = Vector512.LoadUnsafe(ref px, (nuint)(i + 32)) - m;
                var d3 = Vector512.LoadUnsafe(ref px, (nuint)(i + 48)) - m;
                a0 = Vector512.FusedMultiplyAdd(d0, d0, a0);
                a1 = Vector512.FusedMultiplyAdd(d1, d1, a1);
                a2 = Vector512.FusedMultiplyAdd(d2, d2, a2);
                a3 = Vector512.FusedMultiplyAdd(d3, d3, a3);
            }
            for (; i <= n - 16; i += 16)
            {
                var d = Vector512.LoadUnsafe(ref px, (nuint)i) - m;
                a0 = Vector512.FusedMultiplyAdd(d, d, a0);
            }
            total = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (level >= SimdLevel.Vector256 && n >= 8)
        {
            var m = Vector256.Create(mean);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= n - 32; i += 32)
            {
                var d0 = Vector256.LoadUnsafe(ref px, (nuint)i) - m;
                var d1 = Vector256.LoadUnsafe(ref px, (nuint)(i + 8)) - m;
                var d2 = Vector256.LoadUnsafe(ref px, (nuint)(i + 16)) - m;
                var d3 = Vector256.LoadUnsafe(ref px, (nuint)(i + 24)) - m;
                a0 = Vector256.FusedMultiplyAdd(d0, d0, a0);
                a1 = Vector256.FusedMultiplyAdd(d1, d1, a1);
                a2 = Vector256.FusedMultiplyAdd(d2, d2, a2);
                a3 = Vector256.FusedMultiplyAdd(d3, d3, a3);
            }
            for (; i <= n - 8; i += 8)
            {
                var d = Vector256.LoadUnsafe(ref px, (nuint)i) - m;
                a0 = Vector256.FusedMultiplyAdd(d, d, a0);
            }
            total = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++)
        {
            float d = Unsafe.Add(ref px, i) - mean;
            total += d * d;
        }
        return total;
    }

    /// <summary>Σ x² (RMSNorm's statistic).</summary>
    public static float SumSquares(ReadOnlySpan<float> x, SimdLevel level) => SumSquaredDeviation(x, 0f, level);
}
