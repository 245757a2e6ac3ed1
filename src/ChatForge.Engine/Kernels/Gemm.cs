namespace ChatForge.Engine.Kernels;

/// <summary>
/// Single-precision matrix multiply, row-major: C[m×n] = (accumulate ? C : 0) + op(A)·op(B).
/// A is stored [m×k] (or [k×m] when transA), B is stored [k×n] (or [n×k] when transB).
/// Few rows (m ≤ <see cref="SmallM"/>, the decode case) go through a GEMV-like loop without packing
/// (<see cref="GemmSmall"/>); everything else through the packed, cache-blocked driver in <see cref="GemmPacked"/>.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>Up to this many rows the unpacked GEMV-like path wins: packing costs more than it saves.</summary>
    internal const int SmallM = 8;

    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transA = false, bool transB = false, bool accumulate = false)
    {
        MatMul(a, b, c, m, n, k, transA, transB, accumulate, Simd.Level);
    }

    /// <summary>As the public overload on an explicit path; tests use it to run the Vector512 code on CPUs that only emulate it.</summary>
    internal static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transA, bool transB, bool accumulate, SimdLevel level)
    {
        CheckShapes(a.Length, b.Length, c.Length, m, n, k, transA, transB, "MatMul");
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) c[..(m * n)].Clear();
            return;
        }
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (m <= SmallM) GemmSmall.MatMul(pa, pb, pc, m, n, k, transA, transB, accumulate, level);
            else GemmPacked.Run(pa, pb, null, 0, pc, m, n, k, transA, transB, accumulate, level);
        }
    }

    /// <summary>y[m×n] = (accumulate ? y : 0) + x[m×k]·Wᵀ with W [n×k] held as bf16 panels (inference with bf16 weights).</summary>
    public static void MatMulBf16(ReadOnlySpan<float> x, Bf16Matrix w, Span<float> y, int m, bool accumulate = false)
    {
        MatMulBf16(x, w, y, m, accumulate, Simd.Level);
    }

    internal static void MatMulBf16(ReadOnlySpan<float> x, Bf16Matrix w, Span<float> y, int m, bool accumulate, SimdLevel level)
    {
        int n = w.Rows, k = w.Cols;
        CheckShapes(x.Length, n * k, y.Length, m, n, k, transA: false, transB: true, "MatMulBf16");
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) y[..(m * n)].Clear();
            return;
        }
        fixed (float* px = x, py = y)
        fixed (ushort* pw = w.Data)
        {
            if (m <= SmallM) GemvBf16.Run(px, w, py, m, accumulate, level);
            else GemmPacked.Run(px, null, pw, w.PanelStride, py, m, n, k, transA: false, transB: true, accumulate, level);
        }
    }

    /// <summary>Throws ArgumentException naming the stored shapes of A, B and C when a dimension or span does not fit.</summary>
    internal static void CheckShapes(int aLength, int bLength, int cLength, int m, int n, int k, bool transA, bool transB, string op)
    {
        string aShape = transA ? $"[{k}×{m}]" : $"[{m}×{k}]";
        string bShape = transB ? $"[{n}×{k}]" : $"[{k}×{n}]";
        string shapes = $"A {aShape}{(transA ? " (transposed)" : "")} · B {bShape}{(transB ? " (transposed)" : "")} → C [{m}×{n}]";
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"Gemm.{op}: dimensions must be non-negative (m={m}, n={n}, k={k}): {shapes}.");
        if ((long)m * k > aLength)
            throw new ArgumentException($"Gemm.{op}: A holds {aLength} values but must be {aShape} = {(long)m * k} for m={m}, k={k}: {shapes}.", "a");
        if ((long)k * n > bLength)
            throw new ArgumentException($"Gemm.{op}: B holds {bLength} values but must be {bShape} = {(long)k * n} for k={k}, n={n}: {shapes}.", "b");
        if ((long)m * n > cLength)
            throw new ArgumentException($"Gemm.{op}: C holds {cLength} values but must be [{m}×{n}] = {(long)m * n} for m={m}, n={n}: {shapes}.", "c");
    }
}
