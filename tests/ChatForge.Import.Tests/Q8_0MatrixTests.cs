using System.Buffers.Binary;
using ChatForge.Engine.Kernels;
using ChatForge.Import.Gguf;

namespace ChatForge.Import.Tests;

[CollectionDefinition("Simd", DisableParallelization = true)]
public sealed class SimdCollection;

/// <summary>Q8_0 matvec on the blocks against fp32 matvec on the dequantised weights; the only extra error is x's own Q8_0 rounding.</summary>
[Collection("Simd")]
public sealed class Q8_0MatrixTests
{
    [Fact]
    public void MatchesDequantisedMatmulOnEveryPath()
    {
        const int outDim = 96, inDim = 256, m = 3;
        var rng = new Random(5);
        var blocks = new byte[outDim * inDim / 32 * 34];
        for (int b = 0; b < outDim * inDim / 32; b++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(blocks.AsSpan(b * 34), (Half)(0.001f + rng.NextSingle() * 0.01f));
            for (int i = 0; i < 32; i++) blocks[b * 34 + 2 + i] = (byte)(sbyte)rng.Next(-127, 128);
        }
        var w = new float[outDim * inDim];
        GgufBlocks.Dequantize(GgmlType.Q8_0, blocks, w);
        var x = Enumerable.Range(0, m * inDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var reference = new double[m * outDim];
        for (int r = 0; r < m; r++)
            for (int j = 0; j < outDim; j++)
                for (int i = 0; i < inDim; i++) reference[r * outDim + j] += (double)x[r * inDim + i] * w[j * inDim + i];

        var matrix = new Q8_0Matrix(blocks, outDim, inDim);
        float? previous = null;
        foreach (var level in Simd.Supported())
        {
            using var _ = Simd.Force(level);
            var y = new float[m * outDim];
            matrix.Apply(x, y, m);
            double scale = reference.Max(Math.Abs);
            for (int k = 0; k < y.Length; k++)
                Assert.True(Math.Abs(y[k] - reference[k]) < 0.01 * scale, $"{level}: y[{k}] = {y[k]}, reference {reference[k]}");
            // Integer dot products: every path gives the same sums up to float rounding of the per-block scaling.
            previous ??= y[7];
            Assert.Equal(previous.Value, y[7], 4);
        }
    }
}
