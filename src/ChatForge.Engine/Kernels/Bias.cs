using System.Numerics.Tensors;

namespace ChatForge.Engine.Kernels;

/// <summary>Per-column bias on row-major [n, c] activations (after a Linear whose GEMM has no bias term).</summary>
public static class Bias
{
    /// <summary>x[r, j] += bias[j] in place.</summary>
    public static unsafe void Forward(Span<float> x, ReadOnlySpan<float> bias, int n, int c)
    {
        const string K = "Bias.Forward";
        KernelArgs.NonNegative(K, nameof(n), n);
        KernelArgs.Positive(K, nameof(c), c);
        KernelArgs.Length(K, nameof(x), x.Length, (long)n * c, KernelArgs.Shape("n", n, "c", c));
        KernelArgs.Length(K, nameof(bias), bias.Length, c, $"[c={c}]");
        if (!RowBlocks.ShouldSplit(n, c))
        {
            ForwardRows(x, bias, c, 0, n);
            return;
        }
        fixed (float* px = x, pb = bias)
        {
            float* ax = px, ab = pb;
            RowBlocks.For(n, (lo, hi) => ForwardRows(new Span<float>(ax, n * c), new ReadOnlySpan<float>(ab, c), c, lo, hi));
        }
    }

    static void ForwardRows(Span<float> x, ReadOnlySpan<float> bias, int c, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            var row = x.Slice(r * c, c);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>dBias[j] += Σ_r dOutput[r, j] (ACCUMULATES; the input gradient of a bias add is dOutput itself).</summary>
    public static unsafe void Backward(ReadOnlySpan<float> dOutput, Span<float> dBias, int n, int c)
    {
        const string K = "Bias.Backward";
        KernelArgs.NonNegative(K, nameof(n), n);
        KernelArgs.Positive(K, nameof(c), c);
        KernelArgs.Length(K, nameof(dOutput), dOutput.Length, (long)n * c, KernelArgs.Shape("n", n, "c", c));
        KernelArgs.Length(K, nameof(dBias), dBias.Length, c, $"[c={c}]");
        // Column sums: threads own column blocks, so there is nothing to merge.
        if (!RowBlocks.ShouldSplit(n, c) || c < 128)
        {
            BackwardColumns(dOutput, dBias, n, c, 0, c);
            return;
        }
        fixed (float* pdy = dOutput, pdb = dBias)
        {
            float* ady = pdy, adb = pdb;
            RowBlocks.ForAligned(c, 64, (lo, hi) => BackwardColumns(new ReadOnlySpan<float>(ady, n * c), new Span<float>(adb, c), n, c, lo, hi));
        }
    }

    static void BackwardColumns(ReadOnlySpan<float> dOutput, Span<float> dBias, int n, int c, int j0, int j1)
    {
        var acc = dBias.Slice(j0, j1 - j0);
        for (int r = 0; r < n; r++) TensorPrimitives.Add(acc, dOutput.Slice(r * c + j0, j1 - j0), acc);
    }
}
