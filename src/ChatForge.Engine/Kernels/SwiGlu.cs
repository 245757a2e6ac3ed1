using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ChatForge.Engine.Kernels;

/// <summary>
/// SwiGLU gate (Llama MLP): each input row is [gate (ff) | up (ff)] — the fused up projection's output — and
/// output = silu(gate)·up with silu(g) = g·σ(g) = g / (1 + e^(−g)), which saturates to −0 for very negative g.
/// </summary>
public static class SwiGlu
{
    /// <summary>output [n, ff] = silu(gate)·up from gateUp [n, 2·ff].</summary>
    public static unsafe void Forward(ReadOnlySpan<float> gateUp, Span<float> output, int n, int ff)
    {
        const string K = "SwiGlu.Forward";
        KernelArgs.NonNegative(K, nameof(n), n);
        KernelArgs.Positive(K, nameof(ff), ff);
        KernelArgs.Length(K, nameof(gateUp), gateUp.Length, 2L * n * ff, KernelArgs.Shape("n", n, "2·ff", 2L * ff));
        KernelArgs.Length(K, nameof(output), output.Length, (long)n * ff, KernelArgs.Shape("n", n, "ff", ff));
        var level = Simd.Level;
        if (!RowBlocks.ShouldSplit(n, 4L * ff))
        {
            ForwardRows(gateUp, output, ff, level, 0, n);
            return;
        }
        fixed (float* pgu = gateUp, py = output)
        {
            float* agu = pgu, ay = py;
            RowBlocks.For(n, (lo, hi) => ForwardRows(new ReadOnlySpan<float>(agu, 2 * n * ff), new Span<float>(ay, n * ff), ff, level, lo, hi));
        }
    }

    static void ForwardRows(ReadOnlySpan<float> gateUp, Span<float> output, int ff, SimdLevel level, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            ref float pg = ref MemoryMarshal.GetReference(gateUp.Slice(2 * r * ff, 2 * ff));
            ref float pu = ref Unsafe.Add(ref pg, ff);
            ref float py = ref MemoryMarshal.GetReference(output.Slice(r * ff, ff));
            int i = 0;
            if (level == SimdLevel.Vector512)
            {
                var one = Vector512<float>.One;
                for (; i <= ff - 16; i += 16)
                {
                    var g = Vector512.LoadUnsafe(ref pg, (nuint)i);
                    (g * Vector512.LoadUnsafe(ref pu, (nuint)i) / (one + Vector512.Exp(-g))).StoreUnsafe(ref py, (nuint)i);
                }
            }
            else if (level == SimdLevel.Vector256)
            {
                var one = Vector256<float>.One;
                for (; i <= ff - 8; i += 8)
                {
                    var g = Vector256.LoadUnsafe(ref pg, (nuint)i);
                    (g * Vector256.LoadUnsafe(ref pu, (nuint)i) / (one + Vector256.Exp(-g))).StoreUnsafe(ref py, (nuint)i);
                }
            }
            for (; i < ff; i++)
            {
                float g = Unsafe.Add(ref pg, i);
                Unsafe.Add(ref py, i) = g * Unsafe.Add(ref pu, i) / (1f + MathF.Exp(-g));
            }
        }
    }

    /// <summary>
    /// WRITES dGateUp [n, 2·ff] (it feeds the up projection's backward GEMM):
    /// dgate = dy·up·σ(g)·(1 + g·(1 − σ(g))), dup = dy·silu(g).
    /// </summary>
    public static unsafe void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> gateUp, Span<float> dGateUp, int n, int ff)
    {
        const string K = "SwiGlu.Backward";
        KernelArgs.NonNegative(K, nameof(n), n);
        KernelArgs.Positive(K, nameof(ff), ff);
        KernelArgs.Length(K, nameof(dOutput), dOutput.Length, (long)n * ff, KernelArgs.Shape("n", n, "ff", ff));
        KernelArgs.Length(K, nameof(gateUp), gateUp.Length, 2L * n * ff, KernelArgs.Shape("n", n, "2·ff", 2L * ff));
        KernelArgs.Length(K, nameof(dGateUp), dGateUp.Length, 2L * n * ff, KernelArgs.Shape("n", n, "2·ff", 2L * ff));
        var level = Simd.Level;
        if (!RowBlocks.ShouldSplit(n, 4L * ff))
        {
            BackwardRows(dOutput, gateUp, dGateUp, ff, level, 0, n);
            return;
        }
        fixed (float* pdy = dOutput, pgu = gateUp, pdgu = dGateUp)
        {
            float* ady = pdy, agu = pgu, adgu = pdgu;
            RowBlocks.For(n, (lo, hi) => BackwardRows(new ReadOnlySpan<float>(ady, n * ff), new ReadOnlySpan<float>(agu, 2 * n * ff),
                new Span<float>(adgu, 2 * n * ff), ff, level, lo, hi));
        }
    }

    static void BackwardRows(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> gateUp, Span<float> dGateUp, int ff, SimdLevel level, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            ref float pdy = ref MemoryMarshal.GetReference(dOutput.Slice(r * ff, ff));
            ref float pg = ref MemoryMarshal.GetReference(gateUp.Slice(2 * r * ff, 2 * ff));
            ref float pu = ref Unsafe.Add(ref pg, ff);
            ref float pdg = ref MemoryMarshal.GetReference(dGateUp.Slice(2 * r * ff, 2 * ff));
            ref float pdu = ref Unsafe.Add(ref pdg, ff);
            int i = 0;
            if (level == SimdLevel.Vector512)
            {
                var one = Vector512<float>.One;
                for (; i <= ff - 16; i += 16)
                {
                    var g = Vector512.LoadUnsafe(ref pg, (nuint)i);
                    var u = Vector512.LoadUnsafe(ref pu, (nuint)i);
                    var dy = Vector512.LoadUnsafe(ref pdy, (nuint)i);
                    var s = one / (one + Vector512.Exp(-g));
                    var silu = g * s;
                    (dy * u * Vector512.FusedMultiplyAdd(silu, one - s, s)).StoreUnsafe(ref pdg, (nuint)i);
                    (dy * silu).StoreUnsafe(ref pdu, (nuint)i);
                }
            }
            else if (level == SimdLevel.Vector256)
            {
                var one = Vector256<float>.One;
                for (; i <= ff - 8; i += 8)
                {
                    var g = Vector256.LoadUnsafe(ref pg, (nuint)i);
                    var u = Vector256.LoadUnsafe(ref pu, (nuint)i);
                    var dy = Vector256.LoadUnsafe(ref pdy, (nuint)i);
                    var s = one / (one + Vector256.Exp(-g));
                    var silu = g * s;
                    (dy * u * Vector256.FusedMultiplyAdd(silu, one - s, s)).StoreUnsafe(ref pdg, (nuint)i);
                    (dy * silu).StoreUnsafe(ref pdu, (nuint)i);
                }
            }
            for (; i < ff; i++)
            {
                float g = Unsafe.Add(ref pg, i), u = Unsafe.Add(ref pu, i), dy = Unsafe.Add(ref pdy, i);
                float s = 1f / (1f + MathF.Exp(-g)), silu = g * s;
                Unsafe.Add(ref pdg, i) = dy * u * (s + silu * (1f - s));
                Unsafe.Add(ref pdu, i) = dy * silu;
            }
        }
    }
}
