using ChatForge.Engine.Inference;
using ChatForge.Engine.Kernels;

namespace ChatForge.Engine.Tests.Inference;

[Collection("Simd")]
public class Int8LinearTests
{
    [Theory]
    [InlineData(1, 70, 37)]   // odd sizes: partial 4-row groups and a scalar tail in k
    [InlineData(3, 260, 64)]
    [InlineData(8, 128, 100)]
    [InlineData(12, 33, 48)]  // prefill path: dequantise + GEMM
    public void Matches_a_float64_product_with_the_dequantised_weight_on_every_simd_path(int m, int outDim, int inDim)
    {
        var rng = new Random(m * 1000 + outDim);
        var w = Enumerable.Range(0, outDim * inDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = Enumerable.Range(0, m * inDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var linear = new Int8Linear(w, outDim, inDim);
        var dq = new float[outDim * inDim];
        linear.Dequantize(dq);
        for (int i = 0; i < dq.Length; i++) Assert.True(Math.Abs(dq[i] - w[i]) <= 1.0 / 254 + 1e-6, $"weight {i}: {w[i]} → {dq[i]}");

        foreach (var level in Simd.Supported())
            using (Simd.Force(level))
                foreach (bool accumulate in new[] { false, true })
                {
                    var y = Enumerable.Repeat(0.5f, m * outDim).ToArray();
                    linear.Apply(x, y, m, accumulate, new float[outDim * inDim]);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < outDim; j++)
                        {
                            double expected = accumulate ? 0.5 : 0;
                            for (int p = 0; p < inDim; p++) expected += (double)x[i * inDim + p] * dq[j * inDim + p];
                            Assert.True(Math.Abs(y[i * outDim + j] - expected) < 1e-4, $"{level} accumulate={accumulate} y[{i},{j}] = {y[i * outDim + j]}, expected {expected}");
                        }
                }
    }

    [Fact]
    public void A_zero_row_stays_zero_and_wrong_shapes_are_rejected()
    {
        var linear = new Int8Linear(new float[2 * 4], 2, 4);
        var y = new float[2];
        linear.Apply(new float[] { 1, 2, 3, 4 }, y, 1, false, []);
        Assert.Equal(new float[2], y);
        var e = Assert.Throws<ArgumentException>(() => linear.Apply(new float[3], y, 1, false, []));
        Assert.Contains("[1, 4]", e.Message);
    }
}
