using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;

namespace ChatForge.Import.Tests;

/// <summary>
/// Each supported architecture, imported from a PyTorch-written Hugging Face checkpoint, gives PyTorch's logits.
/// Bounds: fp32 weights 1e-4 absolute (logits span about ±10; only summation order differs); bf16 and int8
/// weights are measured against the fp32 result relative to the largest logit (bf16 ≤ 2%, int8 ≤ 4%).
/// </summary>
public sealed class HfLogitsTests
{
    [Theory]
    [InlineData("llama", "LlamaForCausalLM")]
    [InlineData("llama-sharded", "LlamaForCausalLM")]
    [InlineData("qwen2", "Qwen2ForCausalLM")]
    [InlineData("mistral", "MistralForCausalLM")]
    [InlineData("gpt2", "GPT2LMHeadModel")]
    [InlineData("llama3-rope", "LlamaForCausalLM")]
    public void Fp32LogitsMatchReference(string fixture, string architecture)
    {
        var model = HfImporter.Load(Fixture.Folder(fixture));
        Assert.Equal(architecture, model.Family.Architecture);
        var (tokens, expected) = Fixture.Expected(fixture);
        var logits = Fixture.Logits(model.Parameters, tokens, WeightFormat.F32);
        Assert.True(Fixture.MaxAbsDiff(logits, expected) < 1e-4f, $"{fixture}: max |Δlogit| {Fixture.MaxAbsDiff(logits, expected)}");
    }

    [Fact]
    public void Bf16CheckpointMatchesReference()
    {
        var model = HfImporter.Load(Fixture.Folder("qwen2-bf16"));
        var (tokens, expected) = Fixture.Expected("qwen2-bf16");
        var logits = Fixture.Logits(model.Parameters, tokens, WeightFormat.F32);
        Assert.True(Fixture.MaxAbsDiff(logits, expected) < 1e-4f);
    }

    [Theory]
    [InlineData("qwen2", WeightFormat.Bf16, 0.02f)]
    [InlineData("qwen2", WeightFormat.Int8, 0.04f)]
    [InlineData("gpt2", WeightFormat.Bf16, 0.02f)]
    [InlineData("gpt2", WeightFormat.Int8, 0.04f)]
    [InlineData("llama", WeightFormat.Int8, 0.04f)]
    [InlineData("qwen2", WeightFormat.Q8_0, 0.04f)]
    [InlineData("llama3-rope", WeightFormat.Q8_0, 0.04f)]
    public void QuantisedWeightsStayWithinBoundOfFp32(string fixture, WeightFormat format, float bound)
    {
        var model = HfImporter.Load(Fixture.Folder(fixture));
        var (tokens, expected) = Fixture.Expected(fixture);
        var logits = Fixture.Logits(model.Parameters, tokens, format);
        float relative = Fixture.MaxAbsDiff(logits, expected) / Fixture.MaxAbs(expected);
        Assert.True(relative < bound, $"{fixture} {format}: max |Δlogit| / max |logit| = {relative}");
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("mistral")]
    [InlineData("gpt2")]
    [InlineData("llama3-rope")]
    public void ExportThenImportGivesTheSameLogits(string fixture)
    {
        using var dir = new TempDir();
        var model = HfImporter.Load(Fixture.Folder(fixture));
        var family = HfExporter.Export(model.Parameters, dir.Sub("hf"), TensorDType.F32);
        Assert.Equal(model.Family.Architecture, family.Architecture);
        var again = HfImporter.Load(dir.Sub("hf"));
        Assert.Equal(model.Parameters.Layout.Config, again.Parameters.Layout.Config);
        Assert.Equal(model.Parameters.Data, again.Parameters.Data);
        var (tokens, _) = Fixture.Expected(fixture);
        Assert.Equal(Fixture.Logits(model.Parameters, tokens, WeightFormat.F32), Fixture.Logits(again.Parameters, tokens, WeightFormat.F32));
    }

