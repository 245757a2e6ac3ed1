using System.Runtime.Intrinsics;
using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Tests.Kernels;

[Collection("Simd")]
public class GemmTests
{
    // Odd sizes on purpose: none is a multiple of the 6×16 / 12×32 / 4×4 tiles, 300 > KC (two k slices), 4100 > NC.
    public static readonly (int M, int N, int K)[] Shapes =
    [
        (9, 1, 1), (9, 17, 7), (17, 33, 1), (33, 7, 17), (130, 33, 65), (25, 130, 300), (144, 20, 33), (150, 49, 20), (13, 4100, 3),
    ];

    // The decode case: the unpacked GEMV-like path (m ≤ Gemm.SmallM).
    public static readonly (int M, int N, int K)[] SmallShapes =
    [
        (1, 1, 1), (1, 512, 512), (1, 67, 45), (2, 130, 33), (3, 7, 300), (5, 200, 17), (8, 129, 64),
    ];

    [Fact]
    public void MatMul_matches_float64_reference_for_every_transpose_level_and_thread_count()
    {
        var rng = new Random(1);
        foreach (var level in Simd.Supported())
        using (Simd.Force(level))
        foreach (int threads in new[] { 1, 2 })
        using (ForceThreads(threads))
        foreach (var (m, n, k) in Shapes.Concat(SmallShapes))
        foreach (bool transA in new[] { false, true })
        foreach (bool transB in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
            CheckMatMul(rng, m, n, k, transA, transB, accumulate, level, $"{level} threads={threads}");
    }

    [Fact]
    public void MatMul_Vector512_path_is_correct_even_where_it_is_emulated()
    {
        // Vector512 code runs (slowly, in software) where AVX-512 is absent, so its tiles and edge handling are covered everywhere.
        var rng = new Random(2);
        foreach (var (m, n, k) in new[] { (1, 67, 45), (3, 40, 33), (13, 70, 17), (30, 33, 260) })
        foreach (bool transA in new[] { false, true })
        foreach (bool transB in new[] { false, true })
            CheckMatMul(rng, m, n, k, transA, transB, accumulate: transA, SimdLevel.Vector512, "Vector512 (direct)");
    }

    [Fact]
    public void MatMulBf16_matches_float64_reference_with_bf16_weights()
    {
        var rng = new Random(3);
        var levels = Simd.Supported().ToList();
        foreach (var level in levels)
        using (Simd.Force(level))
        foreach (int threads in new[] { 1, 2 })
        using (ForceThreads(threads))
        foreach (var (m, n, k) in new[] { (1, 512, 512), (1, 33, 7), (2, 70, 47), (3, 16, 2), (4, 9, 100), (5, 40, 33), (6, 17, 64),
                     (7, 100, 1), (8, 257, 64), (8, 1024, 129), (8, 40, 1101), (3, 20, 1025), (1, 20, 1025), (9, 33, 31),
                     (40, 130, 300), (20, 40, 1101) })
        foreach (bool accumulate in new[] { false, true })
            CheckBf16(rng, m, n, k, accumulate, level, $"{level} threads={threads}");
        if (!levels.Contains(SimdLevel.Vector512))
            foreach (var (m, n, k) in new[] { (1, 33, 70), (3, 9, 64), (7, 20, 33), (7, 70, 33), (13, 40, 33) })
                CheckBf16(rng, m, n, k, accumulate: true, SimdLevel.Vector512, "Vector512 (direct)");
    }

    [Fact]
    public void MatMulBf16_eight_row_kernel_gives_the_same_floats_whichever_panel_it_pairs_with()
    {
        // Five to eight rows on AVX-512 take two panels at once; a 16-row weight has only one, paired with itself. Its
        // outputs must be the same floats as where it is paired with the next panel, for a blocked k too.
        var rng = new Random(6);
        foreach (int k in new[] { 65, 1101 })
        foreach (int m in new[] { 5, 8 })
        {
            var x = Fill(rng, m * k);
            var weights = Fill(rng, 64 * k);
            var wide = new float[m * 64];
            var narrow = new float[m * 16];
            Gemm.MatMulBf16(x, Bf16Matrix.FromFloat(weights, 64, k), wide, m, false, SimdLevel.Vector512);
            Gemm.MatMulBf16(x, Bf16Matrix.FromFloat(weights[..(16 * k)], 16, k), narrow, m, false, SimdLevel.Vector512);
            for (int i = 0; i < m; i++)
                Assert.Equal(narrow.AsSpan(i * 16, 16).ToArray(), wide.AsSpan(i * 64, 16).ToArray());
        }
    }

    [Fact]
    public void MatMul_with_k_zero_writes_zeros_or_keeps_C()
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        Gemm.MatMul([], [], c, 2, 3, 0, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, c);
        Gemm.MatMul([], [], c, 2, 3, 0);
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void MatMul_does_not_write_past_m_by_n()
    {
        var a = Fill(new Random(4), 20 * 5);
        var b = Fill(new Random(5), 5 * 7);
        var c = new float[20 * 7 + 9];
        c.AsSpan(20 * 7).Fill(42f);
        Gemm.MatMul(a, b, c, 20, 7, 5);
        Assert.All(c[(20 * 7)..], v => Assert.Equal(42f, v));
    }

    [Theory]
    [InlineData(64, 32, 33, false, false, 64 * 32, 33 * 32, 64 * 32, "A holds 2048 values but must be [64×33]")]
    [InlineData(64, 32, 33, true, false, 64 * 33, 33 * 31, 64 * 32, "B holds 1023 values but must be [33×32]")]
    [InlineData(64, 32, 33, false, true, 64 * 33, 32 * 33, 64 * 31, "C holds 1984 values but must be [64×32]")]
    [InlineData(4, 5, 6, true, true, 23, 30, 20, "A holds 23 values but must be [6×4]")]
    public void MatMul_rejects_short_spans_naming_the_shapes(int m, int n, int k, bool transA, bool transB, int aLen, int bLen, int cLen, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.MatMul(new float[aLen], new float[bLen], new float[cLen], m, n, k, transA, transB));
        Assert.Contains(expected, ex.Message);
        // Both operand shapes appear, so the caller sees which side is wrong.
        Assert.Contains(transA ? $"A [{k}×{m}]" : $"A [{m}×{k}]", ex.Message);
        Assert.Contains(transB ? $"B [{n}×{k}]" : $"B [{k}×{n}]", ex.Message);
    }

