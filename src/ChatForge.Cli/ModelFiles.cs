using ChatForge.Engine.Inference;
using ChatForge.Engine.Model;
using ChatForge.Import;
using ChatForge.Import.Gguf;

namespace ChatForge.Cli;

/// <summary>A model the user brings to an inference command (<see cref="ModelFolder.LoadWeights"/>: .gguf, Hugging Face or our folder).</summary>
internal static class ModelFiles
{
    public static bool IsGguf(string path) => GgufModel.IsGguf(path);

    public static (ParameterBuffer Parameters, FileBlocks? Blocks) Load(string path, WeightFormat format, string option = "--model") => ModelFolder.LoadWeights(path, option, format);

    /// <summary>The inference model of <paramref name="path"/> with its matmul weights in <paramref name="format"/>.</summary>
    public static InferenceModel Inference(string path, WeightFormat format, string option = "--model")
    {
        var (parameters, blocks) = Load(path, format, option);
        return new InferenceModel(parameters, format, blocks);
    }
}
