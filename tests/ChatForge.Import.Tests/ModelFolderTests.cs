using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;

namespace ChatForge.Import.Tests;

/// <summary>HF folder → ChatForge model folder (loaded like our own checkpoints) → HF folder, with the tokenizer carried along.</summary>
public sealed class ModelFolderTests
{
    [Fact]
    public void ImportedFolderLoadsAsACheckpointAndExportsBack()
    {
        using var dir = new TempDir();
        string hf = dir.CopyOf("qwen2");
        foreach (var f in Directory.GetFiles(Fixture.Folder("tokenizer"), "tokenizer*.json")) File.Copy(f, Path.Combine(hf, Path.GetFileName(f)));

        ModelFolder.ImportHf(hf, dir.Sub("ours"), TensorDType.F32);
        var parameters = Checkpoint.LoadParameters(dir.Sub("ours"));
        var (tokens, expected) = Fixture.Expected("qwen2");
        Assert.True(Fixture.MaxAbsDiff(Fixture.Logits(parameters, tokens, WeightFormat.F32), expected) < 1e-4f);
        var tokenizer = Assert.IsType<HfTokenizer>(ModelFolder.LoadTokenizer(dir.Sub("ours")));
        Assert.Equal("chatml", tokenizer.TemplateName);

        Assert.Equal("Qwen2ForCausalLM", ModelFolder.ExportHf(dir.Sub("ours"), dir.Sub("back"), TensorDType.F32).Architecture);
        Assert.True(File.Exists(Path.Combine(dir.Sub("back"), "tokenizer.json")));
        var again = HfImporter.Load(dir.Sub("back"));
        Assert.Equal(parameters.Data, again.Parameters.Data);
    }

    [Fact]
    public void BrokenTokenizerFailsTheImportBeforeAnythingIsWritten()
    {
        using var dir = new TempDir();
        string hf = dir.CopyOf("qwen2");
        File.WriteAllText(Path.Combine(hf, "tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}");
        Assert.Throws<InvalidDataException>(() => ModelFolder.ImportHf(hf, dir.Sub("ours"), TensorDType.F32));
        Assert.False(Directory.Exists(dir.Sub("ours")));
    }
}
