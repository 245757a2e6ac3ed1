using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// RMSNorm over the last dimension of row-major [n, c] activations (Llama, Qwen):
/// y = x·rstd·weight, rstd = 1/√(mean(x²) + eps). Same float arithmetic order as Hugging Face's LlamaRMSNorm.
/// </summary>
public static class RmsNorm
{
    /// <summary>Writes output [n, c] and the per-row rstd [n] that Backward needs.</summary>
    public static unsafe void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output, Span<float> rstd, int n, int c, float eps)
    {
        const string K = "RmsNorm.Forward";
        KernelArgs.NonNegative(K, nameof(n), n);
        KernelArgs.Positive(K, nameof(c), c);
        string shape = KernelArgs.Shape("n", n, "c", c);
        KernelArgs.Length(K, nameof(x), x.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(output), output.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(weight), weight.Length, c, $"[c={c}]");
        KernelArgs.Length(K, nameof(rstd), rstd.Length, n, $"[n={n}]");
        if (!(eps > 0)) throw new ArgumentException($"{K}: eps must be positive, got {eps}.", nameof(eps));
        var level = Simd.Level;

        if (!RowBlocks.ShouldSplit(n, c))
        {
            ForwardRows(x, weight, output, rstd, 0, n, c, eps, level);
            return;
        }
        fixed (float* px = x, pw = weight, py = output, pr = rstd)
        {
            float* ax = px, aw = pw, ay = py, ar = pr;
            int len = n * c;
            RowBlocks.For(n, (lo, hi) => ForwardRows(new ReadOnlySpan<float>(ax, len), new ReadOnlySpan<float>(aw, c),
                new Span<float>(ay, len), new Span<float>(ar, n), lo, hi, c, eps, level));
        }
    }

    static void ForwardRows(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output, Span<float> rstd, int r0, int r1, int c, float eps, SimdLevel level)
    {
        ref float pw = ref MemoryMarshal.GetReference(weight);
        for (int r = r0; r < r1; r++)
        {
            var xr = x.Slice(r * c, c);
            float s = 1f / MathF.Sqrt(RowReductions.SumSquares(xr, level) / c + eps);
            rstd[r] = s;
            ref float px = ref MemoryMarshal.GetReference(xr);
            ref float py = ref MemoryMarshal.GetReference(output.Slice(r * c, c));
            int i = 0;
            if (level == SimdLevel.Vector512)
            {
                var vs = Vector512.Create(s);
                for (; i <= c - 16; i += 16)
                    (Vector512.LoadUnsafe(ref px, (nuint)i) * vs * Vector512.LoadUnsafe(ref pw, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
            }
            else if (level == SimdLevel.Vector256)
            {
                var vs = Vector256.Create(s);
                for (; i <= c - 8; i += 8)
                    (Vector256.LoadUnsafe(ref px, (nuint)i) * vs * Vector256.LoadUnsafe(ref pw, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
            }
            for (; i < c; i++) Unsafe.Add(ref py, i) = Unsafe.Add(ref px, i) * s * Unsafe.Add(ref pw, i);
        }
    }

    /// <summary>ACCUMULATES dx += ∂L/∂x (the input is the residual stream) and dWeight += Σ_rows dy·x̂. rstd is the one Forward wrote.</summary>
    public static unsafe void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> rstd,
        Span<float> dx, Span<float> dWeight, int n, int c)
    {
        const string K = "RmsNorm.Backward";
        KernelArgs.NonNegative(K, nameof(n), n);
        KernelArgs.Positive(K, nameof(c), c);
        string shape = KernelArgs.Shape("n", n, "c", c);
        KernelArgs.Length(K, nameof(dOutput), dOutput.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(x), x.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(dx), dx.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(weight), weight.Length, c, $"[c={c}]");
        KernelArgs.Length(K, nameof(dWeight), dWeight.Length, c, $"[c={c}]");
        KernelArgs.Length(K, nameof(rstd), rstd.Length, n, $"[n={n}]");
        var level = Simd.Level;

        if (!RowBlocks.ShouldSplit(n, c))
        {
            InputGradRows(dOutput, x, weight, rstd, dx, 0, n, c, level);
            WeightGradColumns(dOutput, x, rstd, dWeight, n, c, 0, c, level);
            return;
        }
        // dx by row blocks; dWeight sums over rows, so it is split by column blocks (each thread owns a slice).
        fixed (float* pdy = dOutput, px = x, pw = weight, pr = rstd, pdx = dx, pdw = dWeight)
        {
            float* ady = pdy, ax = px, aw = pw, ar = pr, adx = pdx, adw = pdw;
            int len = n * c;
            RowBlocks.For(n, (lo, hi) => InputGradRows(new ReadOnlySpan<float>(ady, len), new ReadOnlySpan<float>(ax, len),
                new ReadOnlySpan<float>(aw, c), new ReadOnlySpan<float>(ar, n), new Span<float>(adx, len), lo, hi, c, level));
            RowBlocks.ForAligned(c, 64, (lo, hi) => WeightGradColumns(new ReadOnlySpan<float>(ady, len), new ReadOnlySpan<float>(ax, len),
                new ReadOnlySpan<float>(ar, n), new Span<float>(adw, c), n, c, lo, hi, level));
        }
    }

    /// <summary>dx += s·(dy·w − x̂·mean(dy·w·x̂)) = s·dy·w + k·x with k = −s³·Σ(dy·w·x)/c.</summary>
    static void InputGradRows(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> rstd,
        Span<float> dx, int r0, int r1, int c, SimdLevel level)
    {
        ref float pw = ref MemoryMarshal.GetReference(weight);
        for (int r = r0; r < r1; r++)
        {
            ref float pdy = ref MemoryMarshal.GetReference(dOutput.Slice(r * c, c));
            ref float px = ref MemoryMarshal.GetReference(x.Slice(r * c, c));
            ref float pdx = ref MemoryMarshal.GetReference(dx.Slice(r * c, c));
            float s = rstd[r], b = 0f;
            int i = 0;
            if (level == SimdLevel.Vector512)
            {
                Vector512<float> vb0 = default, vb1 = default;
                for (; i <= c - 32; i += 32)
                {
                    vb0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pdy, (nuint)i) * Vector512.LoadUnsafe(ref pw, (nuint)i), Vector512.LoadUnsafe(ref px, (nuint)i), vb0);
                    vb1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pdy, (nuint)(i + 16)) * Vector512.LoadUnsafe(ref pw, (nuint)(i + 16)), Vector512.LoadUnsafe(ref px, (nuint)(i + 16)), vb1);
                }
                for (; i <= c - 16; i += 16)
                    vb0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pdy, (nuint)i) * Vector512.LoadUnsafe(ref pw, (nuint)i), Vector512.LoadUnsafe(ref px, (nuint)i), vb0);
                b = Vector512.Sum(vb0 + vb1);
            }
            else if (level == SimdLevel.Vector256)
            {
                Vector256<float> vb0 = default, vb1 = default;
                for (; i <= c - 16; i += 16)
                {
                    vb0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pdy, (nuint)i) * Vector256.LoadUnsafe(ref pw, (nuint)i), Vector256.LoadUnsafe(ref px, (nuint)i), vb0);
                    vb1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pdy, (nuint)(i + 8)) * Vector256.LoadUnsafe(ref pw, (nuint)(i + 8)), Vector256.LoadUnsafe(ref px, (nuint)(i + 8)), vb1);
                }
                for (; i <= c - 8; i += 8)
                    vb0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pdy, (nuint)i) * Vector256.LoadUnsafe(ref pw, (nuint)i), Vector256.LoadUnsafe(ref px, (nuint)i), vb0);
                b = Vector256.Sum(vb0 + vb1);
            }
            for (; i < c; i++) b += Unsafe.Add(ref pdy, i) * Unsafe.Add(ref pw, i) * Unsafe.Add(ref px, i);

            float k = -s * s * s * b / c;
            i = 0;
            if (level == SimdLevel.Vector512)
            {
                var vs = Vector512.Create(s);
                var vk = Vector512.Create(k);
                for (; i <= c - 16; i += 16)
                {
                    var g = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pdy, (nuint)i) * Vector512.LoadUnsafe(ref pw, (nuint)i), vs, Vector512.LoadUnsafe(ref px, (nuint)i) * vk);
                    (Vector512.LoadUnsafe(ref pdx, (nuint)i) + g).StoreUnsafe(ref pdx, (nuint)i);
                }
            }
            else if (level == SimdLevel.Vector256)
            {
                var vs = Vector256.Create(s);
                var vk = Vector256.Create(k);
                for (; i <= c - 8; i += 8)
                {
                    var g = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pdy, (nuint)i) * Vector256.LoadUnsafe(ref pw, (nuint)i), vs, Vector256.LoadUnsafe(ref px, (nuint)i) * vk);
                    (Vector256.LoadUnsafe(ref pdx, (nuint)i) + g).StoreUnsafe(ref pdx, (nuint)i);
                }
            }
            for (; i < c; i++) Unsafe.Add(ref pdx, i) += Unsafe.Add(ref pdy, i) * Unsafe.Add(ref pw, i) * s + Unsafe.Add(ref px, i) * k;
        }
    }

    /// <summary>dWeight[j] += Σ_r dy[r,j]·x[r,j]·rstd[r] for columns j in [j0, j1).</summary>
    static void WeightGradColumns(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> x, ReadOnlySpan<float> rstd, Span<float> dWeight,
        int n, int c, int j0, int j1, SimdLevel level)
    {
        ref float pdw = ref MemoryMarshal.GetReference(dWeight);
        for (int r = 0; r < n; r++)
        {
            ref float pdy = ref MemoryMarshal.GetReference(dOutput.Slice(r * c, c));
            ref float px = ref MemoryMarshal.GetReference(x.Slice(r * c, c));
            float s = rstd[r];
            int j = j0;
            if (level == SimdLevel.Vector512)
            {
                var vs = Vector512.Create(s);
                for (; j <= j1 - 16; j += 16)
                    Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pdy, (nuint)j), Vector512.LoadUnsafe(ref px, (nuint)j) * vs, Vector512.LoadUnsafe(ref pdw, (nuint)j))
                        .StoreUnsafe(ref pdw, (nuint)j);
            }
            else if (level == SimdLevel.Vector256)
            {
                var vs = Vector256.Create(s);
                for (; j <= j1 - 8; j += 8)
                    Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pdy, (nuint)j), Vector256.LoadUnsafe(ref px, (nuint)j) * vs, Vector256.LoadUnsafe(ref pdw, (nuint)j))
                        .StoreUnsafe(ref pdw, (nuint)j);
            }
            for (; j < j1; j++) Unsafe.Add(ref pdw, j) += Unsafe.Add(ref pdy, j) * Unsafe.Add(ref px, j) * s;
        }
    }
}
