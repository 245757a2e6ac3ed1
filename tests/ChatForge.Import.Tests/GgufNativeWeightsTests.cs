using System.Buffers.Binary;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Import.Gguf;

namespace ChatForge.Import.Tests;

/// <summary>
/// GGUF files served on their own blocks (<see cref="WeightFormat.Gguf"/>): the engine's kernels read the blocks exactly
/// as GgufBlocks (the reference decoder) does, and a file mixing Q4_K, Q6_K, Q4_0, Q8_0 and F16 matrices gives the
/// logits of its fp32-dequantised import within the activation-rounding error.
/// </summary>
public sealed class GgufNativeWeightsTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    public void KernelsReadTheBlocksExactlyAsGgufBlocksDoes(GgmlType type)
    {
        const int rows = 3, inDim = 512;
        var (weights, bytes) = GgufBlocks.BlockSize(type);
        var rng = new Random((int)type);
        var blocks = new byte[rows * inDim / weights * bytes];
        rng.NextBytes(blocks);
        // Random bytes everywhere but the fp16 scales, which get finite values of either sign.
        int[] halves = type switch { GgmlType.Q4_K => [0, 2], GgmlType.Q6_K => [208], _ => [0] };
        for (int b = 0; b < blocks.Length / bytes; b++)
            foreach (int at in halves) BinaryPrimitives.WriteHalfLittleEndian(blocks.AsSpan(b * bytes + at), (Half)((rng.NextSingle() - 0.5f) * 0.02f));
        var expected = new float[rows * inDim];
        GgufBlocks.Dequantize(type, blocks, expected);
        var actual = new float[rows * inDim];
        BlockLinear.FromBlocks(GgufImporter.BlockFormatOf(type)!.Value, blocks, rows, inDim, "t").Dequantize(actual);
        Assert.Equal(expected, actual);
    }

    /// <summary>A Q4_K_M-like mix: q Q4_K, k Q6_K, v F16 (served bf16) in one qkv slot; gate Q4_0 + up Q4_K; down and output Q6_K; attn_output Q8_0.</summary>
    static GgmlType MixedType(string name, int cols) => name.Split('.')[^2] switch
    {
        "attn_q" or "ffn_up" => GgmlType.Q4_K,
        "attn_k" or "ffn_down" or "output" => GgmlType.Q6_K,
        "attn_v" => GgmlType.F16,
        "ffn_gate" => GgmlType.Q4_0,
        "attn_output" => GgmlType.Q8_0,
        _ => GgmlType.F32,
    };

    [Theory]
    [InlineData("llama")] // Q/K rows permuted in the file: the quantised rows must be reordered like the fp32 ones
    [InlineData("qwen2")]
    public void MixedQuantisedGgufServedOnItsBlocksGivesTheDequantisedModelsLogits(string arch)
    {
        var config = ModelConfig.LlamaStyle(vocab: 96, dModel: 256, layers: 2, heads: 4, kvHeads: 2, intermediate: 512, context: 32)
            with { ModelType = arch, QkvBias = arch == "qwen2" };
        using var dir = new TempDir();
        string path = dir.Sub("model.gguf");
        GgufImportTests.WriteGguf(path, arch, RandomParameters(config, new Random(6)), MixedType);

        var tokens = new[] { 3, 77, 15, 40, 8, 91, 22, 60, 5, 33, 70, 12 };
        var reference = Fixture.Logits(GgufImporter.Load(path), tokens, WeightFormat.F32);
        var (parameters, blocks) = GgufImporter.LoadWithBlocks(path);
        var native = new InferenceModel(parameters, WeightFormat.Gguf, blocks);
        var bf16 = new InferenceModel(GgufImporter.Load(path), WeightFormat.Bf16);
        Assert.True(native.MatmulWeightBytes < 0.45 * bf16.MatmulWeightBytes, $"{native.MatmulWeightBytes} bytes of blocks vs {bf16.MatmulWeightBytes} of bf16");

        // No fp32 copy of a matrix the file quantised throughout: only qkv (v is F16) and the gathered embedding stay fp32.
        var layout = parameters.Layout;
        Assert.True(parameters.IsPartial);
        Assert.All(layout.Layers, l =>
        {
            Assert.True(parameters.Holds(l.QkvWeight));
            Assert.False(parameters.Holds(l.OutWeight) || parameters.Holds(l.UpWeight) || parameters.Holds(l.DownWeight));
        });
        Assert.False(parameters.Holds(layout.LmHead));
        Assert.True(parameters.Holds(layout.TokenEmbedding) && parameters.Holds(layout.FinalNormWeight));
        long matrices = layout.Layers.Sum(l => l.OutWeight.Length + l.UpWeight.Length + l.DownWeight.Length) + layout.LmHead.Length;
        Assert.True(parameters.Data.Length <= layout.TotalLength - matrices, $"{parameters.Data.Length} floats held of {layout.TotalLength}");
        // Any other weight format needs the fp32 matrices: asking for it names the tensor and the way out.
        var refused = Assert.Throws<InvalidOperationException>(() => new InferenceModel(parameters, WeightFormat.Bf16));
        Assert.Contains("layers.0.attn.out.weight", refused.Message);
        Assert.Contains("gguf", refused.Message);

        // Decode: one row per forward, every matmul on the blocks.
        var cache = native.CreateCache(1, tokens.Length);
        int slot = cache.Allocate();
        var decoded = new float[tokens.Length * native.VocabSize];
        for (int i = 0; i < tokens.Length; i++)
            native.Forward([new ForwardRow(slot, tokens[i], i, true)], cache, decoded.AsSpan(i * native.VocabSize, native.VocabSize));
        float scale = Fixture.MaxAbs(reference);
        float error = Fixture.MaxAbsDiff(decoded, reference);
        Assert.True(error < 0.03f * scale, $"{arch} decode: max |Δlogit| {error}, max |logit| {scale}");
        // Prefill (12 rows): dequantised GEMM, only v's bf16 rounding left.
        float prefillError = Fixture.MaxAbsDiff(Fixture.Logits(parameters, tokens, WeightFormat.Gguf, blocks), reference);
        Assert.True(prefillError < 0.01f * scale, $"{arch} prefill: max |Δlogit| {prefillError}, max |logit| {scale}");
    }

    [Fact]
    public void A_gguf_with_weights_and_tokenizer_is_served_as_it_is()
    {
        // What `chat --model x.gguf --weights gguf` and the server's ModelDir = x.gguf do: tokenizer from the metadata,
        // matmuls on the file's blocks, the chat template's prompt generated through the engine.
        var spm = ModelFolder.LoadTokenizer(Fixture.Folder("spm-tokenizer"));
        var config = ModelConfig.LlamaStyle(vocab: spm.VocabSize, dModel: 256, layers: 1, heads: 4, kvHeads: 2, intermediate: 512, context: 64);
        using var dir = new TempDir();
        string path = dir.Sub("chat.gguf");
        GgufImportTests.WriteGguf(path, "llama", RandomParameters(config, new Random(9)), MixedType,
            GgufSentencePieceTests.TokenizerMetadataCount(), w => GgufSentencePieceTests.WriteTokenizerMetadata(w));
        int leftovers = Directory.GetDirectories(Path.GetTempPath(), "chatforge-gguf-tokenizer-*").Length;

        var tokenizer = Assert.IsAssignableFrom<IImportedTokenizer>(GgufModel.LoadTokenizer(path));
        Assert.Equal(leftovers, Directory.GetDirectories(Path.GetTempPath(), "chatforge-gguf-tokenizer-*").Length);
        Assert.Equal("zephyr", tokenizer.TemplateName);
        Assert.Equal(spm.Encode("Hello 世界 2+2"), tokenizer.Encode("Hello 世界 2+2"));

        var (parameters, blocks) = GgufImporter.LoadWithBlocks(path);
        var model = new InferenceModel(parameters, WeightFormat.Gguf, blocks);
        var prompt = tokenizer.RenderChat([new ChatForge.Tokenizer.ChatMessage("user", "你好")], addGenerationPrompt: true).Ids;
        var answer = Generator.GenerateBatch(model, [prompt], 6, new SamplingOptions { Temperature = 0 }, tokenizer.StopTokenIds.ToArray())[0];
        Assert.InRange(answer.Tokens.Count, 1, 6);
        Assert.All(answer.Tokens, id => Assert.InRange(id, 0, spm.VocabSize - 1));
    }

    [Fact]
    public void A_gguf_without_a_tokenizer_or_a_missing_file_is_named_in_the_error()
    {
        using var dir = new TempDir();
        string path = dir.Sub("weights-only.gguf");
        var config = ModelConfig.LlamaStyle(vocab: 64, dModel: 64, layers: 1, heads: 4, kvHeads: 2, intermediate: 128, context: 16);
        GgufImportTests.WriteGguf(path, "llama", RandomParameters(config, new Random(1)), (_, _) => GgmlType.F32);
        var error = Assert.Throws<InvalidDataException>(() => GgufModel.LoadTokenizer(path));
        Assert.Contains("tokenizer.ggml.model", error.Message);
        Assert.Contains(path, error.Message);
        Assert.Contains("missing.gguf", Assert.Throws<FileNotFoundException>(() => GgufModel.LoadTokenizer(dir.Sub("missing.gguf"))).Message);
    }

    static ParameterBuffer RandomParameters(ModelConfig config, Random rng)
    {
        var p = new ParameterBuffer(new ParameterLayout(config));
        foreach (var t in p.Layout.Tensors)
        {
            var span = p[t];
            bool norm = t.Name.Contains("norm");
            float scale = t.Name.StartsWith("embed") ? 0.5f : norm || t.Name.EndsWith(".bias") ? 0.1f : 1.7f / MathF.Sqrt(t.Shape[^1]);
            for (int i = 0; i < span.Length; i++) span[i] = (norm && !t.Name.EndsWith(".bias") ? 1 : 0) + (rng.NextSingle() * 2 - 1) * scale;
        }
        return p;
    }
}