    [Fact]
    public void MatMul_and_MatMulBf16_reject_negative_dimensions_and_short_weights()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.MatMul(new float[4], new float[4], new float[4], 2, -2, 2));
        Assert.Contains("n=-2", ex.Message);
        var w = Bf16Matrix.FromFloat(new float[512 * 512], 512, 512);
        ex = Assert.Throws<ArgumentException>(() => Gemm.MatMulBf16(new float[511], w, new float[512], 1));
        Assert.Contains("A holds 511 values but must be [1×512]", ex.Message);
        Assert.Contains("B [512×512] (transposed)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Bf16Matrix.FromFloat(new float[512 * 511], 512, 512));
        Assert.Contains("[512×512]", ex.Message);
    }

    [Fact]
    public void Bf16Matrix_holds_each_weight_rounded_to_bf16_and_zero_padding()
    {
        var rng = new Random(11);
        foreach (var (n, k) in new[] { (1, 1), (16, 2), (17, 33), (40, 7) })
        {
            var weights = Fill(rng, n * k);
            var w = Bf16Matrix.FromFloat(weights, n, k);
            Assert.Equal((n + 15) / 16, w.Panels);
            Assert.Equal(w.Panels * ((k + 1) / 2) * 32 * 2L, w.Bytes);
            for (int j = 0; j < n; j++)
                for (int p = 0; p < k; p++)
                    Assert.Equal(Bf16.ToFloat(Bf16.FromFloat(weights[j * k + p])), w[j, p]);
            Assert.Throws<ArgumentOutOfRangeException>(() => w[n, 0]);
            Assert.Throws<ArgumentOutOfRangeException>(() => w[0, k]);
        }
    }

    [Fact]
    public void MatMulBf16_with_odd_k_never_reads_past_the_row()
    {
        // The last input pair of an odd k has no odd input: a kernel that multiplied x[k] (the next row's first
        // value, here NaN) by its zero padding weight would turn the whole row into NaN.
        var rng = new Random(12);
        foreach (var level in Simd.Supported())
        using (Simd.Force(level))
        foreach (int m in new[] { 1, 3, 8 })
        {
            const int n = 20, k = 33;
            var x = Fill(rng, m * k + 1);
            x[m * k] = float.NaN;
            var w = Bf16Matrix.FromFloat(Fill(rng, n * k), n, k);
            var y = new float[m * n];
            Gemm.MatMulBf16(x, w, y, m, accumulate: false, level);
            Assert.All(y, v => Assert.True(float.IsFinite(v), $"{level} m={m}: {v}"));
        }
    }

    static void CheckMatMul(Random rng, int m, int n, int k, bool transA, bool transB, bool accumulate, SimdLevel level, string context)
    {
        var a = Fill(rng, m * k);
        var b = Fill(rng, k * n);
        var c = Fill(rng, m * n);
        var c0 = (float[])c.Clone();
        Gemm.MatMul(a, b, c, m, n, k, transA, transB, accumulate, level);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0, magnitude = 0;
            for (int p = 0; p < k; p++)
            {
                double term = (double)(transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                sum += term;
                magnitude += Math.Abs(term);
            }
            if (accumulate) { sum += c0[i * n + j]; magnitude += Math.Abs(c0[i * n + j]); }
            AssertClose(sum, c[i * n + j], magnitude, k, $"{context} [{m}×{k}]·[{k}×{n}] transA={transA} transB={transB} acc={accumulate} at ({i},{j})");
        }
    }

    static void CheckBf16(Random rng, int m, int n, int k, bool accumulate, SimdLevel level, string context)
    {
        var x = Fill(rng, m * k);
        var w = Bf16Matrix.FromFloat(Fill(rng, n * k), n, k);
        var y = Fill(rng, m * n);
        var y0 = (float[])y.Clone();
        Gemm.MatMulBf16(x, w, y, m, accumulate, level);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = accumulate ? y0[i * n + j] : 0, magnitude = Math.Abs(sum);
            for (int p = 0; p < k; p++)
            {
                double term = (double)x[i * k + p] * w[j, p];
                sum += term;
                magnitude += Math.Abs(term);
            }
            AssertClose(sum, y[i * n + j], magnitude, k, $"{context} bf16 [{m}×{k}]·[{n}×{k}]ᵀ acc={accumulate} at ({i},{j})");
        }
    }

    /// <summary>Float32 summation of k terms errs by at most about k·2⁻²⁴·Σ|terms|; wrong indexing errs by O(Σ|terms|).</summary>
    static void AssertClose(double expected, float actual, double magnitude, int k, string where)
    {
        double tolerance = (k + 2) * 1.2e-7 * magnitude + 1e-6;
        if (!(Math.Abs(expected - actual) <= tolerance))
            Assert.Fail($"{where}: expected {expected}, got {actual} (tolerance {tolerance:g3})");
    }

    static float[] Fill(Random rng, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return values;
    }

    static IDisposable ForceThreads(int count)
    {
        int previous = KernelThreads.Count;
        KernelThreads.Count = count;
        return new RestoreThreads(previous);
    }

    sealed class RestoreThreads(int previous) : IDisposable
    {
        public void Dispose() => KernelThreads.Count = previous;
    }
}
