using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// LayerNorm over the last dimension of row-major [n, c] activations (GPT-2):
/// y = (x − mean)·rstd·weight + bias, rstd = 1/√(var + eps), biased variance.
/// Statistics are two-pass in float (mean first, then Σ(x − mean)²), so rows with a large offset keep their variance.
/// </summary>
public static class LayerNorm
{
    /// <summary>Writes output [n, c] and the per-row mean [n] and rstd [n] that Backward needs. Bias may be empty (no bias).</summary>
    public static unsafe void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output,
        Span<float> mean, Span<float> rstd, int n, int c, float eps)
    {
        const string K = "LayerNorm.Forward";
        KernelArgs.NonNegative(K, nameof(n), n);
        KernelArgs.Positive(K, nameof(c), c);
        string shape = KernelArgs.Shape("n", n, "c", c);
        KernelArgs.Length(K, nameof(x), x.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(output), output.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(weight), weight.Length, c, $"[c={c}]");
        KernelArgs.LengthOrEmpty(K, nameof(bias), bias.Length, c, $"[c={c}]");
        KernelArgs.Length(K, nameof(mean), mean.Length, n, $"[n={n}]");
        KernelArgs.Length(K, nameof(rstd), rstd.Length, n, $"[n={n}]");
        if (!(eps > 0)) throw new ArgumentException($"{K}: eps must be positive, got {eps}.", nameof(eps));
        var level = Simd.Level;

        if (!RowBlocks.ShouldSplit(n, c))
        {
            ForwardRows(x, weight, bias, output, mean, rstd, 0, n, c, eps, level);
            return;
        }
        fixed (float* px = x, pw = weight, pb = bias, py = output, pm = mean, pr = rstd)
        {
            float* ax = px, aw = pw, ab = pb, ay = py, am = pm, ar = pr;
            int len = n * c, blen = bias.Length;
            RowBlocks.For(n, (lo, hi) => ForwardRows(new ReadOnlySpan<float>(ax, len), new ReadOnlySpan<float>(aw, c),
                new ReadOnlySpan<float>(ab, blen), new Span<float>(ay, len), new Span<float>(am, n), new Span<float>(ar, n), lo, hi, c, eps, level));
        }
    }

    static void ForwardRows(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output,
        Span<float> mean, Span<float> rstd, int r0, int r1, int c, float eps, SimdLevel level)
    {
        for (int r = r0; r < r1; r++)
        {
            var xr = x.Slice(r * c, c);
            float m = RowReductions.Sum(xr, level) / c;
            float variance = RowReductions.SumSquaredDeviation(xr, m, level) / c;
            float s = 1f / MathF.Sqrt(variance + eps);
            Normalize(xr, weight, bias, output.Slice(r * c, c), m, s, level);
            mean[r] = m;
            rstd[r] = s;
        }
    }

    /// <summary>y = (x − m)·s·w + b for one row.</summary>
    static void Normalize(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y, float m, float s, SimdLevel level)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float pw = ref MemoryMarshal.GetReference(w);
        ref float pb = ref MemoryMarshal.GetReference(b);
        ref float py = ref MemoryMarshal.GetReference(y);
        bool hasBias = !b.IsEmpty;
        int c = x.Length, i = 0;
        if (level == SimdLevel.Vector512)
        {
            var vm = Vector512.Create(m);
            var vs = Vector512.Create(s);
            for (; i <= c - 16; i += 16)
            {
                var xhat = (Vector512.LoadUnsafe(ref px, (nuint)i) - vm) * vs;
                var vb = hasBias ? Vector512.LoadUnsafe(ref pb, (nuint)i) : Vector512<float>.Zero;
                Vector512.FusedMultiplyAdd(xhat, Vector512.LoadUnsafe(ref pw, (nuint)i), vb).StoreUnsafe(ref py, (nuint)i);
            }
        }
        else if (level == SimdLevel.Vector256)
        {
            var vm = Vector256.Create(m);
            var vs = Vector256.Create(s);
            for (; i <= c - 8; i += 8)
            {
                var xhat = (Vector256.LoadUnsafe(ref px, (nuint)i) - vm) * vs;
                var vb = hasBias ? Vector256.LoadUnsafe(ref pb, (nuint)i) : Vector256<float>.Zero;
                Vector256.FusedMultiplyAdd(xhat, Vector256.LoadUnsafe(ref pw, (nuint)i), vb).StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < c; i++)
            Unsafe.Add(ref py, i) = (Unsafe.Add(ref px, i) - m) * s * Unsafe.Add(ref pw, i) + (hasBias ? Unsafe.Add(ref pb, i) : 0f);
    }

    /// <summary>
    /// ACCUMULATES dx += ∂L/∂x (the input is the residual stream), dWeight += Σ_rows dy·x̂ and dBias += Σ_rows dy.
    /// dBias may be empty (no bias). mean and rstd are the ones Forward wrote.
    /// </summary>
    public static unsafe void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, Span<float> dWeight, Span<float> dBias, int n, int c)
    {
        const string K = "LayerNorm.Backward";
        KernelArgs.NonNegative(K, nameof(n), n);
        KernelArgs.Positive(K, nameof(c), c);
        string shape = KernelArgs.Shape("n", n, "c", c);
        KernelArgs.Length(K, nameof(dOutput), dOutput.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(x), x.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(dx), dx.Length, (long)n * c, shape);
        KernelArgs.Length(K, nameof(weight), weight.Length, c, $"[c={c}]");
        KernelArgs.Length(K, nameof(dWeight), dWeight.Length, c, $"[c={c}]");
        KernelArgs.LengthOrEmpty(K, nameof(dBias), dBias.Length, c, $"[c={c}]");
        KernelArgs.Length(K, nameof(mean), mean.Length, n, $"[n={n}]");
        KernelArgs.Length(K, nameof(rstd), rstd.Length, n, $"[n={n}]");
        var level = Simd.Level;

        if (!RowBlocks.ShouldSplit(n, c))
        {
            InputGradRows(dOutput, x, weight, mean, rstd, dx, 0, n, c, level);
            ParamGradColumns(dOutput, x, mean, rstd, dWeight, dBias, n, c, 0, c, level);
            return;
        }
        // Rows in parallel for dx; the parameter gradients sum over rows, so they are split by column blocks
        // instead: each thread owns its slice of dWeight/dBias, no scratch buffers and no races.
        fixed (float* pdy = dOutput, px = x, pw = weight, pm = mean, pr = rstd, pdx = dx, pdw = dWeight, pdb = dBias)
        {
            float* ady = pdy, ax = px, aw = pw, am = pm, ar = pr, adx = pdx, adw = pdw, adb = pdb;
            int len = n * c, blen = dBias.Length;
            RowBlocks.For(n, (lo, hi) => InputGradRows(new ReadOnlySpan<float>(ady, len), new ReadOnlySpan<float>(ax, len),
                new ReadOnlySpan<float>(aw, c), new ReadOnlySpan<float>(am, n), new ReadOnlySpan<float>(ar, n), new Span<float>(adx, len), lo, hi, c, level));
            RowBlocks.ForAligned(c, 64, (lo, hi) => ParamGradColumns(new ReadOnlySpan<float>(ady, len), new ReadOnlySpan<float>(ax, len),
                new ReadOnlySpan<float>(am, n), new ReadOnlySpan<float>(ar, n), new Span<float>(adw, c), new Span<float>(adb, blen), n, c, lo, hi, level));
        }
    }

    /// <summary>dx += s·(dy·w − mean(dy·w) − x̂·mean(dy·w·x̂)), written as dx += s·dy·w + kB·(x − m) + kA.</summary>
    static void InputGradRows(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> x, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, Span<float> dx, int r0, int r1, int c, SimdLevel level)
    {
        ref float pw = ref MemoryMarshal.GetReference(weight);
        for (int r = r0; r < r1; r++)
        {
            ref float pdy = ref MemoryMarshal.GetReference(dOutput.Slice(r * c, c));
            ref float px = ref MemoryMarshal.GetReference(x.Slice(r * c, c));
            ref float pdx = ref MemoryMarshal.GetReference(dx.Slice(r * c, c));
            float m = mean[r], s = rstd[r];
            // a = Σ dy·w, b = Σ dy·w·(x − m)
            float a = 0f, b = 0f;
            int i = 0;
            if (level == SimdLevel.Vector512)
            {
                var vm = Vector512.Create(m);
                Vector512<float> va = default, vb = default;
                for (; i <= c - 16; i += 16)
                {
                    var t = Vector512.LoadUnsafe(ref pdy, (nuint)i) * Vector512.LoadUnsafe(ref pw, (nuint)i);
                    va += t;
                    vb = Vector512.FusedMultiplyAdd(t, Vector512.LoadUnsafe(ref px, (nuint)i) - vm, vb);
                }
                a = Vector512.Sum(va);
                b = Vector512.Sum(vb);
            }
            else if (level == SimdLevel.Vector256)
            {
                var vm = Vector256.Create(m);
                Vector256<float> va = default, vb = default;
                for (; i <= c - 8; i += 8)
                {
                    var t = Vector256.LoadUnsafe(ref pdy, (nuint)i) * Vector256.LoadUnsafe(ref pw, (nuint)i);
                    va += t;
                    vb = Vector256.FusedMultiplyAdd(t, Vector256.LoadUnsafe(ref px, (nuint)i) - vm, vb);
                }
                a = Vector256.Sum(va);
                b = Vector256.Sum(vb);
            }
            for (; i < c; i++)
            {
                float t = Unsafe.Add(ref pdy, i) * Unsafe.Add(ref pw, i);
                a += t;
                b += t * (Unsafe.Add(ref px, i) - m);
            }

            float kA = -s * a / c, kB = -s * s * s * b / c;
            i = 0;
            if (level == SimdLevel.Vector512)
            {
                var vm = Vector512.Create(m);
                var vs = Vector512.Create(s);
                var vkA = Vector512.Create(kA);
                var vkB = Vector512.Create(kB);
                for (; i <= c - 16; i += 16)
                {
                    var t = Vector512.LoadUnsafe(ref pdy, (nuint)i) * Vector512.LoadUnsafe(ref pw, (nuint)i);
                    var g = Vector512.FusedMultiplyAdd(t, vs, Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref px, (nuint)i) - vm, vkB, vkA));
                    (Vector512.LoadUnsafe(ref pdx, (nuint)i) + g).StoreUnsafe(ref pdx, (nuint)i);
                }
            }
            else if (level == SimdLevel.Vector256)
            {
                var vm = Vector256.Create(m);
                var vs = Vector256.Create(s);
                var vkA = Vector256.Create(kA);
                var vkB = Vector256.Create(kB);
                for (; i <= c - 8; i += 8)
                {
                    var t = Vector256.LoadUnsafe(ref pdy, (nuint)i) * Vector256.LoadUnsafe(ref pw, (nuint)i);
                    var g = Vector256.FusedMultiplyAdd(t, vs, Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)i) - vm, vkB, vkA));
                    (Vector256.LoadUnsafe(ref pdx, (nuint)i) + g).StoreUnsafe(ref pdx, (nuint)i);
                }
            }
            for (; i < c; i++)
                Unsafe.Add(ref pdx, i) += Unsafe.Add(ref pdy, i) * Unsafe.Add(ref pw, i) * s + (Unsafe.Add(ref px, i) - m) * kB + kA;
        }
    }

    /// <summary>dWeight[j] += Σ_r dy[r,j]·x̂[r,j] and dBias[j] += Σ_r dy[r,j] for columns j in [j0, j1).</summary>
    static void ParamGradColumns(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd,
        Span<float> dWeight, Span<float> dBias, int n, int c, int j0, int j1, SimdLevel level)
    {
        ref float pdw = ref MemoryMarshal.GetReference(dWeight);
        ref float pdb = ref MemoryMarshal.GetReference(dBias);
        bool hasBias = !dBias.IsEmpty;
        for (int r = 0; r < n; r++)
        {
            ref float pdy = ref MemoryMarshal.GetReference(dOutput.Slice(r * c, c));
            ref float px = ref MemoryMarshal.GetReference(x.Slice(r * c, c));
            float m = mean[r], s = rstd[r];
            int j = j0;
            if (level == SimdLevel.Vector512)
            {
                var vm = Vector512.Create(m);
                var vs = Vector512.Create(s);
                for (; j <= j1 - 16; j += 16)
                {
                    var dy = Vector512.LoadUnsafe(ref pdy, (nuint)j);
                    var xhat = (Vector512.LoadUnsafe(ref px, (nuint)j) - vm) * vs;
                    Vector512.FusedMultiplyAdd(dy, xhat, Vector512.LoadUnsafe(ref pdw, (nuint)j)).StoreUnsafe(ref pdw, (nuint)j);
                    if (hasBias) (Vector512.LoadUnsafe(ref pdb, (nuint)j) + dy).StoreUnsafe(ref pdb, (nuint)j);
                }
            }
            else if (level == SimdLevel.Vector256)
            {
                var vm = Vector256.Create(m);
                var vs = Vector256.Create(s);
                for (; j <= j1 - 8; j += 8)
                {
                    var dy = Vector256.LoadUnsafe(ref pdy, (nuint)j);
                    var xhat = (Vector256.LoadUnsafe(ref px, (nuint)j) - vm) * vs;
                    Vector256.FusedMultiplyAdd(dy, xhat, Vector256.LoadUnsafe(ref pdw, (nuint)j)).StoreUnsafe(ref pdw, (nuint)j);
                    if (hasBias) (Vector256.LoadUnsafe(ref pdb, (nuint)j) + dy).StoreUnsafe(ref pdb, (nuint)j);
                }
            }
            for (; j < j1; j++)
            {
                float dy = Unsafe.Add(ref pdy, j);
                Unsafe.Add(ref pdw, j) += dy * (Unsafe.Add(ref px, j) - m) * s;
                if (hasBias) Unsafe.Add(ref pdb, j) += dy;
            }
        }
    }
}
