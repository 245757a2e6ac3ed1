using System.Text.Json;

namespace ChatForge.Import;

/// <summary>
/// What tokenizer_config.json and generation_config.json add to tokenizer.json: the chat template, the
/// end-of-sequence tokens, and the beginning-of-sequence token with whether it is added (add_bos_token).
/// </summary>
internal sealed record TokenizerSettings(string? ChatTemplate, string? EosToken, IReadOnlyList<int> EosIds, string? BosToken = null, bool AddBosToken = false)
{
    public static TokenizerSettings Load(string folder)
    {
        string? template = null, eos = null, bos = null;
        bool addBos = false;
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
            eos = TokenContent(root, "eos_token");
            bos = TokenContent(root, "bos_token");
            addBos = root.TryGetProperty("add_bos_token", out var a) && a.ValueKind == JsonValueKind.True;
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
        return new TokenizerSettings(template, eos, eosIds, bos, addBos);
    }

    /// <summary>Ids that end an answer: generation_config's eos ids, tokenizer_config's eos_token, and the template's end-of-turn tokens.</summary>
    public List<int> StopTokenIds(IReadOnlyDictionary<string, int> added, int vocabSize, IEnumerable<string> endOfTurnTokens)
    {
        var stops = new List<int>();
        void Stop(string? token) { if (token is not null && added.TryGetValue(token, out int id) && !stops.Contains(id)) stops.Add(id); }
        foreach (int id in EosIds) if (id >= 0 && id < vocabSize && !stops.Contains(id)) stops.Add(id);
        Stop(EosToken);
        foreach (string t in endOfTurnTokens) Stop(t);
        return stops;
    }

    /// <summary>A special token written as "&lt;s&gt;" or as {"content": "&lt;s&gt;", …}.</summary>
    static string? TokenContent(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var e) ? null
        : e.ValueKind == JsonValueKind.String ? e.GetString()
        : e.ValueKind == JsonValueKind.Object && e.TryGetProperty("content", out var c) ? c.GetString() : null;

    static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e); }
    }
}
