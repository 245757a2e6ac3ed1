using System.Text.Json;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Import.Gguf;
using ChatForge.Tokenizer;

namespace ChatForge.Import;

/// <summary>
/// Imports a Hugging Face folder into a ChatForge model folder (our config.json + model.safetensors, which
/// <see cref="Checkpoint.LoadParameters"/> and the inference engine load like any checkpoint of ours, plus
/// the HF tokenizer files) and exports back. Also picks the right tokenizer for a model folder.
/// </summary>
public static class ModelFolder
{
    /// <summary>
    /// The weights of a model the user brings to inference (CLI `--model`, server `ChatForge:ModelDir`): a .gguf file
    /// (whose quantised matrices are kept as blocks for `--weights gguf`), a Hugging Face folder (config.json names
    /// `architectures`) or one of our model folders. <paramref name="option"/> names the setting in errors. A .gguf file served
    /// with <see cref="WeightFormat.Gguf"/> keeps its quantised matrices only as blocks; any other format dequantises them to fp32 first.
    /// </summary>
    public static (ParameterBuffer Parameters, FileBlocks? Blocks) LoadWeights(string path, string option, WeightFormat format)
    {
        if (GgufModel.IsGguf(path))
            return format == WeightFormat.Gguf ? GgufImporter.LoadWithBlocks(path) : (GgufImporter.Load(path), null);
        string config = Path.Combine(path, Checkpoint.ConfigFile);
        if (!File.Exists(config)) throw new FileNotFoundException($"{option} {path}: no config.json (expected a model folder, a Hugging Face folder or a .gguf file).", config);
        return (File.ReadAllText(config).Contains("\"architectures\"") ? HfImporter.Load(path).Parameters : Checkpoint.LoadParameters(path), null);
    }

    /// <summary>Tokenizer and generation files carried over unchanged between our folders and HF folders.</summary>
    public static readonly IReadOnlyList<string> TokenizerFiles =
        [HfTokenizer.TokenizerFile, HfTokenizer.TokenizerConfigFile, HfTokenizer.GenerationConfigFile, "special_tokens_map.json"];

    /// <summary>Reads the HF folder fully (config, weights, tokenizer) before writing anything, then writes the model folder.</summary>
    public static ImportedModel ImportHf(string hfFolder, string outFolder, TensorDType dtype, ImportOptions? options = null)
    {
        var model = HfImporter.Load(hfFolder, options);
        // Load the tokenizer first too: a broken tokenizer must fail the import, not the first chat.
        if (File.Exists(Path.Combine(hfFolder, HfTokenizer.TokenizerFile))) HfTokenizer.Load(hfFolder);
        Checkpoint.Save(outFolder, model.Parameters, dtype);
        CopyTokenizerFiles(hfFolder, outFolder);
        return model;
    }

    /// <summary>Writes a ChatForge model folder in its family's HF layout, with the tokenizer files it has.</summary>
    public static HfFamily ExportHf(string modelFolder, string hfFolder, TensorDType dtype)
    {
        var parameters = Checkpoint.LoadParameters(modelFolder);
        // Our own tokenizer (tokenizer.tiktoken + our tokenizer.json) is loaded before anything is written, then converted.
        var ours = File.Exists(Path.Combine(modelFolder, ChatTokenizer.RankFileName)) && !IsHfTokenizer(modelFolder) ? ChatTokenizer.Load(modelFolder) : null;
        var family = HfExporter.Export(parameters, hfFolder, dtype);
        if (ours is not null) TiktokenToHf.Write(ours, hfFolder);
        else CopyTokenizerFiles(modelFolder, hfFolder);
        return family;
    }

    /// <summary>The folder's tokenizer: a Hugging Face tokenizer.json (imported models) or ChatForge's own tiktoken files.</summary>
    public static IChatTokenizer LoadTokenizer(string folder) =>
        IsHfTokenizer(folder) ? HfTokenizer.Load(folder) : ChatTokenizer.Load(folder);

    /// <summary>HF's tokenizer.json has a "model" object; ours (same file name) has "pattern" and "special_tokens".</summary>
    public static bool IsHfTokenizer(string folder)
    {
        string path = Path.Combine(folder, HfTokenizer.TokenizerFile);
        if (!File.Exists(path)) return false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("model", out _);
        }
        catch (JsonException) { return false; }
    }

    static void CopyTokenizerFiles(string from, string to)
    {
        foreach (string name in TokenizerFiles)
        {
            string source = Path.Combine(from, name);
            if (File.Exists(source)) File.Copy(source, Path.Combine(to, name), overwrite: true);
        }
    }
}