    [Fact]
    public void Llama3RopeScalingIsWhatMovesTheLogits()
    {
        // The fixture only proves something if plain RoPE would have failed it.
        var model = HfImporter.Load(Fixture.Folder("llama3-rope"));
        Assert.Equal(RopeScaling.Llama3, model.Parameters.Layout.Config.RopeScaling?.RopeType);
        var plain = new ParameterBuffer(new ParameterLayout(model.Parameters.Layout.Config with { RopeScaling = null }));
        model.Parameters.Data.CopyTo(plain.Data);
        var (tokens, expected) = Fixture.Expected("llama3-rope");
        float diff = Fixture.MaxAbsDiff(Fixture.Logits(plain, tokens, WeightFormat.F32), expected);
        Assert.True(diff > 1e-2f, $"plain RoPE is only {diff} away from the llama3-scaled logits");
    }

    [Fact]
    public void ExportWritesTheFamilyNamesAndShardsWithAnIndex()
    {
        using var dir = new TempDir();
        var model = HfImporter.Load(Fixture.Folder("llama"));
        HfExporter.Export(model.Parameters, dir.Sub("hf"), TensorDType.BF16, maxShardBytes: 8 << 10);
        string folder = dir.Sub("hf");
        Assert.True(File.Exists(Path.Combine(folder, HfSafeTensorSet.IndexFile)));
        Assert.True(Directory.GetFiles(folder, "model-*-of-*.safetensors").Length > 1);
        string config = File.ReadAllText(Path.Combine(folder, "config.json"));
        Assert.Contains("\"LlamaForCausalLM\"", config);
        Assert.Contains("\"torch_dtype\": \"bfloat16\"", config);
        using var set = HfSafeTensorSet.Open(folder);
        Assert.Contains("model.layers.1.self_attn.k_proj.weight", set.Names);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", set.Names);
        // bf16 on disk: the re-imported weights are the originals rounded to bf16.
        var again = HfImporter.Load(folder);
        var (tokens, expected) = Fixture.Expected("llama");
        float relative = Fixture.MaxAbsDiff(Fixture.Logits(again.Parameters, tokens, WeightFormat.F32), expected) / Fixture.MaxAbs(expected);
        Assert.True(relative < 0.02f, $"bf16 export: {relative}");
    }

    [Fact]
    public void OurOwnModelsExportAsTheMatchingFamily()
    {
        using var dir = new TempDir();
        var gpt2Style = new ParameterBuffer(new ParameterLayout(ModelConfig.Gpt2Style(64, 32, 1, 4, 16)));
        Assert.Equal("GPT2LMHeadModel", HfExporter.Export(gpt2Style, dir.Sub("a"), TensorDType.F32).Architecture);
        var llamaStyle = new ParameterBuffer(new ParameterLayout(ModelConfig.LlamaStyle(64, 32, 1, 4, 2, 48, 16)));
        Assert.Equal("LlamaForCausalLM", HfExporter.Export(llamaStyle, dir.Sub("b"), TensorDType.F32).Architecture);
        var qwenStyle = new ParameterBuffer(new ParameterLayout(ModelConfig.LlamaStyle(64, 32, 1, 4, 2, 48, 16) with { QkvBias = true }));
        Assert.Equal("Qwen2ForCausalLM", HfExporter.Export(qwenStyle, dir.Sub("c"), TensorDType.F32).Architecture);
        var reward = new ParameterBuffer(new ParameterLayout(ModelConfig.LlamaStyle(64, 32, 1, 4, 2, 48, 16) with { ScoreHead = true }));
        var e = Assert.Throws<NotSupportedException>(() => HfExporter.Export(reward, dir.Sub("d"), TensorDType.F32));
        Assert.Contains("score head", e.Message);
        Assert.False(Directory.Exists(dir.Sub("d")));
    }
}
