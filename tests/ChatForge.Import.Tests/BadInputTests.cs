using System.Text.Json.Nodes;
using ChatForge.Engine.Checkpoints;

namespace ChatForge.Import.Tests;

/// <summary>Damaged or unsupported model folders fail with an error naming the file, tensor or field, and load nothing.</summary>
public sealed class BadInputTests
{
    static void EditConfig(string folder, Action<JsonObject> edit)
    {
        string path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void UnsupportedArchitectureIsNamedWithTheSupportedOnes()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("llama");
        EditConfig(folder, c => c["architectures"] = new JsonArray("FalconForCausalLM"));
        var e = Assert.Throws<NotSupportedException>(() => HfImporter.Load(folder));
        Assert.Contains("FalconForCausalLM", e.Message);
        Assert.Contains("Qwen2ForCausalLM", e.Message);
        Assert.Contains("GPT2LMHeadModel", e.Message);
    }

    [Fact]
    public void UnsupportedRopeScalingAndActivationAreRefused()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("llama");
        EditConfig(folder, c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4 });
        var e = Assert.Throws<NotSupportedException>(() => HfImporter.Load(folder));
        Assert.Contains("yarn", e.Message);
        Assert.Contains("llama3", e.Message); // lists what is supported
        EditConfig(folder, c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "llama3", ["factor"] = 32, ["low_freq_factor"] = 4, ["high_freq_factor"] = 1 });
        Assert.Contains("low_freq_factor", Assert.Throws<InvalidDataException>(() => HfImporter.Load(folder)).Message);
        EditConfig(folder, c => { c.Remove("rope_scaling"); c["hidden_act"] = "gelu"; });
        Assert.Contains("hidden_act", Assert.Throws<NotSupportedException>(() => HfImporter.Load(folder)).Message);
    }

    [Fact]
    public void MissingShardIsNamed()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("llama-sharded");
        File.Delete(Path.Combine(folder, "model-00002-of-00003.safetensors"));
        var e = Assert.Throws<FileNotFoundException>(() => HfImporter.Load(folder));
        Assert.Contains("model-00002-of-00003.safetensors", e.Message);
    }

    [Fact]
    public void ShapeMismatchNamesTensorAndBothShapes()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("llama");
        EditConfig(folder, c => c["intermediate_size"] = 40);
        var e = Assert.Throws<InvalidDataException>(() => HfImporter.Load(folder));
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", e.Message);
        Assert.Contains("[48, 32]", e.Message);
        Assert.Contains("[40, 32]", e.Message);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("qwen2");
        EditConfig(folder, c => c["tie_word_embeddings"] = false);
        var e = Assert.Throws<InvalidDataException>(() => HfImporter.Load(folder));
        Assert.Contains("lm_head.weight", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void UnexpectedTensorsAreListed()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("llama");
        EditConfig(folder, c => c["num_hidden_layers"] = 1);
        var e = Assert.Throws<InvalidDataException>(() => HfImporter.Load(folder));
        Assert.Contains("model.layers.1.", e.Message);
    }

    [Fact]
    public void TruncatedSafetensorsIsRefused()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("gpt2");
        string path = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<InvalidDataException>(() => HfImporter.Load(folder));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void MissingConfigAndWeightsAreNamed()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("gpt2");
        File.Delete(Path.Combine(folder, "model.safetensors"));
        File.Delete(Path.Combine(folder, "expected.safetensors"));
        Assert.Contains("model.safetensors", Assert.Throws<FileNotFoundException>(() => HfImporter.Load(folder)).Message);
        File.Delete(Path.Combine(folder, "config.json"));
        Assert.Contains("config.json", Assert.Throws<FileNotFoundException>(() => HfImporter.Load(folder)).Message);
    }

    [Fact]
    public void BadConfigValueNamesTheKey()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("llama");
        EditConfig(folder, c => c["num_attention_heads"] = "four");
        Assert.Contains("num_attention_heads", Assert.Throws<InvalidDataException>(() => HfImporter.Load(folder)).Message);
        EditConfig(folder, c => c["num_attention_heads"] = 3);
        Assert.Contains("num_attention_heads", Assert.Throws<InvalidDataException>(() => HfImporter.Load(folder)).Message);
    }

    [Fact]
    public void Gpt2CheckpointsWithoutTheTransformerPrefixLoad()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("gpt2");
        string path = Path.Combine(folder, "model.safetensors");
        var tensors = new List<TensorToWrite>();
        using (var file = SafeTensorsFile.Open(path))
            foreach (var info in file.Tensors.Values)
            {
                var values = new float[info.ElementCount];
                file.ReadAsFloat32(info, values);
                tensors.Add(new TensorToWrite(info.Name.Replace("transformer.", ""), info.Shape, values, TensorDType.F32));
            }
        tensors.Add(new TensorToWrite("h.0.attn.bias", [1, 1, 4, 4], new float[16], TensorDType.F32)); // the causal-mask buffer old checkpoints carry
        File.Delete(path);
        using (var stream = File.Create(path)) SafeTensorsWriter.Write(stream, tensors);
        var model = HfImporter.Load(folder);
        var (tokens, expected) = Fixture.Expected("gpt2");
        Assert.True(Fixture.MaxAbsDiff(Fixture.Logits(model.Parameters, tokens, ChatForge.Engine.Inference.WeightFormat.F32), expected) < 1e-4f);
    }

    [Fact]
    public void MistralSlidingWindowCapsTheContext()
    {
        using var dir = new TempDir();
        string folder = dir.CopyOf("mistral");
        EditConfig(folder, c => c["sliding_window"] = 16);
        Assert.Equal(16, HfImporter.ReadConfig(folder).Config.ContextLength);
        Assert.Equal(8, HfImporter.ReadConfig(folder, new ImportOptions { MaxContext = 8 }).Config.ContextLength);
    }
}
