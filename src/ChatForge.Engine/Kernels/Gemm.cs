namespace ChatForge.Engine.Kernels;

/// <summary>
/// Single-precision matrix multiply, row-major: C[m×n] = (accumulate ? C : 0) + op(A)·op(B).
/// A is stored [m×k] (or [k×m] when transA), B is stored [k×n] (or [n×k] when transB).
/// </summary>
public static class Gemm
{
    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transA = false, bool transB = false, bool accumulate = false)
    {
        CheckShapes(a.Length, b.Length, c.Length, m, n, k, transA, transB, "MatMul");
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = accumulate ? c[i * n + j] + sum : sum;
            }
        }
    }

    /// <summary>y[m×n] = (accumulate ? y : 0) + x[m×k]·Wᵀ with W [n×k] stored as bf16.</summary>
    public static void MatMulBf16(ReadOnlySpan<float> x, ReadOnlySpan<ushort> w, Span<float> y, int m, int n, int k, bool accumulate = false)
    {
        CheckShapes(x.Length, w.Length, y.Length, m, n, k, transA: false, transB: true, "MatMulBf16");
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++) sum += x[i * k + p] * Bf16.ToFloat(w[j * k + p]);
                y[i * n + j] = accumulate ? y[i * n + j] + sum : sum;
            }
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
