using System.Security.Cryptography;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;
using ChatForge.Import;
using ChatForge.Import.Gguf;
using ChatForge.Tokenizer;
using Microsoft.Extensions.Options;

namespace ChatForge.Server.Models;

/// <summary>
/// Loads the local model for the engine — one of our model folders (config.json + model.safetensors through Checkpoint,
/// shapes validated), a Hugging Face folder or a .gguf file (<see cref="ModelFolder.LoadWeights"/>, the same loader as the
/// CLI's `--model`) — with its tokenizer, and starts a continuous-batching Generator with MaxConcurrentGenerations slots.
/// </summary>
public sealed class EngineModelLoader(IOptions<ServerOptions> options, Func<string, IChatTokenizer> loadTokenizer) : ILocalModelLoader
{
    public EngineModelLoader(IOptions<ServerOptions> options) : this(options, DefaultTokenizer) { }

    public static IChatTokenizer DefaultTokenizer(string dir) => TokenizerLoader.Load(dir);

    public ModelBackend Load(string dir, string name)
    {
        string full = Path.GetFullPath(dir);
        // A .gguf file is served as it is (its tokenizer from its metadata; Weights = gguf keeps its quantised blocks).
        bool gguf = GgufModel.IsGguf(full);
        if (gguf ? !File.Exists(full) : !Directory.Exists(full)) throw new DirectoryNotFoundException($"no model folder or .gguf file at {full}");
        var tokenizer = gguf ? GgufModel.LoadTokenizer(full) : loadTokenizer(full);
        var format = WeightFormats.ParseFor(options.Value.Weights, full, "ChatForge:Weights");
        var (parameters, blocks) = ModelFolder.LoadWeights(full, "ChatForge:ModelDir", format);
        var config = parameters.Layout.Config;
        if (config.VocabSize < tokenizer.VocabSize)
            throw new InvalidDataException($"{(gguf ? full : Path.Combine(full, Checkpoint.ConfigFile))}: vocab_size {config.VocabSize} is smaller than the tokenizer's {tokenizer.VocabSize} tokens.");
        var model = new InferenceModel(parameters, format, blocks);
        var generator = new Generator(model, new GeneratorOptions
        {
            MaxConcurrent = Math.Max(1, options.Value.MaxConcurrentGenerations),
            KvCacheFormat = KvCache.ParseFormat(options.Value.KvCache, "ChatForge:KvCache"),
        });
        return new LocalModelBackend(generator, tokenizer, VersionOf(full), name, generator);
    }

    /// <summary>"folder-hash": the folder name and a hash of the weights file's size and first MiB, so every retrained model gets a new version.</summary>
    public static string VersionOf(string dir)
    {
        var file = new FileInfo(GgufModel.IsGguf(dir) ? dir : Path.Combine(dir, Checkpoint.ModelFile));
        using var stream = file.OpenRead();
        var head = new byte[Math.Min(1 << 20, file.Length)];
        stream.ReadExactly(head);
        var hash = SHA256.HashData([.. head, .. BitConverter.GetBytes(file.Length)]);
        return $"{Path.GetFileName(dir.TrimEnd('/'))}-{Convert.ToHexStringLower(hash)[..10]}";
    }
}
