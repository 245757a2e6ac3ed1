using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Import;
using ChatForge.Import.Gguf;

namespace ChatForge.Cli;

/// <summary>
/// A model the user brings to an inference command: a .gguf file (whose quantised matrices are kept for
/// `--weights gguf`), a Hugging Face folder (config.json names `architectures`) or one of our model folders.
/// </summary>
internal static class ModelFiles
{
    public static bool IsGguf(string path) => GgufModel.IsGguf(path);

    public static (ParameterBuffer Parameters, FileBlocks? Blocks) Load(string path, string option = "--model")
    {
        if (IsGguf(path))
        {
            var (parameters, blocks) = GgufImporter.LoadWithBlocks(path);
            return (parameters, blocks);
        }
        string config = Path.Combine(path, "config.json");
        if (!File.Exists(config)) throw new FileNotFoundException($"{option} {path}: no config.json (expected a model folder, a Hugging Face folder or a .gguf file).", config);
        return (File.ReadAllText(config).Contains("\"architectures\"") ? HfImporter.Load(path).Parameters
            : ChatForge.Engine.Checkpoints.Checkpoint.LoadParameters(path), null);
    }

    /// <summary>The inference model of <paramref name="path"/> with its matmul weights in <paramref name="format"/>.</summary>
    public static InferenceModel Inference(string path, WeightFormat format, string option = "--model")
    {
        var (parameters, blocks) = Load(path, option);
        return new InferenceModel(parameters, format, blocks);
    }
}
