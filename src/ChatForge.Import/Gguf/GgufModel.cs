using ChatForge.Tokenizer;

namespace ChatForge.Import.Gguf;

/// <summary>
/// A .gguf file served as it is (chat, generate, the server): its weights come from <see cref="GgufImporter.LoadWithBlocks"/>
/// and its tokenizer from the file's metadata, converted to tokenizer.json in a temporary folder and loaded like any
/// imported tokenizer.
/// </summary>
public static class GgufModel
{
    public static bool IsGguf(string path) => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);

    public static IChatTokenizer LoadTokenizer(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"GGUF file not found: {path}", path);
        string temp = Path.Combine(Path.GetTempPath(), "chatforge-gguf-tokenizer-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using (var file = GgufFile.Open(path))
            {
                if (!file.Metadata.ContainsKey("tokenizer.ggml.model"))
                    throw new InvalidDataException($"{path}: the file carries no tokenizer (metadata 'tokenizer.ggml.model' is missing); import it with `import gguf --tokenizer-from <hf folder>`.");
                GgufTokenizer.Write(file, temp);
            }
            return ModelFolder.LoadTokenizer(temp);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }
}
