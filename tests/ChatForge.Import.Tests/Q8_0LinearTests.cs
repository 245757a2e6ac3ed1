using System.Buffers.Binary;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Kernels;
using ChatForge.Import.Gguf;

namespace ChatForge.Import.Tests;

[CollectionDefinition("Simd", DisableParallelization = true)]
public sealed class SimdCollection;

/// <summary>Q8_0 matvec on the blocks against fp32 matvec on the dequantised weights; the only extra error is x's own Q8_0 rounding.</summary>
[Collection("Simd")]
public sealed class Q8_0LinearTests
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

        var matrix = new Q8_0Linear(blocks, outDim, inDim);
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

    /// <summary>Random Q8_0 blocks as ggml writes them: every block's largest |q| is 127 (scale = absmax / 127).</summary>
    static byte[] GgmlBlocks(int outDim, int inDim, Random rng)
    {
        var blocks = new byte[outDim * inDim / 32 * 34];
        for (int b = 0; b < outDim * inDim / 32; b++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(blocks.AsSpan(b * 34), (Half)(0.001f + rng.NextSingle() * 0.01f));
            for (int i = 0; i < 32; i++) blocks[b * 34 + 2 + i] = (byte)(sbyte)rng.Next(-126, 127);
            blocks[b * 34 + 2 + rng.Next(32)] = (byte)(sbyte)(rng.Next(2) == 0 ? 127 : -127);
        }
        return blocks;
    }

    [Fact]
    public void QuantisingADequantisedGgufTensorGivesBackItsBlocks()
    {
        // A GGUF Q8_0 model is imported as fp32 and served as Q8_0 again: that round trip must be exact.
        const int outDim = 64, inDim = 128;
        var rng = new Random(9);
        var blocks = GgmlBlocks(outDim, inDim, rng);
        var w = new float[outDim * inDim];
        GgufBlocks.Dequantize(GgmlType.Q8_0, blocks, w);
        var fromBlocks = new Q8_0Linear(blocks, outDim, inDim);
        var requantised = new Q8_0Linear(w, outDim, inDim);
        var a = new float[outDim * inDim];
        var b = new float[outDim * inDim];
        fromBlocks.Dequantize(a);
        requantised.Dequantize(b);
        Assert.Equal(w, a);
        Assert.Equal(a, b);
        var x = Enumerable.Range(0, 2 * inDim).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        var ya = new float[2 * outDim];
        var yb = new float[2 * outDim];
        fromBlocks.Apply(x, ya, 2);
        requantised.Apply(x, yb, 2);
        Assert.Equal(ya, yb);
    }

    [Fact]
    public void PrefillRowsAndAccumulateMatchTheDecodePath()
    {
        const int outDim = 80, inDim = 64, m = 12;
        var rng = new Random(3);
        var matrix = new Q8_0Linear(GgmlBlocks(outDim, inDim, rng), outDim, inDim);
        var x = Enumerable.Range(0, m * inDim).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        var prefill = new float[m * outDim];
        matrix.Apply(x, prefill, m); // > 8 rows: dequantised fp32 GEMM
        var decode = new float[m * outDim];
        for (int r = 0; r < m; r++) matrix.Apply(x.AsSpan(r * inDim, inDim), decode.AsSpan(r * outDim, outDim), 1); // int8 dots
        double scale = prefill.Max(Math.Abs);
        for (int k = 0; k < prefill.Length; k++) Assert.True(Math.Abs(prefill[k] - decode[k]) < 0.01 * scale, $"y[{k}]: {prefill[k]} vs {decode[k]}");
        var accumulated = Enumerable.Repeat(1f, outDim).ToArray();
        matrix.Apply(x.AsSpan(0, inDim), accumulated, 1, accumulate: true);
        for (int j = 0; j < outDim; j++) Assert.Equal(decode[j] + 1f, accumulated[j], 5);
    }
}
