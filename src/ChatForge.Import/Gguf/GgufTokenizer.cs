using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChatForge.Import.Gguf;

/// <summary>
/// A GGUF file's tokenizer written out as tokenizer.json, tokenizer_config.json and generation_config.json,
/// so it loads through <see cref="HfTokenizer.Load"/> like any imported tokenizer: byte-level BPE
/// (tokenizer.ggml.model = "gpt2": tokens, merges, token types, the pre-tokenizer name) or SentencePiece
/// BPE ("llama": tokens, scores, token types; see <see cref="GgufSentencePiece"/>), with the chat template,
/// eos token and eos id.
/// </summary>
public static class GgufTokenizer
{
    const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Pre-tokenizer names (tokenizer.ggml.pre) whose regex is known here.</summary>
    static string Pattern(string pre, string path) => pre switch
    {
        "qwen2" => Qwen2Pattern,
        "llama-bpe" or "llama3" or "smollm" => Llama3Pattern,
        "gpt-2" or "default" or "gpt2" => HfTokenizer.Gpt2Pattern,
        _ => throw new NotSupportedException($"{path}: tokenizer.ggml.pre '{pre}' is not supported (supported: qwen2, llama-bpe, smollm, gpt-2, default)."),
    };

    public static void Write(GgufFile file, string folder)
    {
        string model = Get<string>(file, "tokenizer.ggml.model");
        var tokens = Get<object[]>(file, "tokenizer.ggml.tokens").Cast<string>().ToArray();
        var types = file.Metadata.TryGetValue("tokenizer.ggml.token_type", out var t) ? ((object[])t).Select(Convert.ToInt32).ToArray() : new int[tokens.Length];
        if (types.Length != tokens.Length) throw new InvalidDataException($"{file.Path}: tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens.");
        var json = model switch
        {
            "gpt2" => ByteLevelJson(file, tokens, types),
            "llama" => GgufSentencePiece.TokenizerJson(file, tokens, types),
            _ => throw new NotSupportedException($"{file.Path}: tokenizer.ggml.model '{model}' is not supported (supported: gpt2, i.e. byte-level BPE; llama, i.e. SentencePiece BPE with byte fallback)."),
        };
        var options = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, HfTokenizer.TokenizerFile), json.ToJsonString(options));
        var config = new JsonObject();
        if (file.Metadata.TryGetValue("tokenizer.chat_template", out var template)) config["chat_template"] = (string)template;
        int eos = file.Metadata.TryGetValue("tokenizer.ggml.eos_token_id", out var e) ? Convert.ToInt32(e) : -1;
        if (eos >= 0 && eos < tokens.Length) config["eos_token"] = tokens[eos];
        File.WriteAllText(Path.Combine(folder, HfTokenizer.TokenizerConfigFile), config.ToJsonString(options));
        if (eos >= 0)
            File.WriteAllText(Path.Combine(folder, HfTokenizer.GenerationConfigFile), new JsonObject { ["eos_token_id"] = eos }.ToJsonString(options));
    }

    static JsonObject ByteLevelJson(GgufFile file, string[] tokens, int[] types)
    {
        var merges = file.Metadata.TryGetValue("tokenizer.ggml.merges", out var m) ? ((object[])m).Cast<string>().ToArray() : [];
        if (merges.Length == 0) throw new InvalidDataException($"{file.Path}: tokenizer.ggml.merges is missing or empty; a byte-level BPE tokenizer needs them.");
        string pre = file.Metadata.TryGetValue("tokenizer.ggml.pre", out var p) ? (string)p : "default";

        var vocab = new JsonObject();
        var added = new JsonArray();
        for (int id = 0; id < tokens.Length; id++)
        {
            // Token types 3 (control) and 4 (user-defined) are added tokens; the rest are BPE vocabulary.
            if (types[id] is 3 or 4)
                added.Add(new JsonObject { ["id"] = id, ["content"] = tokens[id], ["special"] = types[id] == 3, ["normalized"] = false });
            else vocab[tokens[id]] = id;
        }
        return new JsonObject
        {
            ["version"] = "1.0", ["added_tokens"] = added, ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Pattern(pre, file.Path) }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
            },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray(merges.Select(x => (JsonNode)x).ToArray()) },
        };
    }

    static T Get<T>(GgufFile file, string key) =>
        file.Metadata.TryGetValue(key, out var v) && v is T typed ? typed : throw new InvalidDataException($"{file.Path}: metadata '{key}' is missing or has the wrong type.");
}
