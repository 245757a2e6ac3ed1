using ChatForge.Engine.Inference;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;

namespace ChatForge.Engine.Tests.Inference;

/// <summary>
/// The ggml-block kernels against fp64 matvec on their own dequantised weights. The only error they may add is the
/// activations' int8 rounding: per 32-value block b, |x̂ − x| ≤ absmax_b / 254, so |y_j − ŷ_j| ≤ Σ_b absmax_b/254 · Σ_{i∈b} |w_ji|
/// (plus float rounding). Every SIMD level must meet that bound and give the same integer sums.
/// </summary>
[Collection("Simd")]
public sealed class BlockLinearTests
{
    static float[] Gaussian(int n, Random rng, float scale = 1f) =>
        Enumerable.Range(0, n).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())) * scale).ToArray();

    static BlockLinear Quantised(BlockFormat format, float[] w, int outDim, int inDim) =>
        BlockLinear.FromBlocks(format, GgmlQuantizer.Quantize(format, w), outDim, inDim, "test.weight");

    /// <summary>fp64 x·Ŵᵀ and the activation-rounding bound of each output.</summary>
    static (double[] Y, double[] Bound) Reference(float[] wq, float[] x, int m, int outDim, int inDim)
    {
        var y = new double[m * outDim];
        var bound = new double[m * outDim];
        for (int r = 0; r < m; r++)
            for (int j = 0; j < outDim; j++)
                for (int b = 0; b < inDim / 32; b++)
                {
                    double absmax = 0, absW = 0;
                    for (int i = b * 32; i < b * 32 + 32; i++)
                    {
                        y[r * outDim + j] += (double)x[r * inDim + i] * wq[j * inDim + i];
                        absmax = Math.Max(absmax, Math.Abs(x[r * inDim + i]));
                        absW += Math.Abs(wq[j * inDim + i]);
                    }
                    bound[r * outDim + j] += absmax / 254 * absW;
                }
        return (y, bound);
    }

    /// <summary>
    /// Random bytes as blocks, every field at any value its bits allow (Q6_K scales down to −128, six-bit scales and mins
    /// up to 63, all nibbles), with finite fp16 scales of either sign: the integer sums must not saturate anywhere.
    /// </summary>
    static BlockLinear RawBlocks(BlockFormat format, int outDim, int inDim, Random rng)
    {
        var (weights, bytes, halves) = format switch
        {
            BlockFormat.Q4_0 => (32, 18, new[] { 0 }),
            BlockFormat.Q4_K => (256, 144, new[] { 0, 2 }),
            BlockFormat.Q6_K => (256, 210, new[] { 208 }),
            _ => (32, 34, new[] { 0 }),
        };
        var blocks = new byte[outDim * inDim / weights * bytes];
        rng.NextBytes(blocks);
        for (int b = 0; b < blocks.Length / bytes; b++)
            foreach (int at in halves) System.Buffers.Binary.BinaryPrimitives.WriteHalfLittleEndian(blocks.AsSpan(b * bytes + at), (Half)((rng.NextSingle() - 0.5f) * 0.01f));
        return BlockLinear.FromBlocks(format, blocks, outDim, inDim, "raw");
    }

    [Theory]
    [InlineData(BlockFormat.Q4_0, false)]
    [InlineData(BlockFormat.Q4_K, false)]
    [InlineData(BlockFormat.Q6_K, false)]
    [InlineData(BlockFormat.Q8_0, false)]
    [InlineData(BlockFormat.Q4_0, true)]
    [InlineData(BlockFormat.Q4_K, true)]
    [InlineData(BlockFormat.Q6_K, true)]
    public void DecodeMatchesTheDequantisedMatvecWithinTheActivationRoundingBound(BlockFormat format, bool rawBytes)
    {
        const int outDim = 136, inDim = 512, m = 3; // 136 rows: two row bands of 64 plus a ragged tail
        var rng = new Random(11 + (int)format);
        var matrix = rawBytes ? RawBlocks(format, outDim, inDim, rng) : Quantised(format, Gaussian(outDim * inDim, rng, 0.05f), outDim, inDim);
        var wq = new float[outDim * inDim];
        matrix.Dequantize(wq);
        var x = Gaussian(m * inDim, rng);
        var (reference, bound) = Reference(wq, x, m, outDim, inDim);
        float[]? first = null;
        foreach (var level in Simd.Supported())
        {
            using var _ = Simd.Force(level);
            var y = new float[m * outDim];
            matrix.Apply(x, y, m);
            for (int k = 0; k < y.Length; k++)
                Assert.True(Math.Abs(y[k] - reference[k]) <= bound[k] + 1e-4 * Math.Abs(reference[k]) + 1e-5,
                    $"{format} raw={rawBytes} {level}: y[{k}] = {y[k]}, reference {reference[k]}, bound {bound[k]}");
            // The same int8 sums on every path; only the float scaling may round differently.
            first ??= y;
            for (int k = 0; k < y.Length; k++) Assert.True(Math.Abs(y[k] - first[k]) <= 1e-4 * (Math.Abs(first[k]) + 1), $"{format} {level}: y[{k}] {y[k]} vs {first[k]}");
        }
    }

    [Theory]
    [InlineData(BlockFormat.Q4_0, 0.12)]
    [InlineData(BlockFormat.Q4_K, 0.12)]
    [InlineData(BlockFormat.Q6_K, 0.035)]
    [InlineData(BlockFormat.Q8_0, 0.006)]
    public void QuantisersKeepTheWeightsWithinTheirFormatsError(BlockFormat format, double relativeRms)
    {
        const int outDim = 16, inDim = 512;
        var w = Gaussian(outDim * inDim, new Random(4), 0.02f);
        var wq = new float[w.Length];
        Quantised(format, w, outDim, inDim).Dequantize(wq);
        double err = 0, norm = 0;
        for (int i = 0; i < w.Length; i++) { err += Math.Pow(w[i] - wq[i], 2); norm += (double)w[i] * w[i]; }
        Assert.True(Math.Sqrt(err / norm) < relativeRms, $"{format}: relative RMS error {Math.Sqrt(err / norm)}");
    }

    [Theory]
    [InlineData(BlockFormat.Q4_0)]
    [InlineData(BlockFormat.Q4_K)]
    [InlineData(BlockFormat.Q6_K)]
    public void PrefillRowsAndAccumulateMatchTheDecodePath(BlockFormat format)
    {
        const int outDim = 80, inDim = 256, m = 12;
        var rng = new Random(3);
        var matrix = Quantised(format, Gaussian(outDim * inDim, rng, 0.05f), outDim, inDim);
        var x = Gaussian(m * inDim, rng);
        var prefill = new float[m * outDim];
        matrix.Apply(x, prefill, m); // > 8 rows: dequantised fp32 GEMM, no activation rounding
        var wq = new float[outDim * inDim];
        matrix.Dequantize(wq);
        var (_, bound) = Reference(wq, x, m, outDim, inDim);
        var decode = new float[m * outDim];
        for (int r = 0; r < m; r++) matrix.Apply(x.AsSpan(r * inDim, inDim), decode.AsSpan(r * outDim, outDim), 1);
        for (int k = 0; k < prefill.Length; k++)
            Assert.True(Math.Abs(prefill[k] - decode[k]) <= bound[k] + 1e-4 * Math.Abs(prefill[k]) + 1e-5, $"{format} y[{k}]: {prefill[k]} vs {decode[k]}");
        var accumulated = Enumerable.Repeat(1f, outDim).ToArray();
        matrix.Apply(x.AsSpan(0, inDim), accumulated, 1, accumulate: true);
        for (int j = 0; j < outDim; j++) Assert.Equal(decode[j] + 1f, accumulated[j], 4);
    }

    /// <summary>
    /// A Q4_0 file imported to fp32 and served with --weights q4_0 is served exactly as stored: re-quantising dequantised
    /// Q4_0 blocks gives them back (each block's largest |w| is its −8·d, so the scale is found again), as for Q8_0.
    /// </summary>
    [Fact]
    public void Q4_0ReQuantisesItsDequantisedBlocksExactly()
    {
        const int outDim = 8, inDim = 256;
        var blocks = GgmlQuantizer.Q4_0(Gaussian(outDim * inDim, new Random(2), 0.03f));
        var w = new float[outDim * inDim];
        new Q4_0Linear(blocks, outDim, inDim).Dequantize(w);
        Assert.Equal(blocks, GgmlQuantizer.Q4_0(w));
    }

    [Fact]
    public void BadBlocksAreRefusedNamingTensorAndShape()
    {
        var wrongLength = Assert.Throws<ArgumentException>(() => new Q4_KLinear(new byte[144 * 3], 2, 256, "blk.0.ffn_up.weight"));
        Assert.Contains("blk.0.ffn_up.weight", wrongLength.Message);
        Assert.Contains("[2, 256]", wrongLength.Message);
        Assert.Contains("288", wrongLength.Message); // expected bytes
        var ragged = Assert.Throws<ArgumentException>(() => new Q6_KLinear(new byte[210], 1, 96, "blk.3.attn_v.weight"));
        Assert.Contains("blk.3.attn_v.weight", ragged.Message);
        Assert.Contains("96", ragged.Message);
        Assert.Contains("256", ragged.Message);
        var q40 = Assert.Throws<ArgumentException>(() => new Q4_0Linear(new byte[17], 1, 32, "output.weight"));
        Assert.Contains("output.weight", q40.Message);
        var x = new float[31];
        var small = new Q4_0Linear(new byte[18], 1, 32);
        Assert.Throws<ArgumentException>(() => small.Apply(x, new float[1], 1));
    }

    /// <summary>
    /// A model whose slots come from several "file tensors" of mixed formats (q in Q4_K, k in Q6_K, v left as bf16; gate Q4_0,
    /// up Q4_K; down Q6_K; LM head Q8_0) served with <see cref="WeightFormat.Gguf"/>, against the fp32 model holding the
    /// same dequantised weights: only activation rounding (and bf16 for v) separate their logits.
    /// </summary>
    [Fact]
    public void FileBlocksOfMixedFormatsServeTheModelTheyDequantiseTo()
    {
        var config = ModelConfig.LlamaStyle(vocab: 96, dModel: 256, layers: 2, heads: 4, kvHeads: 2, intermediate: 512, context: 32);
        var parameters = TinyModels.RandomParameters(config, seed: 8);
        var layout = parameters.Layout;
        int d = 256, q = 256, kv = 128, ff = 512;
        var blocks = new FileBlocks();
        void Part(TensorSlot slot, string tensor, int row0, int rows, BlockFormat format)
        {
            int width = slot.Shape[1];
            var rowsSpan = parameters[slot].Slice(row0 * width, rows * width);
            var bytes = GgmlQuantizer.Quantize(format, rowsSpan);
            blocks.Add(slot.Name, new BlockRows(tensor, row0, rows, format, bytes));
            BlockLinear.FromBlocks(format, bytes, rows, width, tensor).Dequantize(rowsSpan); // the fp32 model holds what the file holds
        }
        foreach (var l in layout.Layers)
        {
            Part(l.QkvWeight, "attn_q", 0, q, BlockFormat.Q4_K);
            Part(l.QkvWeight, "attn_k", q, kv, BlockFormat.Q6_K);
            Part(l.OutWeight, "attn_output", 0, d, BlockFormat.Q4_K);
            Part(l.UpWeight, "ffn_gate", 0, ff, BlockFormat.Q4_0);
            Part(l.UpWeight, "ffn_up", ff, ff, BlockFormat.Q4_K);
            Part(l.DownWeight, "ffn_down", 0, d, BlockFormat.Q6_K);
        }
        Part(layout.LmHead, "output", 0, config.VocabSize, BlockFormat.Q8_0);
        var tokens = new[] { 5, 17, 3, 88, 41, 9, 60, 2, 77, 31, 12, 50 }; // 12 rows: prefill goes through the dequantised GEMM
        var native = Logits(new InferenceModel(parameters, WeightFormat.Gguf, blocks), tokens, decode: true);
        var fp32 = Logits(new InferenceModel(parameters, WeightFormat.F32), tokens, decode: false);
        double scale = fp32.Max(Math.Abs);
        double error = TinyModels.MaxAbsDiff(native, fp32.Select(v => (double)v).ToArray());
        Assert.True(error < 0.03 * scale, $"max |Δlogit| {error} vs max |logit| {scale}");
        var prefill = Logits(new InferenceModel(parameters, WeightFormat.Gguf, blocks), tokens, decode: false);
        double prefillError = TinyModels.MaxAbsDiff(prefill, fp32.Select(v => (double)v).ToArray());
        Assert.True(prefillError < 0.01 * scale, $"prefill (dequantised GEMM, bf16 v rows): {prefillError} vs max |logit| {scale}");
        Assert.Throws<ArgumentException>(() => new InferenceModel(parameters, WeightFormat.Gguf));
    }

    /// <summary>Logits of every position: one forward of all rows (prefill), or one row at a time (decode kernels).</summary>
    static float[] Logits(InferenceModel model, int[] tokens, bool decode)
    {
        var cache = model.CreateCache(1, tokens.Length);
        int slot = cache.Allocate();
        var logits = new float[tokens.Length * model.VocabSize];
        if (!decode) model.Forward(tokens.Select((t, i) => new ForwardRow(slot, t, i, true)).ToArray(), cache, logits);
        else
            for (int i = 0; i < tokens.Length; i++)
                model.Forward([new ForwardRow(slot, tokens[i], i, true)], cache, logits.AsSpan(i * model.VocabSize, model.VocabSize));
        return logits;
    }
}
