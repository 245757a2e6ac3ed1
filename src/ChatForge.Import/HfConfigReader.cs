using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChatForge.Import;

/// <summary>What an import may change about the model it reads.</summary>
public sealed record ImportOptions
{
    /// <summary>Caps max_position_embeddings for RoPE models (0 = keep the config's): 131072 positions of KV cache is rarely what a CPU needs.</summary>
    public int MaxContext { get; init; }
}

/// <summary>Typed reads from a Hugging Face config.json; every error names the file and the key.</summary>
public sealed class HfConfigReader
{
    public string Source { get; }
    public JsonObject Json { get; }

    public HfConfigReader(JsonObject json, string source) { Json = json; Source = source; }

    public static HfConfigReader Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Hugging Face config not found: {path}", path);
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e); }
        return node is JsonObject obj ? new HfConfigReader(obj, path) : throw new InvalidDataException($"{path}: expected a JSON object.");
    }

    /// <summary>"architectures"[0] (or, for configs that lack it, a family guessed from "model_type").</summary>
    public string Architecture()
    {
        if (Json["architectures"] is JsonArray { Count: > 0 } list && list[0] is JsonValue v && v.TryGetValue(out string? arch)) return arch;
        string? type = String("model_type", null);
        var family = HfFamily.All.FirstOrDefault(f => f.ModelType == type);
        return family?.Architecture ?? throw new InvalidDataException($"{Source}: no \"architectures\" entry and model_type '{type}' is not known (supported: {HfFamily.SupportedText}).");
    }

    public bool Has(string key) => Json[key] is not null;

    public int Int(string key, int? fallback = null)
    {
        var node = Json[key];
        if (node is null) return fallback ?? throw new InvalidDataException($"{Source}: \"{key}\" is missing.");
        try { return node.GetValue<int>(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            if (node is JsonValue jv && jv.TryGetValue(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue) return (int)d;
            throw new InvalidDataException($"{Source}: \"{key}\" must be an integer, got {node.ToJsonString()}.", e);
        }
    }

    public float Float(string key, float fallback)
    {
        var node = Json[key];
        if (node is null) return fallback;
        try { return (float)node.GetValue<double>(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{Source}: \"{key}\" must be a number, got {node.ToJsonString()}.", e);
        }
    }

    public bool Bool(string key, bool fallback)
    {
        var node = Json[key];
        if (node is null) return fallback;
        try { return node.GetValue<bool>(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{Source}: \"{key}\" must be true or false, got {node.ToJsonString()}.", e);
        }
    }

    public string? String(string key, string? fallback)
    {
        var node = Json[key];
        if (node is null) return fallback;
        return node is JsonValue v && v.TryGetValue(out string? s) ? s : throw new InvalidDataException($"{Source}: \"{key}\" must be a string, got {node.ToJsonString()}.");
    }

    /// <summary>Throws unless the key is absent or has the expected value: a setting our engine does not implement must not be ignored silently.</summary>
    public void Require(string key, string expected, string why)
    {
        string? actual = Json[key] is JsonValue v && v.TryGetValue(out string? s) ? s : Json[key]?.ToJsonString();
        if (actual is not null && actual != expected)
            throw new NotSupportedException($"{Source}: \"{key}\" is {actual}; only {expected} is supported ({why}).");
    }
}
