using System.Text.Json;

namespace ChatForge.Import;

/// <summary>What tokenizer_config.json and generation_config.json add to tokenizer.json: the chat template and the end-of-sequence tokens.</summary>
internal sealed record TokenizerSettings(string? ChatTemplate, string? EosToken, IReadOnlyList<int> EosIds)
{
    public static TokenizerSettings Load(string folder)
    {
        string? template = null, eos = null;
        var eosIds = new List<int>();
        string configPath = Path.Combine(folder, HfTokenizer.TokenizerConfigFile);
        if (File.Exists(configPath))
        {
            using var doc = Parse(configPath);
            var root = doc.RootElement;
            if (root.TryGetProperty("chat_template", out var t))
                template = t.ValueKind switch
                {
                    JsonValueKind.String => t.GetString(),
                    // A list of named templates: the "default" one is the chat template.
                    JsonValueKind.Array => t.EnumerateArray().FirstOrDefault(x => x.TryGetProperty("name", out var n) && n.GetString() == "default") is { ValueKind: JsonValueKind.Object } d
                        ? d.GetProperty("template").GetString() : null,
                    _ => null,
                };
            if (root.TryGetProperty("eos_token", out var e))
                eos = e.ValueKind == JsonValueKind.String ? e.GetString() : e.ValueKind == JsonValueKind.Object && e.TryGetProperty("content", out var c) ? c.GetString() : null;
        }
        string generationPath = Path.Combine(folder, HfTokenizer.GenerationConfigFile);
        if (File.Exists(generationPath))
        {
            using var doc = Parse(generationPath);
            if (doc.RootElement.TryGetProperty("eos_token_id", out var ids))
            {
                if (ids.ValueKind == JsonValueKind.Number) eosIds.Add(ids.GetInt32());
                else if (ids.ValueKind == JsonValueKind.Array) eosIds.AddRange(ids.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32()));
            }
        }
        return new TokenizerSettings(template, eos, eosIds);
    }

    static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e); }
    }
}
