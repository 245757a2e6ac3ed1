using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// Global L2 norm of the flat gradient buffer and clipping by it (torch.nn.utils.clip_grad_norm_). Squares are
/// summed in double, so the norm of 10⁷–10⁹ gradients is exact to float precision. A NaN or infinite norm is
/// returned as is and the gradients are left untouched, so the trainer can see it and skip or stop.
/// </summary>
public static class GradClip
{
    /// <summary>√(Σ g²), accumulated in double.</summary>
    public static unsafe float GlobalNorm(ReadOnlySpan<float> grads) => (float)Math.Sqrt(SumSquares(grads));

    /// <summary>
    /// Scales grads by maxNorm / norm when norm &gt; maxNorm; returns the norm before clipping (NaN/∞ returned without touching grads).
    /// </summary>
    public static unsafe float ClipByGlobalNorm(Span<float> grads, float maxNorm)
    {
        if (!(maxNorm > 0f) || float.IsInfinity(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "GradClip: maxNorm must be a positive finite number.");
        double norm = Math.Sqrt(SumSquares(grads));
        if (double.IsFinite(norm) && norm > maxNorm)
        {
            float scale = (float)(maxNorm / norm);
            var level = Simd.Level;
            int n = grads.Length;
            if (!RowBlocks.ShouldSplit(n, 1)) Scale(grads, scale, level);
            else
                fixed (float* pg = grads)
                {
                    float* ag = pg;
                    RowBlocks.ForAligned(n, 64, (lo, hi) => Scale(new Span<float>(ag + lo, hi - lo), scale, level));
                }
        }
        return (float)norm;
    }

    static unsafe double SumSquares(ReadOnlySpan<float> grads)
    {
        var level = Simd.Level;
        int n = grads.Length;
        if (!RowBlocks.ShouldSplit(n, 1)) return SumSquaresRange(grads, level);
        // One partial per block, summed in block order so the result does not depend on thread timing.
        int blocks = Math.Min((n + 63) / 64, KernelThreads.Count * 4);
        double* partials = stackalloc double[blocks];
        fixed (float* pg = grads)
        {
            float* ag = pg;
            double* ap = partials;
            KernelThreads.For(0, blocks, b =>
            {
                int lo = (int)((long)n * b / blocks), hi = (int)((long)n * (b + 1) / blocks);
                ap[b] = SumSquaresRange(new ReadOnlySpan<float>(ag + lo, hi - lo), level);
            });
        }
        double total = 0;
        for (int b = 0; b < blocks; b++) total += partials[b];
        return total;
    }

    static double SumSquaresRange(ReadOnlySpan<float> x, SimdLevel level)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        double total = 0;
        if (level == SimdLevel.Vector512)
        {
            Vector512<double> a0 = default, a1 = default;
            for (; i <= n - 16; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref px, (nuint)i));
                a0 = Vector512.FusedMultiplyAdd(lo, lo, a0);
                a1 = Vector512.FusedMultiplyAdd(hi, hi, a1);
            }
            total = Vector512.Sum(a0 + a1);
        }
        else if (level == SimdLevel.Vector256)
        {
            Vector256<double> a0 = default, a1 = default;
            for (; i <= n - 8; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref px, (nuint)i));
                a0 = Vector256.FusedMultiplyAdd(lo, lo, a0);
                a1 = Vector256.FusedMultiplyAdd(hi, hi, a1);
            }
            total = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++)
        {
            double g = Unsafe.Add(ref px, i);
            total += g * g;
        }
        return total;
    }

    static void Scale(Span<float> x, float scale, SimdLevel level)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        if (level == SimdLevel.Vector512)
        {
            var s = Vector512.Create(scale);
            for (; i <= n - 16; i += 16) (Vector512.LoadUnsafe(ref px, (nuint)i) * s).StoreUnsafe(ref px, (nuint)i);
        }
        else if (level == SimdLevel.Vector256)
        {
            var s = Vector256.Create(scale);
            for (; i <= n - 8; i += 8) (Vector256.LoadUnsafe(ref px, (nuint)i) * s).StoreUnsafe(ref px, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref px, i) *= scale;
    }
}
